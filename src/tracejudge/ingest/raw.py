"""``RawSpan``: a span as it arrived, before normalization.

Both entry points produce it: the OTLP decoder (protobuf or JSON from the wire or a file)
and the in-process exporter (an SDK ``ReadableSpan``). Normalization then has one input
shape, so both paths give byte-identical canonical spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RawSpan"]


@dataclass(slots=True)
class RawSpan:
    """Wire-level span fields; ids already lowercase hex, values already plain JSON types.

    Producers (the OTLP decoders, :func:`tracejudge.capture.convert.to_raw_span`) promise
    exactly the annotated types below, ids of the right length: the ingest write path
    (:func:`tracejudge.store.prepared.prepare_normalized`) relies on it.
    Attribute values are str, bool, int, float, or lists/dicts of those (OTLP ``bytes``
    values become base64 strings, ``kvlist`` becomes a dict).
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    otel_kind: str  # "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER", "UNSPECIFIED"
    status_code: str  # "UNSET", "OK", "ERROR"
    status_message: str | None
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # {name, time_ns, attributes}
    links: list[dict[str, Any]] = field(default_factory=list)  # {trace_id, span_id, attributes}
    resource: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)  # {name, version}
