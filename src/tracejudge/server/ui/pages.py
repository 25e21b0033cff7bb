"""``/`` and ``/projects``: where the UI starts."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from tracejudge.server.deps import StoreDep
from tracejudge.server.ui.auth import UiSessionDep
from tracejudge.server.ui.templating import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(session: UiSessionDep) -> Response:
    """A key-scoped session goes straight to its project's traces."""
    if session.project is not None:
        return RedirectResponse(f"/projects/{quote(session.project)}/traces", status_code=303)
    return RedirectResponse("/projects", status_code=303)


@router.get("/projects")
def projects(request: Request, session: UiSessionDep, store: StoreDep) -> Response:
    """Projects with stored spans (only the key's own when signed in with a key)."""
    names = store.projects()
    if session.project is not None:
        names = [p for p in names if p == session.project] or [session.project]
    return render(request, "projects.html", {"projects": names, "active": "projects"})
