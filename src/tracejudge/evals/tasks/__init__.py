"""Eval tasks: score stored and incoming spans with filters, sampling, limits and a run log.

Example::

    from tracejudge.evals.tasks import TaskRunner, TaskSpec
    from tracejudge.store.tasks import SQLiteTaskStore

    tasks = SQLiteTaskStore(store.path)
    task = tasks.create(TaskSpec.from_dict({
        "name": "json", "project": "shop", "filter": 'kind == "LLM"',
        "mode": "historic", "sample": 0.1, "evaluators": ["json_valid"],
    }))
    TaskRunner(store, tasks=tasks).run_until_idle(task.id)
    tasks.status(task.id).counts        # {"scored": ..., "sampled_out": ..., ...}

Modules: :mod:`.spec` (definitions and records), :mod:`.sampling` (the deterministic
sample), :mod:`.runner` (``TaskRunner``: leases, cursor, batches), :mod:`.execute`
(evaluating a batch and recording outcomes); storage is :mod:`tracejudge.store.tasks`.
"""

from __future__ import annotations

from typing import Any

from tracejudge.evals.tasks.sampling import in_sample, sample_point
from tracejudge.evals.tasks.spec import (
    EvalTask,
    EvaluatorSpec,
    EvaluatorSummary,
    JudgeSettings,
    Outcome,
    SpanOutcome,
    TaskMode,
    TaskSpec,
    TaskState,
    TaskStatus,
    TaskTarget,
)

__all__ = [
    "EvalTask",
    "EvaluatorSpec",
    "EvaluatorSummary",
    "JudgeSettings",
    "Outcome",
    "RunReport",
    "SpanOutcome",
    "TaskMode",
    "TaskRunner",
    "TaskSpec",
    "TaskState",
    "TaskStatus",
    "TaskTarget",
    "in_sample",
    "sample_point",
]


def __getattr__(name: str) -> Any:
    # The runner imports the task store, which imports .spec from this package: loading it
    # lazily keeps "import tracejudge.store.tasks" free of an import cycle.
    if name in ("RunReport", "TaskRunner"):
        from tracejudge.evals.tasks import runner

        return getattr(runner, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
