"""Span/Evaluation builders with fixed ids and a fixed clock, shared by the store tests."""

from __future__ import annotations

from typing import Any

from tracejudge.model import Evaluation, Span

__all__ = ["CLOCK_NS", "T0", "make_eval", "make_span", "sid", "tid"]

T0 = 1_700_000_000_000_000_000  # span start times are offsets from this
CLOCK_NS = 1_800_000_000_000_000_000  # what the store's injected clock returns


def tid(n: int) -> str:
    """Trace id number ``n`` as 32 hex."""
    return f"{n:032x}"


def sid(n: int) -> str:
    """Span id number ``n`` as 16 hex."""
    return f"{n:016x}"


def make_span(
    trace: int,
    span: int,
    parent: int | None = None,
    *,
    start_ms: int = 0,
    dur_ms: int = 10,
    project: str = "shop",
    **overrides: Any,
) -> Span:
    """A small LLM-ish span; ``start_ms``/``dur_ms`` are relative to T0."""
    fields: dict[str, Any] = {
        "trace_id": tid(trace),
        "span_id": sid(span),
        "parent_span_id": None if parent is None else sid(parent),
        "project": project,
        "name": f"span-{span}",
        "kind": "CHAIN",
        "status": "OK",
        "status_message": None,
        "start_ns": T0 + start_ms * 1_000_000,
        "end_ns": T0 + (start_ms + dur_ms) * 1_000_000,
        "attributes": {"input.value": f"in {span}", "n": span, "nested": {"b": 1, "a": [1, 2.5]}},
        "events": [{"name": "e", "time_ns": T0, "attributes": {"k": "v"}}],
        "resource": {"service.name": "svc"},
        "scope": {"name": "test", "version": "1"},
        "input": f"in {span}",
        "output": f"out {span}",
    }
    fields.update(overrides)
    return Span(**fields)


def make_eval(
    n: int, trace: int, span: int, *, created_ms: int = 0, **overrides: Any
) -> Evaluation:
    fields: dict[str, Any] = {
        "id": f"eval-{n}",
        "trace_id": tid(trace),
        "span_id": sid(span),
        "project": "shop",
        "name": "correctness",
        "score": 1.0,
        "label": "pass",
        "created_at_ns": T0 + created_ms * 1_000_000,
    }
    fields.update(overrides)
    return Evaluation(**fields)
