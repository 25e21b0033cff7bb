"""The tracejudge server: OTLP/HTTP receiver and REST API over one store.

Build it with :func:`create_app` (``tracejudge serve`` does, then runs uvicorn).

The names are loaded on first use (PEP 562), so a process that needs only a light part of
this package -- the eval-task worker child unpickling its ``Settings`` -- does not import
FastAPI, the routes and the UI (~0.8 s of CPU).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracejudge.server.app import create_app
    from tracejudge.server.settings import Settings

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from tracejudge.server.app import create_app

        return create_app
    if name == "Settings":
        from tracejudge.server.settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
