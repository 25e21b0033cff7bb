"""``GET /healthz``: liveness for load balancers and tests; the only unauthenticated route."""

from __future__ import annotations

from fastapi import APIRouter

from tracejudge.server.deps import IngestQueueDep
from tracejudge.server.schemas import HealthPublic

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthPublic)
async def healthz(queue: IngestQueueDep) -> HealthPublic:
    """Answers while the server runs; ``queued`` is how far the writer is behind."""
    return HealthPublic(status="ok", queued=queue.pending)
