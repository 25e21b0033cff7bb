"""Eval tasks on the REST API: their JSON shape, and the task calls of a remote client.

The JSON of a task, its status and its run-log rows is defined here once
(``*_to_json`` / ``*_from_json``): the server's ``/api/v1/tasks`` routes send it and
:class:`RemoteTasks` reads it back into the same records an embedded
:class:`~tracejudge.store.tasks.SQLiteTaskStore` returns, so code written against one
works against the other.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from tracejudge.errors import ConfigurationError, NotFound, StoreError
from tracejudge.evals.tasks import (
    EvalTask,
    EvaluatorSummary,
    SpanOutcome,
    TaskSpec,
    TaskState,
    TaskStatus,
)

if TYPE_CHECKING:
    from tracejudge.remote import RemoteStore

__all__ = [
    "RemoteTasks",
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


class RemoteTasks:
    """The task store calls over a server's ``/api/v1/tasks`` (``Client(url=...)``'s tasks).

    Same methods, records and errors as :class:`~tracejudge.store.tasks.SQLiteTaskStore`
    (the ``TaskBackend`` of :mod:`tracejudge.tasks_client`): a bad definition raises
    :class:`ConfigurationError` (or :class:`~tracejudge.errors.FilterSyntaxError` with its
    position), an unknown or out-of-scope task :class:`NotFound`. The server's worker runs
    the tasks; there is no ``run`` here.
    """

    _ACTIONS = {"paused": ("POST", "pause"), "active": ("POST", "resume")}

    def __init__(self, remote: RemoteStore) -> None:
        self._remote = remote

    def _path(self, task_id: str, suffix: str = "") -> str:
        return f"/tasks/{quote(task_id, safe='')}" + (f"/{suffix}" if suffix else "")

    def _found(self, data: Any, task_id: str) -> Any:
        if data is None:
            raise NotFound(f"no task {task_id!r} on the server (in the key's project)")
        return data

    def create(self, spec: TaskSpec) -> EvalTask:
        spec.validate()  # the same checks, locally first: no request for a bad spec
        try:
            data = self._remote._request("POST", "/tasks", json=spec.to_dict(), filter=spec.filter)
        except StoreError as e:
            if " HTTP 409: " in str(e):  # the name is taken, as the embedded store says
                raise ConfigurationError(str(e)) from None
            raise
        return task_from_json(self._found(data, spec.name))

    def apply(self, spec: TaskSpec) -> tuple[EvalTask, str]:
        spec.validate()
        data = self._remote._request("PUT", "/tasks", json=spec.to_dict(), filter=spec.filter)
        data = self._found(data, spec.name)
        return task_from_json(data["task"]), str(data["result"])

    def get(self, id_or_name: str, project: str | None = None) -> EvalTask:
        return self.status(id_or_name, project).task

    def list(self, project: str | None = None, *, include_deleted: bool = False) -> list[EvalTask]:
        params = {"project": project, "include_deleted": include_deleted or None}
        page = self._remote._request("GET", "/tasks", params=params)
        return [task_from_json(t) for t in page["data"]] if page else []

    def status(self, task_id: str, project: str | None = None) -> TaskStatus:
        data = self._remote._request("GET", self._path(task_id), params={"project": project})
        return status_from_json(self._found(data, task_id))

    def outcomes(
        self,
        task_id: str,
        *,
        span_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> builtins.list[SpanOutcome]:
        params = {"span_id": span_id, "outcome": outcome, "limit": limit}
        page = self._remote._request("GET", self._path(task_id, "outcomes"), params=params)
        return [outcome_from_json(o) for o in self._found(page, task_id)["data"]]

    def set_state(self, task_id: str, state: TaskState) -> EvalTask:
        if state == "deleted":
            return self.delete(task_id)
        if state not in self._ACTIONS:
            raise ConfigurationError(
                f"state: a server sets paused, active or deleted, not {state!r}"
            )
        method, action = self._ACTIONS[state]
        data = self._remote._request(method, self._path(task_id, action))
        return task_from_json(self._found(data, task_id))

    def delete(self, task_id: str) -> EvalTask:
        data = self._remote._request("DELETE", self._path(task_id))
        return task_from_json(self._found(data, task_id))
