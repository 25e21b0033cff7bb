"""The one Jinja2 environment of the web UI (autoescape always on) and its helpers.

Every page module renders through :data:`templates` so all of them share base.html, the
filters below and the ``csrf_token(request)`` / ``current_user`` globals. Autoescape is
forced on for every template (not only ``*.html``): user content (span inputs, notes,
names) is never trusted, and anything rendered as HTML on purpose (markdown, highlighted
code) is built by :mod:`tracejudge.server.ui.rich_text` and marked safe there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
import orjson
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from tracejudge.server.ui.auth import csrf_token, read_session

__all__ = ["STATIC_DIR", "TEMPLATE_DIR", "format_duration", "format_time", "render", "templates"]

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def format_duration(ms: float | None) -> str:
    """``812 ms``, ``3.4 s``, ``2m 05s``: what a reviewer reads at a glance."""
    if ms is None:
        return ""
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f} s"
    minutes, seconds = divmod(int(ms // 1000), 60)
    return f"{minutes}m {seconds:02d}s"


def format_time(ns: int | None) -> str:
    """An epoch-nanosecond timestamp as UTC ``2026-11-22 02:14:15``."""
    if not ns:
        return ""
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _tojson_pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def _session_user(request: Request) -> str | None:
    session = read_session(request)
    return session.user if session else None


def _build_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = format_duration
    env.filters["time"] = format_time
    env.filters["pretty_json"] = _tojson_pretty
    env.globals["csrf_token"] = csrf_token
    env.globals["session_user"] = _session_user
    return env


templates = Jinja2Templates(env=_build_env())


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` with ``request`` in the context (base.html needs it)."""
    return templates.TemplateResponse(
        request, name, context or {}, status_code=status_code, headers=headers
    )
