"""The web UI: server-rendered Jinja2 pages + htmx, served by ``tracejudge serve`` at ``/``.

:func:`mount_ui` (called by :func:`tracejudge.server.app.create_app`) adds the page
routers, ``/static`` and the HTML error pages. Conventions every page module follows:

- a module in this package with a module-level ``router`` (``APIRouter``) listed in
  :data:`PAGE_MODULES`; pages take ``session: UiSessionDep`` (sign-in required) and render
  with :func:`tracejudge.server.ui.templating.render`;
- every POST depends on :func:`tracejudge.server.ui.auth.require_csrf`
  (``dependencies=[CsrfChecked]``); htmx sends the token from base.html;
- project pages live under ``/projects/{project}/...`` and call
  ``session.check_project(project)`` (404 outside a key's project); the annotator is
  :func:`tracejudge.server.ui.auth.current_user`.
"""

from __future__ import annotations

import importlib
import inspect
import logging

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from tracejudge.errors import TracejudgeError
from tracejudge.server.errors import status_for
from tracejudge.server.ui.auth import LoginRequired, server_secret
from tracejudge.server.ui.templating import STATIC_DIR, render

__all__ = ["PAGE_MODULES", "is_ui_path", "mount_ui"]

logger = logging.getLogger(__name__)

# Page modules of this package, mounted in this order. Modules owned by other parts of the
# UI that are not written yet are skipped (only a missing module itself, never an import
# error inside one).
PAGE_MODULES = (
    "login",
    "pages",
    "traces_page",
    "trace_page",
    "review_pages",
    "task_pages",
)

_NOT_UI = ("/api/", "/v1/", "/healthz", "/docs", "/openapi.json", "/redoc", "/static/")


def is_ui_path(path: str) -> bool:
    """Whether a request path belongs to the HTML UI (errors render as pages there)."""
    return not path.startswith(_NOT_UI)


def mount_ui(app: FastAPI) -> None:
    """Add the UI pages, ``/static`` and HTML error handling to ``app``.

    Sets ``app.state.ui_secret`` (see :func:`tracejudge.server.ui.auth.server_secret`).
    Must be called after the app's own ``TracejudgeError`` handler is registered: UI
    paths get an HTML error page, every other path keeps the original handler.
    """
    app.state.ui_secret = server_secret()
    for name in PAGE_MODULES:
        qualified = f"{__name__}.{name}"
        try:
            module = importlib.import_module(qualified)
        except ModuleNotFoundError as e:
            if e.name != qualified:
                raise
            logger.debug("UI page module %s not present", qualified)
            continue
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    api_handler = app.exception_handlers.get(TracejudgeError)

    async def as_api(request: Request, exc: Exception) -> Response:
        if api_handler is None:
            raise exc
        answer = api_handler(request, exc)
        return await answer if inspect.isawaitable(answer) else answer

    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, LoginRequired):
            target = f"/login?next={exc.next_url}"
            if request.headers.get("HX-Request"):
                return Response(status_code=204, headers={"HX-Redirect": target})
            return RedirectResponse(target, status_code=303)
        status = status_for(exc)
        if not is_ui_path(request.url.path) or status >= 500:
            return await as_api(request, exc)
        return await run_in_threadpool(
            render,
            request,
            "error.html",
            {"status": status, "message": str(exc)},
            status_code=status,
        )

    app.add_exception_handler(TracejudgeError, handle)
