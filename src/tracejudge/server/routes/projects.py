"""``/api/v1/projects``: the projects a caller may see (only its own with a key)."""

from __future__ import annotations

from fastapi import APIRouter

from tracejudge.server.deps import CurrentPrincipal, StoreDep
from tracejudge.server.schemas import ERROR_RESPONSES, ProjectPublic, ProjectsPublic

__all__ = ["router"]

router = APIRouter(prefix="/projects", tags=["projects"], responses=ERROR_RESPONSES)


@router.get("", response_model=ProjectsPublic)
def list_projects(store: StoreDep, principal: CurrentPrincipal) -> ProjectsPublic:
    """Project names with at least one span, sorted."""
    names = [p for p in store.projects() if principal.project in (None, p)]
    return ProjectsPublic(data=[ProjectPublic(name=n) for n in names], count=len(names))
