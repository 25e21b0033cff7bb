"""The tracejudge server: OTLP/HTTP receiver and REST API over one store.

Build it with :func:`create_app` (``tracejudge serve`` does, then runs uvicorn).
"""

from __future__ import annotations

from tracejudge.server.app import create_app
from tracejudge.server.settings import Settings

__all__ = ["Settings", "create_app"]
