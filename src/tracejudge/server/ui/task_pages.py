"""Eval-task and evaluator pages of the web UI.

- ``/projects/{p}/tasks``: the project's tasks with progress (historic) or lag
  (continuous), outcome counts and per-evaluator pass rates; the table refreshes itself
  every few seconds (htmx) while tasks run; pause/resume buttons (CSRF-checked POSTs).
- ``/projects/{p}/tasks/{id}``: one task: its definition, figures and the run log
  (filter by outcome), each row linking to the trace of the span it is about.
- ``/projects/{p}/evaluators``: every evaluation name of the project (in-line, task or
  imported) with its pass rate overall and over time (an inline-SVG sparkline).

Read through the same task store as ``/api/v1/tasks``; scoped by the session's project.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse, Response

from tracejudge.errors import NotFound
from tracejudge.evals.tasks import EvalTask, Outcome, TaskStatus
from tracejudge.server.deps import StoreDep
from tracejudge.server.ui.auth import CsrfChecked, UiSession, UiSessionDep
from tracejudge.server.ui.evaluator_stats import evaluator_trends, sparkline
from tracejudge.server.ui.templating import render
from tracejudge.store.tasks import SQLiteTaskStore

__all__ = ["OUTCOMES", "router"]

router = APIRouter(include_in_schema=False)

OUTCOMES = tuple(o.value for o in Outcome)
REFRESH_S = 3

_TaskId = Annotated[str, Path(min_length=1, max_length=200)]


def _tasks(request: Request) -> SQLiteTaskStore:
    return request.app.state.tasks  # type: ignore[no-any-return]


def _task_in(request: Request, session: UiSession, project: str, task_id: str) -> EvalTask:
    """The task if it belongs to ``project`` and the session may see it (else 404)."""
    session.check_project(project)
    task = _tasks(request).get(task_id, project=project)
    if task.spec.project != project:
        raise NotFound(f"no task {task_id!r} in project {project!r}")
    return task


def _tasks_url(project: str, *parts: str) -> str:
    return "/".join([f"/projects/{quote(project, safe='')}/tasks", *parts])


def _statuses(request: Request, project: str) -> list[TaskStatus]:
    tasks = _tasks(request)
    return [tasks.status(t.id) for t in tasks.list(project)]


@router.get("/projects/{project}/tasks")
def tasks_page(
    request: Request,
    project: str,
    session: UiSessionDep,
    fragment: Annotated[bool, Query()] = False,
) -> Response:
    """The task list; ``?fragment=1`` is just the table (what the page polls)."""
    session.check_project(project)
    statuses = _statuses(request, project)
    running = any(s.task.state == "active" for s in statuses)
    context: dict[str, Any] = {
        "project": project,
        "active": "tasks",
        "statuses": statuses,
        "outcomes": OUTCOMES,
        "refresh_s": REFRESH_S if running else None,
        "tasks_url": _tasks_url(project),
    }
    return render(request, "tasks/_table.html" if fragment else "tasks/list.html", context)


@router.get("/projects/{project}/tasks/{task_id}")
def task_page(
    request: Request,
    project: str,
    task_id: _TaskId,
    session: UiSessionDep,
    outcome: Annotated[Outcome | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """One task: definition, figures, and its run log (optionally one outcome)."""
    task = _task_in(request, session, project, task_id)
    tasks = _tasks(request)
    status = tasks.status(task.id)
    rows = tasks.outcomes(task.id, outcome=outcome.value if outcome else None, limit=limit)
    context = {
        "project": project,
        "active": "tasks",
        "status": status,
        "spec": task.spec.to_dict(),
        "rows": rows,
        "outcomes": OUTCOMES,
        "selected": outcome.value if outcome else None,
        "limit": limit,
        "tasks_url": _tasks_url(project),
        "task_url": _tasks_url(project, quote(task.id, safe="")),
    }
    return render(request, "tasks/task.html", context)


_Back = Annotated[str | None, Query(pattern="^task$")]


def _set_state(
    request: Request, session: UiSession, project: str, task_id: str, state: str, back: str | None
) -> Response:
    """Change the state; back to the task's page (``back=task``) or the list, never to a
    URL taken from the request."""
    task = _task_in(request, session, project, task_id)
    _tasks(request).set_state(task.id, state)  # type: ignore[arg-type]
    target = _tasks_url(project, quote(task.id, safe="")) if back else _tasks_url(project)
    return RedirectResponse(target, status_code=303)


@router.post("/projects/{project}/tasks/{task_id}/pause", dependencies=[CsrfChecked])
def pause_task(
    request: Request, project: str, task_id: _TaskId, session: UiSessionDep, back: _Back = None
) -> Response:
    """Pause (the cursor stays)."""
    return _set_state(request, session, project, task_id, "paused", back)


@router.post("/projects/{project}/tasks/{task_id}/resume", dependencies=[CsrfChecked])
def resume_task(
    request: Request, project: str, task_id: _TaskId, session: UiSessionDep, back: _Back = None
) -> Response:
    """Resume from the cursor."""
    return _set_state(request, session, project, task_id, "active", back)


@router.get("/projects/{project}/evaluators")
def evaluators_page(
    request: Request, project: str, session: UiSessionDep, store: StoreDep
) -> Response:
    """Pass rate per evaluation name, overall and over time."""
    session.check_project(project)
    trends, width = evaluator_trends(store.path, project)  # type: ignore[attr-defined]
    starts = [b.start_ns for t in trends for b in t.buckets]
    first, last = (min(starts), max(starts)) if starts else (0, 0)
    rows = [(t, sparkline(t.buckets, first, last)) for t in trends]
    context = {
        "project": project,
        "active": "tasks",
        "rows": rows,
        "bucket_s": width / 1e9,
        "first_ns": first,
        "last_ns": last + width if starts else 0,
        "tasks_url": _tasks_url(project),
    }
    return render(request, "tasks/evaluators.html", context)
