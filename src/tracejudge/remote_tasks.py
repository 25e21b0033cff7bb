"""Eval tasks on the REST API: their JSON shape, and the task calls of a remote client.

The JSON of a task, its status and its run-log rows is defined here once
(``*_to_json`` / ``*_from_json``): the server's ``/api/v1/tasks`` routes send it and
:class:`RemoteTasks` reads it back into the same records an embedded
:class:`~tracejudge.store.tasks.SQLiteTaskStore` returns, so code written against one
works against the other.
"""

from __future__ import annotations

from typing import Any

from tracejudge.evals.tasks import (
    EvalTask,
    EvaluatorSummary,
    SpanOutcome,
    TaskSpec,
    TaskStatus,
)

__all__ = [
    "outcome_from_json",
    "outcome_to_json",
    "spec_to_json",
    "status_from_json",
    "status_to_json",
    "task_from_json",
    "task_to_json",
]


def spec_to_json(spec: TaskSpec) -> dict[str, Any]:
    """A task definition as the REST API sends it: every field, evaluators as
    ``{name, map}`` (the shape ``TaskSpec.from_dict`` and ``POST /tasks`` accept)."""
    judge = spec.judge
    return {
        "name": spec.name,
        "project": spec.project,
        "evaluators": [{"name": e.name, "map": dict(e.inputs)} for e in spec.evaluators],
        "filter": spec.filter,
        "target": spec.target,
        "trace_idle_s": spec.trace_idle_s,
        "mode": spec.mode,
        "start_ns": spec.start_ns,
        "end_ns": spec.end_ns,
        "sample": spec.sample,
        "max_spans": spec.max_spans,
        "rate_per_s": spec.rate_per_s,
        "concurrency": spec.concurrency,
        "max_attempts": spec.max_attempts,
        "judge": {
            "model": judge.model,
            "base_url": judge.base_url,
            "api_key_env": judge.api_key_env,
            "concurrency": judge.concurrency,
            "timeout_s": judge.timeout_s,
        },
    }


def _spec_from_json(data: dict[str, Any]) -> TaskSpec:
    """The inverse of :func:`spec_to_json` (through ``TaskSpec.from_dict``, which validates)."""
    fields = {k: v for k, v in data.items() if v is not None}
    for ns_key, key in (("start_ns", "start"), ("end_ns", "end")):
        if ns_key in fields:
            fields[key] = fields.pop(ns_key)
    return TaskSpec.from_dict(fields)


def task_to_json(task: EvalTask) -> dict[str, Any]:
    """A stored task: id, version, state, times and its definition under ``spec``."""
    return {
        "id": task.id,
        "version": task.version,
        "state": task.state,
        "created_at_ns": task.created_at_ns,
        "updated_at_ns": task.updated_at_ns,
        "spec": spec_to_json(task.spec),
    }


def task_from_json(data: dict[str, Any]) -> EvalTask:
    """The inverse of :func:`task_to_json`."""
    return EvalTask(
        id=data["id"],
        version=data["version"],
        spec=_spec_from_json(data["spec"]),
        state=data["state"],
        created_at_ns=data["created_at_ns"],
        updated_at_ns=data["updated_at_ns"],
    )


def _summary_to_json(s: EvaluatorSummary) -> dict[str, Any]:
    return {
        "name": s.name,
        "scored": s.scored,
        "passed": s.passed,
        "failed": s.failed,
        "errors": s.errors,
        "pass_rate": s.pass_rate,
    }


def status_to_json(status: TaskStatus) -> dict[str, Any]:
    """A task with its run-log figures: counts per outcome, per-evaluator pass rates,
    judge usage, progress and lag."""
    return {
        "task": task_to_json(status.task),
        "counts": dict(status.counts),
        "evaluators": [_summary_to_json(s) for s in status.evaluators],
        "judge_prompt_tokens": status.judge_prompt_tokens,
        "judge_completion_tokens": status.judge_completion_tokens,
        "judge_calls": status.judge_calls,
        "last_error": status.last_error,
        "cursor": status.cursor,
        "total": status.total,
        "considered": status.considered,
        "lag_s": status.lag_s,
        "progress": status.progress,
    }


def status_from_json(data: dict[str, Any]) -> TaskStatus:
    """The inverse of :func:`status_to_json` (``progress`` is recomputed by the record)."""
    return TaskStatus(
        task=task_from_json(data["task"]),
        counts=dict(data["counts"]),
        evaluators=tuple(
            EvaluatorSummary(
                name=s["name"],
                scored=s["scored"],
                passed=s["passed"],
                failed=s["failed"],
                errors=s["errors"],
                pass_rate=s["pass_rate"],
            )
            for s in data["evaluators"]
        ),
        judge_prompt_tokens=data["judge_prompt_tokens"],
        judge_completion_tokens=data["judge_completion_tokens"],
        judge_calls=data["judge_calls"],
        last_error=data["last_error"],
        cursor=data["cursor"],
        total=data["total"],
        considered=data["considered"],
        lag_s=data["lag_s"],
    )


_OUTCOME_FIELDS = (
    "task_id",
    "span_id",
    "trace_id",
    "evaluator",
    "outcome",
    "attempts",
    "error",
    "evaluation_id",
    "updated_at_ns",
    "next_attempt_at_ns",
)


def outcome_to_json(outcome: SpanOutcome) -> dict[str, Any]:
    """One run-log row: what happened to one (span, evaluator) of a task."""
    return {name: getattr(outcome, name) for name in _OUTCOME_FIELDS}


def outcome_from_json(data: dict[str, Any]) -> SpanOutcome:
    """The inverse of :func:`outcome_to_json`."""
    return SpanOutcome(**{name: data[name] for name in _OUTCOME_FIELDS if name in data})
