"""Evaluating one batch of an eval task: build its evaluators, run them, record results.

The runner (:mod:`.runner`) decides *which* (span, evaluator) pairs a batch evaluates;
this module does the evaluating, with no database writes of its own:

* :func:`bind_evaluators` builds a task version's evaluators once, LLM judges sharing one
  :class:`~tracejudge.evals.judge.Judge` from the task's settings;
* :func:`prepare_items` resolves each pair's inputs (loading the trace only for
  evaluators that read ``trace.*``) and runs code evaluators inline; :func:`judge_items`
  runs the LLM judges concurrently on asyncio (the task's ``concurrency``); neither raises;
* :func:`settle` turns the results into evaluation records (``source="task"``,
  deterministic ids) and run-log rows: ``scored``, ``failed`` (no verdict, no retry left,
  an error evaluation written) or ``retrying`` (a judge call failed; retried later with
  exponential back-off, no evaluation yet).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tracejudge.evals.base import EvalResult, Evaluator
from tracejudge.evals.judge import Judge, LLMJudgeEvaluator
from tracejudge.evals.registry import get_evaluator
from tracejudge.evals.scoring import (
    arun_evaluator,
    evaluation_record,
    judged,
    resolve_inputs,
    run_evaluator,
)
from tracejudge.evals.tasks.spec import EvalTask, EvaluatorSpec, JudgeSettings, Outcome, TaskSpec
from tracejudge.model import Evaluation, EvaluationSource, Span, Trace
from tracejudge.store.base import Store
from tracejudge.store.tasks import OutcomeRow, task_evaluation_id

__all__ = [
    "BoundEvaluator",
    "JudgeUsage",
    "WorkItem",
    "bind_evaluators",
    "default_judge_factory",
    "judge_items",
    "prepare_items",
    "settle",
]

_NS = 1_000_000_000


def default_judge_factory(settings: JudgeSettings) -> Judge:
    """A :class:`Judge` for a task's settings; the key is read from ``api_key_env``.

    One retry per call: the runner's own retries (with back-off across batches) handle
    longer outages.
    """
    api_key = os.environ.get(settings.api_key_env) if settings.api_key_env else None
    return Judge(
        model=settings.model,
        base_url=settings.base_url,
        api_key=api_key,
        timeout_s=settings.timeout_s,
        concurrency=settings.concurrency,
        max_retries=1,
    )


@dataclass(frozen=True, slots=True)
class BoundEvaluator:
    """One evaluator of a task, built and ready."""

    spec: EvaluatorSpec
    evaluator: Evaluator
    is_judge: bool
    needs_trace: bool  # reads a trace.* path (or the task targets whole traces)


def _needs_trace(evaluator: Evaluator, spec: EvaluatorSpec, target: str) -> bool:
    paths = {**dict(evaluator.inputs), **spec.inputs}.values()
    return target == "trace" or any(p == "trace" or p.startswith("trace.") for p in paths)


def bind_evaluators(
    spec: TaskSpec, judge_factory: Callable[[JudgeSettings], Judge]
) -> tuple[BoundEvaluator, ...]:
    """The task's evaluators, LLM judges sharing one judge built from ``spec.judge``
    (only if the task has any)."""
    judge: Judge | None = None
    bound: list[BoundEvaluator] = []
    for ev_spec in spec.evaluators:
        evaluator = get_evaluator(ev_spec.name)
        is_judge = isinstance(evaluator, LLMJudgeEvaluator)
        if isinstance(evaluator, LLMJudgeEvaluator):
            judge = judge or judge_factory(spec.judge)
            evaluator = LLMJudgeEvaluator(evaluator.template, judge)
        needs_trace = _needs_trace(evaluator, ev_spec, spec.target)
        bound.append(BoundEvaluator(ev_spec, evaluator, is_judge, needs_trace))
    return tuple(bound)


@dataclass(slots=True)
class WorkItem:
    """One (span, evaluator) a batch evaluates, and what came of it."""

    span: Span
    bound: BoundEvaluator
    ingest_seq: int
    attempts_before: int
    result: EvalResult | None = None
    latency_ms: float | None = None
    input_error: str | None = None

    @property
    def judge_called(self) -> bool:
        """A judge call was attempted (not a missing input or a code evaluator)."""
        result = self.result
        return (
            self.bound.is_judge
            and result is not None
            and result.metadata.get("attempts") is not None
        )

    @property
    def judge_error(self) -> str | None:
        """Why the judge call failed; None if it gave a verdict or was not called."""
        return self.result.error if self.judge_called and self.result is not None else None


@dataclass(frozen=True, slots=True)
class JudgeUsage:
    """Judge tokens and calls (every attempt that was sent) of a batch."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0


def prepare_items(
    items: list[WorkItem], store: Store, project: str
) -> list[tuple[WorkItem, dict[str, Any]]]:
    """Resolve each item's inputs and run code evaluators inline; return the LLM-judge
    items with their inputs, still to be judged (:func:`judge_items`). Never raises."""
    traces: dict[str, Trace] = {}
    pending: list[tuple[WorkItem, dict[str, Any]]] = []
    for item in items:
        trace = None
        if item.bound.needs_trace:
            trace = traces.get(item.span.trace_id)
            if trace is None:
                spans = store.trace_spans(item.span.trace_id, project)
                trace = traces[item.span.trace_id] = Trace(item.span.trace_id, tuple(spans))
        try:
            inputs = resolve_inputs(item.bound.evaluator, item.span, trace, item.bound.spec.inputs)
        except Exception as exc:  # PathError, ConfigurationError, or a bug: never raise
            item.input_error = f"input: {exc}"
            continue
        if item.bound.is_judge:
            pending.append((item, inputs))
        else:
            item.result, item.latency_ms = run_evaluator(item.bound.evaluator, inputs)
    return pending


async def judge_items(
    pending: list[tuple[WorkItem, dict[str, Any]]], slots: asyncio.Semaphore
) -> None:
    """Judge every pending item, at most ``slots`` at once. ``slots`` may be shared by
    several groups of one task, so the next group's calls start the moment a slot frees
    up instead of after this group's slowest call. Never raises."""

    async def one(item: WorkItem, inputs: Mapping[str, Any]) -> None:
        async with slots:
            with judged(item.span):
                item.result, item.latency_ms = await arun_evaluator(item.bound.evaluator, inputs)

    await asyncio.gather(*(one(item, inputs) for item, inputs in pending))


def settle(
    task: EvalTask,
    items: list[WorkItem],
    *,
    now: int,
    clock: Callable[[], int],
    retry_backoff_s: float,
    max_backoff_s: float,
) -> tuple[list[OutcomeRow], list[Evaluation], JudgeUsage]:
    """Run-log rows and evaluation records for evaluated items, and the judge usage.

    Only a judge call that failed is retried (``retry_backoff_s * 2**(attempts - 1)``,
    at most ``max_backoff_s``, until the task's ``max_attempts``); a missing input or a
    code evaluator's error would fail the same way again, so it fails at once.
    """
    spec = task.spec
    rows: list[OutcomeRow] = []
    evaluations: list[Evaluation] = []
    prompt = completion = calls = 0
    for item in items:
        span, name = item.span, item.bound.spec.name
        attempts = item.attempts_before + 1
        result = item.result
        if result is not None and result.metadata:
            meta = result.metadata
            prompt += int(meta.get("prompt_tokens") or 0)
            completion += int(meta.get("completion_tokens") or 0)
            calls += int(meta.get("attempts") or 0)
        error = item.input_error or (result.error if result is not None else "no result")
        retryable = item.input_error is None and item.judge_error is not None
        if error is not None and retryable and attempts < spec.max_attempts:
            wait = min(retry_backoff_s * 2 ** (attempts - 1), max_backoff_s)
            rows.append(
                OutcomeRow(
                    span.span_id, span.trace_id, name, item.ingest_seq, Outcome.RETRYING,
                    attempts, error, now + int(wait * _NS),
                )
            )  # fmt: skip
            continue
        record_result = result if result is not None else EvalResult(error=error)
        if item.input_error is not None:
            record_result = EvalResult(error=item.input_error)
        eval_id = task_evaluation_id(task.id, item.ingest_seq, span.span_id, name)
        evaluations.append(
            evaluation_record(
                record_result,
                span,
                item.bound.evaluator,
                latency_ms=item.latency_ms,
                source=EvaluationSource.TASK,
                task_id=task.id,
                evaluation_id=eval_id,
                created_at_ns=clock(),
            )
        )
        outcome = Outcome.FAILED if error is not None else Outcome.SCORED
        rows.append(
            OutcomeRow(
                span.span_id, span.trace_id, name, item.ingest_seq, outcome, attempts,
                error, None, eval_id,
            )
        )  # fmt: skip
    return rows, evaluations, JudgeUsage(prompt, completion, calls)
