"""Scoring one span: resolve an evaluator's inputs on it, run it, record the Evaluation.

The pieces are separate so in-line evaluation and eval tasks reuse them:
:func:`resolve_inputs` (attribute paths -> input values), :func:`run_evaluator` /
:func:`arun_evaluator` (timed, never raising), :func:`evaluation_record` (the record) and
:func:`score_span` (all of it against a store, for ``tracejudge eval run``).
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from tracejudge.errors import ConfigurationError, PathError, SpanNotFound
from tracejudge.evals.base import EvalResult, Evaluator
from tracejudge.evals.decorator import error_result
from tracejudge.model import Evaluation, EvaluationSource, Span, Trace
from tracejudge.query.paths import compile_path
from tracejudge.store.base import Store

__all__ = [
    "arun_evaluator",
    "as_evaluator",
    "evaluation_record",
    "evaluator_id",
    "judged",
    "resolve_inputs",
    "run_evaluator",
    "score_span",
]


def as_evaluator(evaluator: Evaluator | str | Any, *, judge: Any = None) -> Evaluator:
    """An evaluator object as is, a judge ``Template`` run by ``judge``, or a name looked
    up in the registry."""
    if isinstance(evaluator, str):
        from tracejudge.evals.registry import get_evaluator

        return get_evaluator(evaluator, judge=judge)
    from tracejudge.evals.judge import LLMJudgeEvaluator, Template

    if isinstance(evaluator, Template):
        return LLMJudgeEvaluator(evaluator, judge)
    if not isinstance(evaluator, Evaluator):
        raise ConfigurationError(f"evaluator: expected an Evaluator or a name, got {evaluator!r}")
    return evaluator


def evaluator_id(evaluator: Evaluator) -> str:
    """``name@version``, as recorded on every evaluation."""
    return f"{evaluator.name}@{evaluator.version}"


def resolve_inputs(
    evaluator: Evaluator,
    span: Span,
    trace: Trace | None = None,
    mapping: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Each input's value on ``span``: its path from ``mapping``, else the default.

    A default path that does not resolve (or resolves to None) leaves the input out (the
    evaluator reports missing required inputs); a path given in ``mapping`` must resolve.

    Raises:
        ConfigurationError: ``mapping`` names an input the evaluator does not read.
        PathError: a ``mapping`` path is malformed or does not resolve.
    """
    mapping = mapping or {}
    if unknown := sorted(set(mapping) - set(evaluator.inputs)):
        raise ConfigurationError(
            f"mapping: {evaluator.name} has no input(s) {', '.join(unknown)}; "
            f"its inputs: {', '.join(evaluator.inputs)}"
        )
    values: dict[str, Any] = {}
    for name, default in evaluator.inputs.items():
        path = mapping.get(name)
        if path is not None:
            values[name] = compile_path(path)(span, trace)
            continue
        try:
            value = compile_path(default)(span, trace)
        except PathError:
            continue
        if value is not None:
            values[name] = value
    return values


def judged(span: Span) -> AbstractContextManager[Any]:
    """Within the block, judge calls record ``span`` as the span they judged.

    Needed when scoring stored spans (nothing is active); a no-op unless the LLM judge is
    loaded, so code evaluators never import it.
    """
    tracing = sys.modules.get("tracejudge.evals.judge.tracing")
    if tracing is None:
        return nullcontext()
    target: AbstractContextManager[Any] = tracing.evaluation_target(span.trace_id, span.span_id)
    return target


def run_evaluator(evaluator: Evaluator, inputs: Mapping[str, Any]) -> tuple[EvalResult, float]:
    """``(result, latency_ms)``; an evaluator that raises anyway becomes an error result."""
    start = time.perf_counter()
    try:
        result = evaluator.evaluate(inputs)
    except Exception as exc:
        result = error_result(exc)
    return result, (time.perf_counter() - start) * 1000


async def arun_evaluator(
    evaluator: Evaluator, inputs: Mapping[str, Any]
) -> tuple[EvalResult, float]:
    """:func:`run_evaluator` for asyncio apps."""
    start = time.perf_counter()
    try:
        result = await evaluator.aevaluate(inputs)
    except Exception as exc:
        result = error_result(exc)
    return result, (time.perf_counter() - start) * 1000


def evaluation_record(
    result: EvalResult,
    span: Span,
    evaluator: Evaluator,
    *,
    latency_ms: float | None,
    name: str | None = None,
    source: str = EvaluationSource.IMPORT,
    task_id: str | None = None,
    evaluation_id: str | None = None,
    created_at_ns: int | None = None,
) -> Evaluation:
    """The :class:`Evaluation` of ``result`` on ``span`` (new random id unless given).

    ``judge_model`` comes from ``result.metadata["judge_model"]`` when the evaluator set it.
    """
    judge_model = result.metadata.get("judge_model") if result.metadata else None
    return Evaluation(
        id=evaluation_id or str(uuid.uuid4()),
        trace_id=span.trace_id,
        span_id=span.span_id,
        project=span.project,
        name=name or evaluator.name,
        score=result.score,
        label=result.label,
        explanation=result.explanation,
        evaluator=evaluator_id(evaluator),
        source=str(source),
        task_id=task_id,
        judge_model=str(judge_model) if judge_model is not None else None,
        latency_ms=latency_ms,
        error=result.error,
        created_at_ns=created_at_ns if created_at_ns is not None else time.time_ns(),
    )


def score_span(
    store: Store,
    span_id: str,
    evaluator: Evaluator | str,
    *,
    mapping: Mapping[str, str] | None = None,
    source: str = EvaluationSource.IMPORT,
    name: str | None = None,
    project: str | None = None,
    judge: Any = None,
    task_id: str | None = None,
    clock: Callable[[], int] = time.time_ns,
) -> Evaluation:
    """Score a stored span and write the Evaluation (``store.write([], [evaluation])``).

    Example::

        ev = score_span(store, "a1b2c3d4e5f60718", "tool_call_valid")
        ev = score_span(store, span_id, "groundedness", mapping={"context": "trace.documents"})

    Inputs are resolved on the span and its stored trace. An evaluator failure is recorded
    as an evaluation with ``error`` set (and returned), not raised.

    Raises:
        SpanNotFound: no such span (in ``project``).
        ConfigurationError: unknown evaluator name or mapping input.
        PathError: a ``mapping`` path does not resolve; nothing is written.
    """
    resolved = as_evaluator(evaluator, judge=judge)
    span = store.span(span_id, project)
    if span is None:
        where = f" in project {project!r}" if project else ""
        raise SpanNotFound(f"no span {span_id!r}{where}")
    trace = Trace(span.trace_id, tuple(store.trace_spans(span.trace_id, span.project)))
    inputs = resolve_inputs(resolved, span, trace, mapping)
    with judged(span):
        result, latency_ms = run_evaluator(resolved, inputs)
    record = evaluation_record(
        result,
        span,
        resolved,
        latency_ms=latency_ms,
        name=name,
        source=source,
        task_id=task_id,
        created_at_ns=clock(),
    )
    store.write([], [record])
    return record
