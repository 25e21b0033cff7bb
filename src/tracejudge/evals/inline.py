"""In-line evaluation: score inside the app, and attach the result to the active span.

``evaluate(evaluator, inputs)`` runs an evaluator where the app is running; with
``trace_eval=True`` (default) the result is added to the active OpenTelemetry span as a
``gen_ai.evaluation.result`` event (the OTel GenAI convention) which ingest turns into an
Evaluation record on that span -- no extra write path. With ``inputs=None`` the inputs are
read from the active span's own attributes and its trace (attribute paths; see
:mod:`tracejudge.query.paths`), open and recently ended spans of the trace being kept in
memory by :mod:`tracejudge.capture.recent`.

Nothing here raises into the app for an evaluation failure: a failing evaluator or judge
gives ``EvalResult(error=...)`` and the event records the error. Only a programming error
-- an unknown evaluator name -- raises ConfigurationError.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import Span as OTelSpan

from tracejudge import semconv as sc
from tracejudge.evals.base import EvalResult, Evaluator
from tracejudge.evals.scoring import (
    arun_evaluator,
    as_evaluator,
    evaluator_id,
    resolve_inputs,
    run_evaluator,
)

__all__ = ["aevaluate", "evaluate", "event_attributes"]

_log = logging.getLogger(__name__)


def _active_span() -> OTelSpan | None:
    """The current span if it is recording, else None."""
    span = trace.get_current_span()
    return span if span.is_recording() else None


def _live_inputs(evaluator: Evaluator, span: OTelSpan | None) -> dict[str, Any] | EvalResult:
    """Inputs from the active span (and its in-memory trace), or an error result."""
    if span is None:
        return EvalResult(error="inputs=None needs an active (recording) span to read from")
    if not isinstance(span, ReadableSpan):
        return EvalResult(error=f"cannot read attributes of a {type(span).__name__}")
    from tracejudge.capture.recent import live_trace

    try:
        record, view = live_trace(span)
        if not any(p.startswith("trace.") for p in evaluator.inputs.values()):
            view = None
        return resolve_inputs(evaluator, record, view)
    except Exception as exc:  # a bug here must not reach the app
        return EvalResult(error=f"could not read inputs from the active span: {exc}")


def event_attributes(
    result: EvalResult, evaluator: Evaluator, name: str | None, latency_ms: float
) -> dict[str, Any]:
    """The ``gen_ai.evaluation.result`` event attributes of one result (None values left out)."""
    judge_model = result.metadata.get("judge_model") if result.metadata else None
    values: dict[str, Any] = {
        sc.GEN_AI_EVALUATION_NAME: name or evaluator.name,
        sc.GEN_AI_EVALUATION_SCORE_VALUE: result.score,
        sc.GEN_AI_EVALUATION_SCORE_LABEL: result.label,
        sc.GEN_AI_EVALUATION_EXPLANATION: result.explanation,
        sc.TJ_EVALUATOR: evaluator_id(evaluator),
        sc.TJ_EVALUATION_ERROR: result.error,
        sc.TJ_EVALUATION_JUDGE_MODEL: str(judge_model) if judge_model is not None else None,
        sc.TJ_EVALUATION_LATENCY_MS: round(latency_ms, 3),
    }
    return {k: v for k, v in values.items() if v is not None}


def _attach(
    span: OTelSpan | None,
    result: EvalResult,
    evaluator: Evaluator,
    name: str | None,
    latency_ms: float,
) -> None:
    if span is None:
        _log.debug("tracejudge: no active span; evaluation %r not attached", evaluator.name)
        return
    try:
        span.add_event(
            sc.GEN_AI_EVALUATION_RESULT, event_attributes(result, evaluator, name, latency_ms)
        )
    except Exception:
        _log.warning("tracejudge: could not attach an evaluation to the span", exc_info=True)


def _prepare(
    evaluator_or_name: Evaluator | str, inputs: Mapping[str, Any] | None, judge: Any
) -> tuple[Evaluator, OTelSpan | None, dict[str, Any] | EvalResult]:
    """The evaluator, the active span, and the inputs (or the error result instead)."""
    evaluator = as_evaluator(evaluator_or_name, judge=judge)
    span = _active_span()
    values = dict(inputs) if inputs is not None else _live_inputs(evaluator, span)
    return evaluator, span, values


def evaluate(
    evaluator_or_name: Evaluator | str,
    inputs: Mapping[str, Any] | None = None,
    *,
    judge: Any = None,
    name: str | None = None,
    trace_eval: bool = True,
) -> EvalResult:
    """Run an evaluator now and (by default) attach its result to the active span.

    Example::

        with tracejudge.span("answer", kind="CHAIN") as s:
            s.set_output(text)
            tracejudge.evaluate("refusal")                       # reads the span's output
            tracejudge.evaluate(contains("refund"), {"output": text}, name="mentions_refund")

    Parameters:
        evaluator_or_name: an :class:`Evaluator` or a name for
            :func:`~tracejudge.evals.registry.get_evaluator` (code check or judge template).
        inputs: input values by name; None reads the evaluator's default paths on the
            active span and its trace.
        judge: judge client for judge templates given by name.
        name: evaluation name (default: the evaluator's name).
        trace_eval: attach the result as a ``gen_ai.evaluation.result`` event to the active
            span. Without an active span the result is only returned (logged at debug).

    Blocks for as long as the evaluator runs (an LLM judge: a model call). Never raises for
    a failing evaluation: the result carries ``error``.

    Raises:
        ConfigurationError: unknown evaluator name.
    """
    evaluator, span, values = _prepare(evaluator_or_name, inputs, judge)
    if isinstance(values, EvalResult):
        result, latency_ms = values, 0.0
    else:
        result, latency_ms = run_evaluator(evaluator, values)
    if trace_eval:
        _attach(span, result, evaluator, name, latency_ms)
    return result


async def aevaluate(
    evaluator_or_name: Evaluator | str,
    inputs: Mapping[str, Any] | None = None,
    *,
    judge: Any = None,
    name: str | None = None,
    trace_eval: bool = True,
) -> EvalResult:
    """:func:`evaluate` for asyncio apps: awaits the evaluator's ``aevaluate``.

    The active span is the one current in the calling task (contextvars follow ``await``).
    """
    evaluator, span, values = _prepare(evaluator_or_name, inputs, judge)
    if isinstance(values, EvalResult):
        result, latency_ms = values, 0.0
    else:
        result, latency_ms = await arun_evaluator(evaluator, values)
    if trace_eval:
        _attach(span, result, evaluator, name, latency_ms)
    return result
