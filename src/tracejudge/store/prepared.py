"""The pure half of a store write: validate records and turn them into insert rows.

:func:`prepare_write` does all the CPU work of :meth:`SQLiteStore.write
<tracejudge.store.sqlite.SQLiteStore.write>` that needs no database: it checks every
span and evaluation, serializes the JSON columns (sorted keys) and computes each span's
``content_hash`` from those very texts (:func:`tracejudge.model.canonical_frames`), so
nothing is serialized twice. The result, a :class:`PreparedWrite`, is plain tuples and
strings: cheap to pickle, so worker processes can prepare batches while one writer does
only the SQL (:meth:`SQLiteStore.write_prepared`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tracejudge.errors import StoreError
from tracejudge.model import (
    Evaluation,
    Span,
    StatusCode,
    canonical_frames,
    canonical_scalars,
)
from tracejudge.store.schema import EVALUATION_COLUMNS, SPAN_COLUMNS

__all__ = [
    "HASH_AT",
    "PREVIEW_CHARS",
    "ROW_COLUMNS",
    "PreparedWrite",
    "merge_prepared",
    "prepare_normalized",
    "prepare_write",
    "trace_deltas",
]

PREVIEW_CHARS = 200  # input/output previews in the trace list
# A prepared span row: SPAN_COLUMNS without ingest_seq (SQLite assigns it) and without
# ingested_at_ns (the writer stamps it at commit time).
ROW_COLUMNS: tuple[str, ...] = SPAN_COLUMNS[1:-1]
_EVAL_INSERT_COLUMNS = EVALUATION_COLUMNS[1:]  # all but seq
_TRACE_ID = re.compile(r"[0-9a-f]{32}").fullmatch
_SPAN_ID = re.compile(r"[0-9a-f]{16}").fullmatch
_STATUSES = frozenset(StatusCode)
_ERROR = StatusCode.ERROR.value
_OPTIONAL_STR_FIELDS = (
    "status_message", "input", "output", "model", "provider", "session_id", "user_id",
)  # fmt: skip
_dumps = orjson.dumps
_SORT_KEYS = orjson.OPT_SORT_KEYS
_EMPTY_LIST = b"[]"
_sha256 = hashlib.sha256

# Row positions used by trace_deltas and the writer.
_I_TRACE, _I_SPAN, _I_PARENT, _I_PROJECT, _I_NAME = 0, 1, 2, 3, 4
_I_STATUS, _I_START, _I_END = 7, 9, 10
_I_INPUT, _I_OUTPUT = ROW_COLUMNS.index("input"), ROW_COLUMNS.index("output")
_I_PROMPT = ROW_COLUMNS.index("prompt_tokens")
_I_COMPLETION = ROW_COLUMNS.index("completion_tokens")
HASH_AT = ROW_COLUMNS.index("content_hash")


@dataclass(slots=True)
class PreparedWrite:
    """Validated, serialized records ready for one insert transaction.

    ``span_rows`` are in :data:`ROW_COLUMNS` order; ``eval_rows`` in evaluation insert
    order; ``deltas`` maps each trace id to its summary contribution (see
    :func:`trace_deltas`). Only built by :func:`prepare_write` and :func:`merge_prepared`.
    """

    span_rows: list[tuple[Any, ...]] = field(default_factory=list)
    eval_rows: list[tuple[Any, ...]] = field(default_factory=list)
    deltas: dict[str, list[Any]] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Spans plus evaluations."""
        return len(self.span_rows) + len(self.eval_rows)

    def span_keys(self) -> list[tuple[str, str]]:
        """(trace_id, span_id) of every span row, in order."""
        return [(r[_I_TRACE], r[_I_SPAN]) for r in self.span_rows]


def _preview(text: str | None) -> str | None:
    """First PREVIEW_CHARS characters, with an ellipsis when something was cut."""
    if text is None or len(text) <= PREVIEW_CHARS:
        return text
    return text[:PREVIEW_CHARS] + "…"


def _span_problem(span: Span) -> str | None:
    """What is wrong with a span's scalar fields, or None. (JSON fields: see _span_row.)"""
    if not (isinstance(span.trace_id, str) and _TRACE_ID(span.trace_id)):
        return "trace_id must be 32 lowercase hex characters"
    if not (isinstance(span.span_id, str) and _SPAN_ID(span.span_id)):
        return "span_id must be 16 lowercase hex characters"
    parent = span.parent_span_id
    if parent is not None and not (isinstance(parent, str) and _SPAN_ID(parent)):
        return "parent_span_id must be None or 16 lowercase hex characters"
    if not (isinstance(span.project, str) and span.project):
        return "project must be a non-empty string"
    if not (isinstance(span.name, str) and isinstance(span.kind, str)):
        return "name and kind must be strings"
    if not isinstance(span.otel_kind, str):
        return "otel_kind must be a string"
    if span.status not in _STATUSES:
        return f"status must be one of {sorted(_STATUSES)}, got {span.status!r}"
    # type() rather than isinstance(): bool is an int subclass and is rejected too.
    for name in ("start_ns", "end_ns"):
        if type(getattr(span, name)) is not int:
            return f"{name} must be an int, got {type(getattr(span, name)).__name__}"
    for name in ("prompt_tokens", "completion_tokens"):
        value = getattr(span, name)
        if value is not None and type(value) is not int:
            return f"{name} must be an int or None, got {type(value).__name__}"
    for name in _OPTIONAL_STR_FIELDS:
        value = getattr(span, name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string or None, got {type(value).__name__}"
    if not isinstance(span.content_hash, str):
        return "content_hash must be a string"
    return None


class _SharedJson:
    """Sorted-key JSON of dicts shared by many spans of a batch, serialized once each.

    Keyed by ``id()``: every cached object is also held here, so no id is reused
    while the cache lives (one :func:`prepare_write` call).
    """

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[int, tuple[object, bytes]] = {}

    def dumps(self, value: object) -> bytes:
        hit = self._cache.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        data = _dumps(value, option=_SORT_KEYS)
        self._cache[id(value)] = (value, data)
        return data


def _span_row(index: int, span: Span, shared: _SharedJson, check: bool) -> tuple[Any, ...]:
    """Validate one span (its scalar fields only if ``check``) and turn it into a row
    (:data:`ROW_COLUMNS` order).

    Raises StoreError naming the span's position and ids and what is wrong.
    """
    if check:
        if type(span) is not Span and not isinstance(span, Span):
            raise StoreError(
                f"spans[{index}]: expected a tracejudge.model.Span, got {type(span).__name__}"
            )
        problem = _span_problem(span)
    else:
        problem = None
    field_name = ""
    try:
        if problem is None:
            # Kept inline (not a loop over names): this runs once per span on the hot path.
            field_name = "attributes"
            attributes = _dumps(span.attributes, option=_SORT_KEYS)
            field_name = "events"
            events = _dumps(span.events, option=_SORT_KEYS) if span.events else _EMPTY_LIST
            field_name = "links"
            links = _dumps(span.links, option=_SORT_KEYS) if span.links else _EMPTY_LIST
            field_name = "resource"
            resource = shared.dumps(span.resource)
            field_name = "scope"
            scope = shared.dumps(span.scope)
            field_name = "tags"
            tags = _dumps(span.tags).decode() if span.tags else "[]"
            field_name = "span"
            content_hash = span.content_hash or (
                _sha256(
                    canonical_frames(
                        canonical_scalars(span), attributes, events, links, resource, scope
                    )
                ).hexdigest()
            )
    except (TypeError, orjson.JSONEncodeError) as e:
        problem = f"{field_name} is not JSON-serializable: {e}"
    if problem is not None:
        where = f"spans[{index}] (trace {span.trace_id!r}, span {span.span_id!r})"
        raise StoreError(f"{where}: {problem}")
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.project,
        span.name,
        span.kind,
        span.otel_kind,
        span.status,
        span.status_message,
        span.start_ns,
        span.end_ns,
        attributes.decode(),
        events.decode(),
        links.decode(),
        resource.decode(),
        scope.decode(),
        span.input,
        span.output,
        span.model,
        span.provider,
        span.prompt_tokens,
        span.completion_tokens,
        span.session_id,
        span.user_id,
        tags,
        content_hash,
    )


def _evaluation_row(index: int, ev: Evaluation) -> tuple[Any, ...]:
    """Validate one evaluation and turn it into an insert row."""
    where = f"evaluations[{index}]"
    if not isinstance(ev, Evaluation):
        raise StoreError(
            f"{where}: expected a tracejudge.model.Evaluation, got {type(ev).__name__}"
        )
    where = f"evaluations[{index}] (id {ev.id!r})"
    for name in ("id", "project", "name", "source"):
        if not (isinstance(getattr(ev, name), str) and getattr(ev, name)):
            raise StoreError(f"{where}: {name} must be a non-empty string")
    if not (isinstance(ev.trace_id, str) and _TRACE_ID(ev.trace_id)):
        raise StoreError(f"{where}: trace_id must be 32 lowercase hex characters")
    if not (isinstance(ev.span_id, str) and _SPAN_ID(ev.span_id)):
        raise StoreError(f"{where}: span_id must be 16 lowercase hex characters")
    for name in ("score", "latency_ms"):
        value = getattr(ev, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise StoreError(f"{where}: {name} must be a number or None")
    if type(ev.created_at_ns) is not int:  # bool is an int subclass; reject it too
        raise StoreError(
            f"{where}: created_at_ns must be an int, got {type(ev.created_at_ns).__name__}"
        )
    return tuple(getattr(ev, name) for name in _EVAL_INSERT_COLUMNS)


def trace_deltas(rows: Sequence[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Per-trace summary contributions of span ``rows``, keyed by trace id.

    Each value: [project, start_ns, end_ns, name, input_preview, output_preview,
    root_span_id, span_count, error_count, prompt_tokens, completion_tokens] -- the
    parameter order of the store's trace update after the project.
    """
    acc: dict[str, list[Any]] = {}
    for r in rows:
        d = acc.get(r[_I_TRACE])
        if d is None:
            d = acc[r[_I_TRACE]] = [r[_I_PROJECT], r[_I_START], r[_I_END], None, None, None, None]
            d += [0, 0, 0, 0]
        else:
            if r[_I_START] < d[1]:
                d[1] = r[_I_START]
            if r[_I_END] > d[2]:
                d[2] = r[_I_END]
        if r[_I_PARENT] is None and d[6] is None:
            d[3:7] = [r[_I_NAME], _preview(r[_I_INPUT]), _preview(r[_I_OUTPUT]), r[_I_SPAN]]
        d[7] += 1
        d[8] += r[_I_STATUS] == _ERROR
        d[9] += r[_I_PROMPT] or 0
        d[10] += r[_I_COMPLETION] or 0
    return acc


def _merge_deltas(into: dict[str, list[Any]], other: dict[str, list[Any]]) -> None:
    """Add ``other``'s per-trace contributions to ``into`` (``other`` arrived later)."""
    for trace_id, o in other.items():
        d = into.get(trace_id)
        if d is None:
            into[trace_id] = list(o)
            continue
        d[1] = min(d[1], o[1])
        d[2] = max(d[2], o[2])
        if d[6] is None and o[6] is not None:
            d[3:7] = o[3:7]
        for i in range(7, 11):
            d[i] += o[i]


def prepare_write(spans: Sequence[Span], evaluations: Sequence[Evaluation] = ()) -> PreparedWrite:
    """Validate and serialize records for :meth:`SQLiteStore.write_prepared`.

    Pure (no I/O, no clock) and picklable both ways, so it can run in a worker process.

    Raises:
        StoreError: naming the first bad record (its position, ids and what is wrong).
    """
    return _prepare(spans, evaluations, check=True)


def prepare_normalized(
    spans: Sequence[Span], evaluations: Sequence[Evaluation] = ()
) -> PreparedWrite:
    """:func:`prepare_write` for spans fresh from :func:`tracejudge.ingest.normalize.normalize`
    (the ingest paths only), without re-checking their scalar fields.

    ``normalize`` copies the raw fields from a :class:`~tracejudge.ingest.raw.RawSpan`,
    whose producers (the OTLP decoders, :func:`tracejudge.capture.convert.to_raw_span`)
    guarantee ids as lowercase hex of the right length, strings as ``str`` and times as
    ``int``, and it derives the other columns with coercions that only yield ``str``,
    ``int``, ``None`` or a tuple of ``str``. Checking all that again cost ~2.5 us a span,
    a fifth of preparing it. JSON fields are serialized exactly as by
    :func:`prepare_write`, so a value orjson cannot encode is still a StoreError, and
    evaluations are checked as always. Records from anywhere else go through
    :func:`prepare_write` (``Store.write`` does).

    Raises:
        StoreError: a JSON field cannot be serialized, or a bad evaluation.
    """
    return _prepare(spans, evaluations, check=False)


def _prepare(
    spans: Sequence[Span], evaluations: Sequence[Evaluation], *, check: bool
) -> PreparedWrite:
    shared = _SharedJson()
    span_rows = [_span_row(i, s, shared, check) for i, s in enumerate(spans)]
    eval_rows = [_evaluation_row(i, e) for i, e in enumerate(evaluations)]
    return PreparedWrite(span_rows, eval_rows, trace_deltas(span_rows))


def merge_prepared(items: Sequence[PreparedWrite]) -> PreparedWrite:
    """Several prepared writes as one (for one transaction), in order."""
    if len(items) == 1:
        return items[0]
    merged = PreparedWrite()
    for item in items:
        merged.span_rows.extend(item.span_rows)
        merged.eval_rows.extend(item.eval_rows)
        _merge_deltas(merged.deltas, item.deltas)
    return merged
