"""Ingest: OTLP payloads (protobuf or JSON) -> canonical spans and inline evaluations -> store.

``decode_request`` (otlp.py) turns bytes into :class:`RawSpan`; ``normalize``
(normalize.py) turns one raw span into a :class:`~tracejudge.model.Span` plus its inline
:class:`~tracejudge.model.Evaluation` records; ``resolve_project`` (project.py) picks the
project; pipeline.py glues them to a store with all-or-nothing semantics.
"""

from __future__ import annotations

from tracejudge.ingest.normalize import evaluation_id, message_text, normalize
from tracejudge.ingest.otlp import (
    DEFAULT_LIMITS,
    DecodeLimits,
    decode_json,
    decode_protobuf,
    decode_request,
    decompress,
    payload_format,
)
from tracejudge.ingest.project import DEFAULT_PROJECT, resolve_project
from tracejudge.ingest.raw import RawSpan

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PROJECT",
    "DecodeLimits",
    "RawSpan",
    "decode_json",
    "decode_protobuf",
    "decode_request",
    "decompress",
    "evaluation_id",
    "message_text",
    "normalize",
    "payload_format",
    "resolve_project",
]
