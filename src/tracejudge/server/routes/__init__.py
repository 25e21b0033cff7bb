"""One ``APIRouter`` per resource; :func:`tracejudge.server.app.create_app` mounts them."""

from __future__ import annotations

__all__: list[str] = []
