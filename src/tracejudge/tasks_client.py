"""The eval-task half of :class:`tracejudge.Client`: create, find and drive tasks.

Example::

    from tracejudge import Client

    with Client("traces.db") as client:
        task = client.create_task(name="json", project="shop", mode="historic",
                                  filter='kind == "LLM"', sample=0.1,
                                  evaluators=["json_valid"])
        task.run()                     # in this process, until idle
        task.status().counts           # {"scored": ..., "sampled_out": ...}
        task.pause(); task.resume(); task.delete()

:class:`TaskMethods` is mixed into ``Client``; :class:`TaskHandle` is what it returns.
Tasks live in the store's SQLite file (:class:`~tracejudge.store.tasks.SQLiteTaskStore`).
A store may offer another backend with the same methods through a ``task_store()``
method (the hook a remote store uses).
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tracejudge.errors import ConfigurationError
from tracejudge.evals.tasks.spec import (
    EvalTask,
    SpanOutcome,
    TaskSpec,
    TaskState,
    TaskStatus,
)

if TYPE_CHECKING:
    from tracejudge.evals.tasks.runner import RunReport
    from tracejudge.store.base import Store

__all__ = ["TaskBackend", "TaskHandle", "TaskMethods", "as_task_spec"]


class TaskBackend(Protocol):
    """What a handle needs from where tasks are kept (``SQLiteTaskStore`` has all of it)."""

    def create(self, spec: TaskSpec) -> EvalTask: ...
    def get(self, id_or_name: str, project: str | None = None) -> EvalTask: ...
    def list(
        self, project: str | None = None, *, include_deleted: bool = False
    ) -> builtins.list[EvalTask]: ...
    def apply(self, spec: TaskSpec) -> tuple[EvalTask, str]: ...
    def set_state(self, task_id: str, state: TaskState) -> EvalTask: ...
    def status(self, task_id: str) -> TaskStatus: ...
    def outcomes(
        self,
        task_id: str,
        *,
        span_id: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> builtins.list[SpanOutcome]: ...


def as_task_spec(spec: TaskSpec | Mapping[str, Any] | None, fields: Mapping[str, Any]) -> TaskSpec:
    """A TaskSpec from a spec, a YAML-shaped mapping, or keyword fields (not several).

    Raises:
        ConfigurationError: both or neither given, or a malformed mapping.
    """
    if spec is not None and fields:
        raise ConfigurationError(
            f"give a spec or keyword fields, not both (got spec and {', '.join(fields)})"
        )
    if isinstance(spec, TaskSpec):
        return spec
    data = spec if spec is not None else fields
    if not data:
        raise ConfigurationError("a task needs a spec or keyword fields (name, project, ...)")
    return TaskSpec.from_dict(data)


class TaskHandle:
    """One eval task, bound to where it is stored; cheap to create, holds no connection.

    ``task`` is the record as last read (refreshed by every state change); ``status()``
    reads the current run log.
    """

    def __init__(self, backend: TaskBackend, task: EvalTask, store: Store | None = None) -> None:
        self._backend = backend
        self._store = store
        self.task = task

    @property
    def id(self) -> str:
        return self.task.id

    def __repr__(self) -> str:
        return f"TaskHandle({self.task.spec.name!r}, id={self.id!r}, state={self.task.state!r})"

    def refresh(self) -> EvalTask:
        """Re-read the task record."""
        self.task = self._backend.get(self.id)
        return self.task

    def status(self) -> TaskStatus:
        """Counts per outcome, pass rates, judge usage, progress and lag (see TaskStatus)."""
        status = self._backend.status(self.id)
        self.task = status.task
        return status

    def outcomes(
        self, *, span_id: str | None = None, outcome: str | None = None, limit: int = 100
    ) -> list[SpanOutcome]:
        """Run-log rows: why each span was (or was not) scored."""
        return self._backend.outcomes(self.id, span_id=span_id, outcome=outcome, limit=limit)

    def pause(self) -> EvalTask:
        """Stop running the task (its cursor and run log stay)."""
        self.task = self._backend.set_state(self.id, "paused")
        return self.task

    def resume(self) -> EvalTask:
        """Run the task again from its cursor."""
        self.task = self._backend.set_state(self.id, "active")
        return self.task

    def delete(self) -> EvalTask:
        """Delete the task: it never runs again; its evaluations and run log stay."""
        self.task = self._backend.set_state(self.id, "deleted")
        return self.task

    def run(
        self, *, until_idle: bool = True, timeout_s: float | None = None, **runner: Any
    ) -> RunReport:
        """Run the task in this process: until idle (default) or one batch.

        ``runner`` keyword arguments go to :class:`~tracejudge.evals.tasks.TaskRunner`
        (``judge_factory``, ``batch_size``, ...).

        Raises:
            ConfigurationError: the tasks are not in an embedded store here.
        """
        from tracejudge.evals.tasks.runner import TaskRunner
        from tracejudge.store.sqlite import SQLiteStore

        if not isinstance(self._store, SQLiteStore):
            raise ConfigurationError(
                "run(): tasks run next to an embedded SQLite store; a server runs its tasks itself"
            )
        task_runner = TaskRunner(self._store, **runner)
        try:
            if until_idle:
                report = task_runner.run_until_idle(self.id, timeout_s=timeout_s)
            else:
                report = task_runner.run_once(self.id)
        finally:
            task_runner.close()  # its judge event loop thread
        self.refresh()
        return report


class TaskMethods:
    """The task methods of :class:`tracejudge.Client` (mixed in; needs ``self.store``)."""

    def _task_backend(self) -> TaskBackend:
        store: Store = self.store  # type: ignore[attr-defined]  # provided by Client
        hook = getattr(store, "task_store", None)
        if callable(hook):
            backend: TaskBackend = hook()
            return backend
        from tracejudge.store.sqlite import SQLiteStore
        from tracejudge.store.tasks import SQLiteTaskStore

        if isinstance(store, SQLiteStore):
            return SQLiteTaskStore(store.path)
        raise ConfigurationError(f"eval tasks are not available on {store!r}")

    def _handle(self, task: EvalTask, backend: TaskBackend) -> TaskHandle:
        return TaskHandle(backend, task, self.store)  # type: ignore[attr-defined]

    def create_task(
        self, spec: TaskSpec | Mapping[str, Any] | None = None, **fields: Any
    ) -> TaskHandle:
        """Create an eval task from a :class:`TaskSpec`, a YAML-shaped mapping or fields.

        Example: ``client.create_task(name="g", project="shop", evaluators=["json_valid"])``.

        Raises:
            ConfigurationError / FilterSyntaxError: an invalid definition (nothing stored).
        """
        backend = self._task_backend()
        return self._handle(backend.create(as_task_spec(spec, fields)), backend)

    def tasks(self, project: str | None = None) -> list[EvalTask]:
        """Live (not deleted) tasks, oldest first."""
        return self._task_backend().list(project)

    def task(self, id_or_name: str, project: str | None = None) -> TaskHandle:
        """A task by id or name. Raises :class:`~tracejudge.errors.NotFound`."""
        backend = self._task_backend()
        return self._handle(backend.get(id_or_name, project), backend)

    def apply_task(self, spec: TaskSpec | Mapping[str, Any]) -> tuple[TaskHandle, str]:
        """Create or update the task named ``spec.name`` in ``spec.project``;
        returns the handle and ``"created"``, ``"updated"`` or ``"unchanged"``."""
        backend = self._task_backend()
        task, result = backend.apply(as_task_spec(spec, {}))
        return self._handle(task, backend), result
