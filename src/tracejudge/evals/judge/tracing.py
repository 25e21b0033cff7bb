"""Every judge call is traced as an EVALUATOR span, so judges can be debugged like the app.

The span goes to the current tracejudge capture (the latest ``register``), and starts
from an **empty** parent context: it roots its own trace in the project instead of being
mixed into the app's trace, even when ``evaluate(...)`` runs inside an app span. What it
judged is recorded as attributes instead (``tracejudge.evaluation.target.trace_id`` /
``span_id``): the active span at call time, or an explicit :func:`evaluation_target` (for
scoring stored spans, where nothing is active).

While the judge request runs, the EVALUATOR span is the current span, so an instrumented
``openai`` client (``register(auto_instrument=True)``) records the judge's LLM call under
it. Tracing never raises into the evaluation: failures are logged and ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span as OTelSpan
from opentelemetry.trace import Status, StatusCode

from tracejudge import semconv
from tracejudge.capture._state import current
from tracejudge.capture._values import TEXT_MIME
from tracejudge.capture.span import message_attributes

if TYPE_CHECKING:
    from tracejudge.evals.judge.client import JudgeOutcome

__all__ = [
    "TARGET_SPAN_ID",
    "TARGET_TRACE_ID",
    "EvaluatorSpan",
    "current_target",
    "evaluation_target",
    "evaluator_span",
]

_log = logging.getLogger(__name__)

TARGET_TRACE_ID = "tracejudge.evaluation.target.trace_id"
TARGET_SPAN_ID = "tracejudge.evaluation.target.span_id"
EVALUATOR_KIND = "EVALUATOR"

_target: ContextVar[tuple[str, str] | None] = ContextVar("tracejudge_eval_target", default=None)


@contextmanager
def evaluation_target(trace_id: str, span_id: str) -> Iterator[None]:
    """Within the block, judge calls record ``(trace_id, span_id)`` as the judged span.

    For evaluators run over stored spans, where the judged span is not the active one::

        with evaluation_target(span.trace_id, span.span_id):
            result = evaluator.evaluate(inputs)
    """
    token = _target.set((trace_id, span_id))
    try:
        yield
    finally:
        _target.reset(token)


def current_target() -> tuple[str, str] | None:
    """The judged span: the explicit :func:`evaluation_target`, else the active span."""
    explicit = _target.get()
    if explicit is not None:
        return explicit
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


class EvaluatorSpan:
    """The EVALUATOR span of one judge call; :meth:`finish` records the outcome."""

    __slots__ = ("otel_span",)

    def __init__(self, otel_span: OTelSpan) -> None:
        self.otel_span = otel_span

    def finish(self, outcome: JudgeOutcome) -> None:
        """Raw verdict as output, the judge model, token counts, and ERROR status on failure."""
        try:
            attrs: dict[str, Any] = {semconv.LLM_MODEL_NAME: outcome.model}
            if outcome.raw is not None:
                attrs[semconv.OUTPUT_VALUE] = outcome.raw
                attrs[semconv.OUTPUT_MIME_TYPE] = TEXT_MIME
            if outcome.prompt_tokens is not None:
                attrs[semconv.LLM_TOKEN_COUNT_PROMPT] = outcome.prompt_tokens
            if outcome.completion_tokens is not None:
                attrs[semconv.LLM_TOKEN_COUNT_COMPLETION] = outcome.completion_tokens
            if outcome.prompt_tokens is not None or outcome.completion_tokens is not None:
                attrs[semconv.LLM_TOKEN_COUNT_TOTAL] = (outcome.prompt_tokens or 0) + (
                    outcome.completion_tokens or 0
                )
            attrs[semconv.TJ_EVALUATION_LATENCY_MS] = outcome.latency_ms
            if outcome.verdict is not None:
                attrs["tracejudge.evaluation.label"] = outcome.verdict.label
                attrs["tracejudge.evaluation.score"] = outcome.verdict.final_score
            if outcome.error is not None:
                attrs[semconv.TJ_EVALUATION_ERROR] = outcome.error
                self.otel_span.set_status(Status(StatusCode.ERROR, outcome.error))
            self.otel_span.set_attributes(attrs)
        except Exception:
            _log.warning("tracejudge: could not record the judge outcome", exc_info=True)


@contextmanager
def evaluator_span(
    evaluator: str,
    version: str,
    messages: Sequence[Mapping[str, Any]],
    model: str,
) -> Iterator[EvaluatorSpan]:
    """Start the EVALUATOR span of one judge call (a new trace), current within the block.

    ``messages`` are the rendered chat messages; the last one (the rendered prompt) is the
    span's ``input.value``. Without a registered capture the span is a no-op.
    """
    target = current_target()  # before our span becomes the active one
    cap = current()
    tracer = cap.tracer if cap is not None else trace.NoOpTracer()
    token: object | None = None
    try:
        attrs: dict[str, Any] = {
            semconv.OI_SPAN_KIND: EVALUATOR_KIND,
            semconv.INPUT_VALUE: str(messages[-1].get("content", "")) if messages else "",
            semconv.INPUT_MIME_TYPE: TEXT_MIME,
            semconv.LLM_MODEL_NAME: model,
            semconv.TJ_EVALUATOR: f"{evaluator}@{version}",
            **message_attributes(semconv.LLM_INPUT_MESSAGES, messages),
        }
        if target is not None:
            attrs[TARGET_TRACE_ID], attrs[TARGET_SPAN_ID] = target
        otel_span = tracer.start_span(
            f"judge {evaluator}", context=otel_context.Context(), attributes=attrs
        )
        # Only our span in the context: the judge's own calls must not inherit the app's
        # trace, session or user.
        token = otel_context.attach(trace.set_span_in_context(otel_span, otel_context.Context()))
    except Exception:
        _log.warning("tracejudge: could not start the judge's EVALUATOR span", exc_info=True)
        otel_span = trace.INVALID_SPAN
    try:
        yield EvaluatorSpan(otel_span)
    finally:
        if token is not None:
            try:
                otel_context.detach(token)  # type: ignore[arg-type]
            except Exception:
                _log.debug("tracejudge: could not detach the judge context", exc_info=True)
        try:
            otel_span.end()
        except Exception:
            _log.debug("tracejudge: could not end the judge span", exc_info=True)
