"""Canonical records: what every layer of tracejudge passes around.

A :class:`Span` is built once by ingest from whatever convention the app used
(OpenInference or OTel GenAI) and is never changed afterwards: the store rejects
updates, and evaluations and annotations are separate records pointing at a span.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

__all__ = [
    "Annotation",
    "AnnotationAction",
    "Category",
    "Evaluation",
    "EvaluationSource",
    "Label",
    "ReviewQueue",
    "Span",
    "SpanKind",
    "StatusCode",
    "Trace",
    "TraceSummary",
    "WriteResult",
    "canonical_bytes",
    "canonical_frames",
    "canonical_scalars",
    "compute_content_hash",
]


class SpanKind(StrEnum):
    """What a span did, in OpenInference's vocabulary (GenAI operations map onto it)."""

    AGENT = "AGENT"
    CHAIN = "CHAIN"
    LLM = "LLM"
    RETRIEVER = "RETRIEVER"
    TOOL = "TOOL"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"
    PROMPT = "PROMPT"
    UNKNOWN = "UNKNOWN"


class StatusCode(StrEnum):
    """OpenTelemetry span status."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


class EvaluationSource(StrEnum):
    """Where an evaluation record came from."""

    INLINE = "inline"  # evaluate(..., trace_eval=True) or an in-line feedback attribute/event
    TASK = "task"  # an eval task over stored spans
    IMPORT = "import"  # posted through the API or imported from a file


@dataclass(frozen=True, slots=True)
class Span:
    """One span, normalized; immutable once built.

    ``attributes``, ``events``, ``links``, ``resource`` and ``scope`` hold everything
    exactly as sent (flat dotted attribute keys). The derived fields (``input`` ...
    ``tags``) are computed from them by ingest for fast filtering and display.
    """

    trace_id: str  # 32 lowercase hex
    span_id: str  # 16 lowercase hex
    parent_span_id: str | None
    project: str
    name: str
    kind: str  # a SpanKind value (derived from the attributes)
    status: str  # a StatusCode value
    status_message: str | None
    start_ns: int
    end_ns: int
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # {name, time_ns, attributes}
    links: list[dict[str, Any]] = field(default_factory=list)  # {trace_id, span_id, attributes}
    resource: dict[str, Any] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)  # {name, version}
    otel_kind: str = "INTERNAL"  # OTLP SpanKind as sent: INTERNAL, SERVER, CLIENT, ...
    # Derived, for filtering and display.
    input: str | None = None
    output: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    session_id: str | None = None
    user_id: str | None = None
    tags: tuple[str, ...] = ()
    # Bookkeeping, set by the store.
    content_hash: str = ""
    ingest_seq: int | None = None
    ingested_at_ns: int | None = None

    @property
    def latency_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def is_root(self) -> bool:
        return self.parent_span_id is None


_SORT_KEYS = orjson.OPT_SORT_KEYS


def canonical_scalars(span: Span) -> bytes:
    """The raw scalar fields of a span as one JSON array (the first frame of the hash input)."""
    return orjson.dumps(
        [
            span.trace_id,
            span.span_id,
            span.parent_span_id,
            span.project,
            span.name,
            span.otel_kind,
            span.status,
            span.status_message,
            span.start_ns,
            span.end_ns,
        ]
    )


def canonical_frames(
    scalars: bytes,
    attributes: bytes,
    events: bytes,
    links: bytes,
    resource: bytes,
    scope: bytes,
) -> bytes:
    """Join the frames ``content_hash`` is taken over, one per line.

    Every frame is orjson output (sorted keys for the JSON fields), which never holds a
    raw newline, so the join is unambiguous. The store passes the very column texts it
    writes, so hashing costs no second serialization and ``verify`` can rehash the stored
    columns as they are: a change to any of them changes the hash.
    """
    return b"\n".join((scalars, attributes, events, links, resource, scope))


def canonical_bytes(span: Span) -> bytes:
    """The bytes ``content_hash`` is taken over: the raw span as sent, keys sorted.

    Framed (see :func:`canonical_frames`): the scalar fields as a JSON array, then
    ``attributes``, ``events``, ``links``, ``resource`` and ``scope`` as JSON with sorted
    keys. Derived fields are left out on purpose: they are a pure function of these, so a
    better normalizer in a later release does not invalidate stored hashes.
    """
    return canonical_frames(
        canonical_scalars(span),
        orjson.dumps(span.attributes, option=_SORT_KEYS),
        orjson.dumps(span.events, option=_SORT_KEYS),
        orjson.dumps(span.links, option=_SORT_KEYS),
        orjson.dumps(span.resource, option=_SORT_KEYS),
        orjson.dumps(span.scope, option=_SORT_KEYS),
    )


def compute_content_hash(span: Span) -> str:
    """sha256 (hex) of :func:`canonical_bytes`."""
    return hashlib.sha256(canonical_bytes(span)).hexdigest()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A score attached to a span. Never edits the span; a new record each time."""

    id: str
    trace_id: str
    span_id: str
    project: str
    name: str
    score: float | None = None
    label: str | None = None
    explanation: str | None = None
    evaluator: str | None = None  # "name@version"
    source: str = EvaluationSource.INLINE
    task_id: str | None = None
    judge_model: str | None = None
    latency_ms: float | None = None
    error: str | None = None
    created_at_ns: int = 0


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One row of the trace list: what a reviewer scans before opening a trace."""

    trace_id: str
    project: str
    root_span_id: str | None  # None while the root has not arrived
    name: str | None
    input_preview: str | None
    output_preview: str | None
    start_ns: int
    end_ns: int
    status: str
    span_count: int
    prompt_tokens: int
    completion_tokens: int

    @property
    def latency_ms(self) -> float:
        return (self.end_ns - self.start_ns) / 1e6

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Trace:
    """All stored spans of one trace, as a tree.

    Spans whose parent has not arrived (yet) are *orphans*: they are listed among
    :attr:`roots` so nothing is hidden while a trace is still arriving.
    """

    trace_id: str
    spans: tuple[Span, ...]

    def __post_init__(self) -> None:
        by_id = {s.span_id: s for s in self.spans}
        children: dict[str | None, list[Span]] = {}
        for s in sorted(self.spans, key=lambda s: (s.start_ns, s.span_id)):
            parent = s.parent_span_id if s.parent_span_id in by_id else None
            children.setdefault(parent, []).append(s)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_children", children)

    @property
    def roots(self) -> list[Span]:
        """Top-level spans in start order: the true root first if any, then orphans."""
        tops: list[Span] = self._children.get(None, [])  # type: ignore[attr-defined]
        return sorted(tops, key=lambda s: (not s.is_root, s.start_ns, s.span_id))

    @property
    def root(self) -> Span | None:
        """The span without a parent, or None while it has not arrived."""
        return next((s for s in self.spans if s.is_root), None)

    @property
    def orphans(self) -> list[Span]:
        """Spans whose parent is not (yet) in the store."""
        return [s for s in self.roots if not s.is_root]

    def span(self, span_id: str) -> Span:
        return self._by_id[span_id]  # type: ignore[attr-defined,no-any-return]

    def children(self, span: Span | str) -> list[Span]:
        """Direct children in start order."""
        span_id = span if isinstance(span, str) else span.span_id
        return list(self._children.get(span_id, []))  # type: ignore[attr-defined]

    def walk(self) -> Iterator[tuple[int, Span]]:
        """Depth-first over the tree in start order, yielding ``(depth, span)``."""
        stack = [(0, s) for s in reversed(self.roots)]
        while stack:
            depth, s = stack.pop()
            yield depth, s
            stack.extend((depth + 1, c) for c in reversed(self.children(s)))

    def __len__(self) -> int:
        return len(self.spans)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one write did. Re-sent identical spans are no-ops, not errors."""

    inserted: int = 0
    duplicates: int = 0
    conflicts: tuple[tuple[str, str], ...] = ()  # (trace_id, span_id) re-sent with other content
    evaluations: int = 0


class Label(StrEnum):
    """A reviewer's verdict on a trace or span."""

    PASS = "pass"
    FAIL = "fail"
    DEFER = "defer"  # looked at it, cannot decide yet


class AnnotationAction(StrEnum):
    """Why an annotation record was written, so a key's history reads as it happened."""

    SET = "set"  # the reviewer labelled, wrote a note or changed tags
    UNDO = "undo"  # restores the state before the previous change
    ASSIGN = "assign"  # failure modes assigned from the taxonomy page (author may differ)


@dataclass(frozen=True, slots=True)
class Annotation:
    """One human review record: append-only, the latest per (annotator, trace, span) wins.

    A record holds the whole state (label, note, failure modes), not a delta, so the
    current state is one row and undo is a new record restoring an older state.
    """

    id: str
    project: str
    trace_id: str
    span_id: str | None  # None: the label is about the whole trace
    annotator: str
    label: str | None  # a Label value, or None (note or tags only / cleared)
    note: str | None  # open coding: the first upstream failure, in the reviewer's words
    failure_modes: tuple[str, ...] = ()  # Category ids (axial coding)
    action: str = AnnotationAction.SET
    supersedes: str | None = None  # the record whose state an undo of this one restores
    queue_id: str | None = None
    author: str | None = None  # who wrote the record when not the annotator (ASSIGN)
    created_at_ns: int = 0


@dataclass(frozen=True, slots=True)
class ReviewQueue:
    """A fixed, ordered list of traces to review, shared by any number of reviewers."""

    id: str
    project: str
    name: str
    source: str  # the span filter it was built from, or "sample"
    items: tuple[str, ...]  # trace ids, in review order
    seed: int | None = None  # random seed of a sample, so the draw can be repeated
    created_by: str | None = None
    created_at_ns: int = 0


@dataclass(frozen=True, slots=True)
class Category:
    """A failure mode of a project's taxonomy (axial coding)."""

    id: str
    project: str
    name: str
    definition: str
    created_by: str | None = None
    created_at_ns: int = 0
