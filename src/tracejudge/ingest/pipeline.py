"""Bytes in, committed spans out: decode, normalize, then one ``store.write``.

Everything is decoded and normalized before the store is touched, so a payload with one
bad span writes nothing, and the single ``write`` is one transaction, so a returned
:class:`IngestResult` means the spans are durable.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tracejudge.errors import DecodeError
from tracejudge.ingest.normalize import normalize
from tracejudge.ingest.otlp import DEFAULT_LIMITS, DecodeLimits, decode_request, decompress
from tracejudge.ingest.project import resolve_project
from tracejudge.ingest.raw import RawSpan
from tracejudge.model import Evaluation, Span, WriteResult
from tracejudge.store.base import Store
from tracejudge.store.prepared import prepare_normalized

__all__ = [
    "IngestResult",
    "decode_and_normalize",
    "ingest_file",
    "ingest_payload",
    "normalize_spans",
    "write_normalized",
]

# JSON Lines files from this size on are decoded on the ingest worker processes.
_PARALLEL_MIN_BYTES = 1 << 20

_FILE_TYPES = {
    ".pb": ("application/x-protobuf", None),
    ".pb.gz": ("application/x-protobuf", "gzip"),
    ".json": ("application/json", None),
    ".json.gz": ("application/json", "gzip"),
    ".jsonl": ("application/json", None),
    ".jsonl.gz": ("application/json", "gzip"),
}


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What one payload did: spans decoded, and what the store made of them."""

    spans: int = 0  # decoded from the payload
    inserted: int = 0
    duplicates: int = 0
    conflicts: tuple[tuple[str, str], ...] = ()  # (trace_id, span_id) kept at first version
    evaluations: int = 0  # inline evaluations newly stored
    projects: tuple[str, ...] = ()  # projects the spans went to, sorted

    @classmethod
    def from_write(cls, spans: Sequence[Span], write: WriteResult) -> IngestResult:
        return cls(
            spans=len(spans),
            inserted=write.inserted,
            duplicates=write.duplicates,
            conflicts=write.conflicts,
            evaluations=write.evaluations,
            projects=tuple(sorted({s.project for s in spans})),
        )


def normalize_spans(
    raws: Iterable[RawSpan], project: str | None = None
) -> tuple[list[Span], list[Evaluation]]:
    """Normalize decoded spans, resolving the project once per resource."""
    spans: list[Span] = []
    evaluations: list[Evaluation] = []
    projects: dict[int, str] = {}  # decoders share one resource dict per ResourceSpans
    for raw in raws:
        key = id(raw.resource)
        resolved = projects.get(key)
        if resolved is None:
            resolved = projects[key] = resolve_project(project, raw.resource)
        span, evals = normalize(raw, resolved)
        spans.append(span)
        if evals:
            evaluations.extend(evals)
    return spans, evaluations


def decode_and_normalize(
    body: bytes,
    *,
    content_type: str,
    content_encoding: str | None = None,
    project: str | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> tuple[list[Span], list[Evaluation]]:
    """Pure part of ingest: request body -> canonical spans and inline evaluations.

    Raises:
        DecodeError: see :func:`tracejudge.ingest.otlp.decode_request`.
    """
    return normalize_spans(decode_request(body, content_type, content_encoding, limits), project)


def write_normalized(
    store: Store, spans: Sequence[Span], evaluations: Sequence[Evaluation] = ()
) -> WriteResult:
    """``store.write`` for records fresh from :func:`~tracejudge.ingest.normalize.normalize`.

    A store that takes prepared rows (``SQLiteStore``) gets them from
    :func:`~tracejudge.store.prepared.prepare_normalized`, which skips re-checking what
    normalization guarantees; any other store validates in ``write`` as usual.
    """
    write_prepared = getattr(store, "write_prepared", None)
    if write_prepared is None:
        return store.write(spans, evaluations)
    result: WriteResult = write_prepared(prepare_normalized(spans, evaluations))
    return result


def _write(store: Store, spans: list[Span], evaluations: list[Evaluation]) -> IngestResult:
    if not spans and not evaluations:
        return IngestResult()
    return IngestResult.from_write(spans, write_normalized(store, spans, evaluations))


def ingest_payload(
    store: Store,
    body: bytes,
    *,
    content_type: str,
    content_encoding: str | None = None,
    project: str | None = None,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> IngestResult:
    """Decode one OTLP request body and store it in one transaction.

    Example::

        result = ingest_payload(store, body, content_type="application/x-protobuf")

    Parameters:
        project: overrides the project named by the resource (see ``resolve_project``).
        limits: size limits; exceeding one is a DecodeError.

    Returns once the spans are committed. Raises DecodeError (nothing written) for a bad
    payload, and whatever the store raises for a failed write (nothing written either).
    """
    spans, evaluations = decode_and_normalize(
        body,
        content_type=content_type,
        content_encoding=content_encoding,
        project=project,
        limits=limits,
    )
    return _write(store, spans, evaluations)


def _file_type(path: Path) -> tuple[str, str | None]:
    name = path.name.lower()
    for suffix in sorted(_FILE_TYPES, key=len, reverse=True):
        if name.endswith(suffix):
            return _FILE_TYPES[suffix]
    raise DecodeError(
        f"{path}: unsupported file type (expected .pb, .json or .jsonl, optionally .gz)"
    )


def ingest_file(
    store: Store,
    path: str | os.PathLike[str],
    project: str | None = None,
    *,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> IngestResult:
    """Ingest an OTLP file: ``.pb``, ``.json`` or ``.jsonl`` (one request per line), or ``.gz``.

    A JSON file holding one request per line (what the OpenTelemetry Collector's file
    exporter writes) is accepted too. The whole file is decoded before anything is
    written.

    Raises:
        DecodeError: unknown extension or bad content (the message names the line for
            JSON Lines).
        OSError: the file cannot be read.
    """
    path = Path(path)
    content_type, encoding = _file_type(path)
    body = path.read_bytes()
    if content_type == "application/x-protobuf":
        return ingest_payload(
            store,
            body,
            content_type=content_type,
            content_encoding=encoding,
            project=project,
            limits=limits,
        )
    text = decompress(body, encoding, max_bytes=limits.max_decompressed_bytes)
    try:
        spans, evaluations = decode_and_normalize(
            text, content_type=content_type, project=project, limits=limits
        )
    except DecodeError:
        if sum(1 for line in text.splitlines() if line.strip()) < 2:
            raise
        lines = [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
        if len(text) >= _PARALLEL_MIN_BYTES and hasattr(store, "write_prepared"):
            from tracejudge.ingest.parallel import prepare_lines

            return prepare_lines(store, lines, content_type=content_type, project=project,
                                 limits=limits)  # fmt: skip
        spans, evaluations = [], []
        for number, line in lines:
            try:
                s, e = decode_and_normalize(
                    line, content_type=content_type, project=project, limits=limits
                )
            except DecodeError as exc:
                raise DecodeError(f"line {number}: {exc}") from None
            spans.extend(s)
            evaluations.extend(e)
            if len(spans) > limits.max_spans:
                raise DecodeError(
                    f"body: more than the limit of {limits.max_spans} spans"
                ) from None
    return _write(store, spans, evaluations)
