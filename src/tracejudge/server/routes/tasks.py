"""``/api/v1/tasks``: eval tasks — create (POST), apply by project + name (PUT), list,
status, run log, pause/resume/delete.

Scoped like every route: a project key only ever sees and changes its own project's
tasks (another project's task id answers 404, naming another project 403). A task is
checked in full (evaluator names, input paths, filter) before it is stored; a bad one
answers 400 with the message, and for a filter also its ``position``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from tracejudge.errors import FilterSyntaxError, NotFound
from tracejudge.evals.tasks import EvalTask, Outcome, TaskSpec
from tracejudge.remote_tasks import outcome_to_json, status_to_json, task_to_json
from tracejudge.server.auth import Principal
from tracejudge.server.deps import CurrentPrincipal, LimitQuery, ProjectQuery, SettingsDep
from tracejudge.server.errors import ApiError, error_body, status_for
from tracejudge.server.routes.spans import FilterErrorPublic
from tracejudge.server.schemas import ERROR_RESPONSES
from tracejudge.server.settings import Settings
from tracejudge.server.task_schemas import (
    OutcomesPublic,
    TaskApplyPublic,
    TaskCreate,
    TaskPublic,
    TasksPublic,
    TaskStatusPublic,
)
from tracejudge.store.tasks import SQLiteTaskStore

__all__ = ["router"]

router = APIRouter(
    prefix="/tasks",
    tags=["tasks"],
    responses={**ERROR_RESPONSES, 409: {"description": "Name taken, or the task is deleted"}},
)

_BAD_SPEC: dict[int | str, dict[str, Any]] = {
    400: {"model": FilterErrorPublic, "description": "Bad task definition or filter"}
}

TaskIdPath = Annotated[
    str, Path(min_length=1, max_length=200, description="the task's id (or its name)")
]


def _tasks(request: Request) -> SQLiteTaskStore:
    return request.app.state.tasks  # type: ignore[no-any-return]


def _scoped_task(
    tasks: SQLiteTaskStore, principal: Principal, task_id: str, project: str | None
) -> EvalTask:
    """The task, if it is in the caller's project; else NotFound (nothing leaks)."""
    scope = principal.scope(project)
    task = tasks.get(task_id, project=scope)
    if scope is not None and task.spec.project != scope:
        raise NotFound(f"no task {task_id!r} in project {scope!r}")
    return task


def _spec(body: TaskCreate, principal: Principal, settings: Settings) -> TaskSpec:
    """The checked definition; the project defaults to the key's (naming another is 403).

    With API keys, ``judge.base_url`` must be one of ``settings.task_judge_urls`` (403
    otherwise): the worker would send its judge key there.
    """
    project = principal.scope(body.project)
    if project is None:
        raise ApiError(400, "project: required (no API key names one)")
    try:
        fields = body.to_spec_dict(project)
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    spec = TaskSpec.from_dict(fields)
    spec.validate()
    url = spec.judge.base_url
    if principal.key is not None and url is not None:
        allowed = settings.allowed_judge_urls
        if not any(url.startswith(prefix) for prefix in allowed):
            raise ApiError(
                403,
                f"judge.base_url {url!r} is not allowed on this server "
                f"(TRACEJUDGE_TASK_JUDGE_URLS: {', '.join(allowed) or 'none'}); "
                "leave it out to use the server's judge",
            )
    return spec


def _bad_filter(error: FilterSyntaxError) -> JSONResponse:
    """A filter error with its position (the app-wide handler's body has only ``detail``)."""
    return JSONResponse(error_body(error), status_code=status_for(error))


@router.post("", response_model=TaskPublic, status_code=201, responses=_BAD_SPEC)
def create_task(
    body: TaskCreate, request: Request, principal: CurrentPrincipal, settings: SettingsDep
) -> Any:
    """Store a new task; the server's task worker starts on it right away.

    400 for a bad definition, 409 when the project already has a task of that name
    (``PUT /tasks`` updates it instead).
    """
    try:
        spec = _spec(body, principal, settings)
    except FilterSyntaxError as e:
        return _bad_filter(e)
    tasks = _tasks(request)
    if any(t.spec.name == spec.name for t in tasks.list(spec.project)):
        raise ApiError(409, f"project {spec.project!r} already has a task named {spec.name!r}")
    return task_to_json(tasks.create(spec))


@router.put("", response_model=TaskApplyPublic, responses=_BAD_SPEC)
def apply_task(
    body: TaskCreate, request: Request, principal: CurrentPrincipal, settings: SettingsDep
) -> Any:
    """Create the task, or update the project's task of that name (a new version) when
    its definition differs; ``result`` says which (``unchanged`` writes nothing)."""
    try:
        spec = _spec(body, principal, settings)
    except FilterSyntaxError as e:
        return _bad_filter(e)
    task, result = _tasks(request).apply(spec)
    return {"task": task_to_json(task), "result": result}


@router.get("", response_model=TasksPublic)
def list_tasks(
    request: Request,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
    include_deleted: bool = False,
) -> dict[str, Any]:
    """Tasks of the project (all projects for an open server without ``project``)."""
    rows = _tasks(request).list(principal.scope(project), include_deleted=include_deleted)
    return {"data": [task_to_json(t) for t in rows], "count": len(rows)}


@router.get("/{task_id}", response_model=TaskStatusPublic)
def task_status(
    task_id: TaskIdPath, request: Request, principal: CurrentPrincipal, project: ProjectQuery = None
) -> dict[str, Any]:
    """The task with counts per outcome, pass rate per evaluator, judge usage, progress
    (historic) and lag (continuous)."""
    tasks = _tasks(request)
    task = _scoped_task(tasks, principal, task_id, project)
    return status_to_json(tasks.status(task.id))


@router.get("/{task_id}/outcomes", response_model=OutcomesPublic)
def task_outcomes(
    task_id: TaskIdPath,
    request: Request,
    principal: CurrentPrincipal,
    project: ProjectQuery = None,
    outcome: Outcome | None = None,
    span_id: Annotated[str | None, Query(pattern=r"^[0-9a-f]{16}$")] = None,
    limit: LimitQuery = 100,
) -> dict[str, Any]:
    """The run log: what happened to each considered (span, evaluator), oldest first —
    so "the task ran but this span has no score" has an answer."""
    tasks = _tasks(request)
    task = _scoped_task(tasks, principal, task_id, project)
    rows = tasks.outcomes(
        task.id, span_id=span_id, outcome=outcome.value if outcome else None, limit=limit
    )
    return {"data": [outcome_to_json(o) for o in rows], "count": len(rows)}


def _set_state(
    request: Request, principal: Principal, task_id: str, project: str | None, state: str
) -> dict[str, Any]:
    tasks = _tasks(request)
    task = _scoped_task(tasks, principal, task_id, project)
    if task.state == "deleted":
        raise ApiError(409, f"task {task.id} is deleted; create a new one")
    return task_to_json(tasks.set_state(task.id, state))  # type: ignore[arg-type]


@router.post("/{task_id}/pause", response_model=TaskPublic)
def pause_task(
    task_id: TaskIdPath, request: Request, principal: CurrentPrincipal, project: ProjectQuery = None
) -> dict[str, Any]:
    """Stop scoring (the cursor stays; resume carries on from it)."""
    return _set_state(request, principal, task_id, project, "paused")


@router.post("/{task_id}/resume", response_model=TaskPublic)
def resume_task(
    task_id: TaskIdPath, request: Request, principal: CurrentPrincipal, project: ProjectQuery = None
) -> dict[str, Any]:
    """Carry on from the cursor (spans ingested meanwhile are scored, none skipped)."""
    return _set_state(request, principal, task_id, project, "active")


@router.delete("/{task_id}", response_model=TaskPublic)
def delete_task(
    task_id: TaskIdPath, request: Request, principal: CurrentPrincipal, project: ProjectQuery = None
) -> dict[str, Any]:
    """Stop the task for good; its evaluations stay on their spans."""
    tasks = _tasks(request)
    task = _scoped_task(tasks, principal, task_id, project)
    return task_to_json(tasks.delete(task.id))
