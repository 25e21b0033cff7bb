"""HTTP errors of the server and the one place library errors become status codes.

Handlers raise :class:`ApiError` (or let a :class:`~tracejudge.errors.TracejudgeError`
through); :func:`status_for` maps each to a status code, and ``app.py`` renders it as
JSON for the REST API or as an OTLP ``google.rpc.Status`` for the OTLP receiver. Client
faults never become 500.
"""

from __future__ import annotations

from typing import Any

from tracejudge.errors import (
    ConfigurationError,
    DecodeError,
    FilterSyntaxError,
    NotFound,
    StoreError,
    TracejudgeError,
)
from tracejudge.server.ingest_queue import QueueClosed, QueueFull

__all__ = ["ApiError", "error_body", "status_for"]


class ApiError(TracejudgeError):
    """An error answer: status code, message and extra headers (e.g. ``Retry-After``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def status_for(error: Exception) -> int:
    """The HTTP status a library error stands for (500 only for the unexpected)."""
    if isinstance(error, ApiError):
        return error.status
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, DecodeError | ConfigurationError | FilterSyntaxError):
        return 400
    if isinstance(error, QueueFull | QueueClosed | StoreError):
        return 503  # transient: the writer is behind, shutting down, or the file is busy
    return 500


def error_body(error: Exception) -> dict[str, Any]:
    """The REST JSON body of a client error: ``{"detail": ...}``, and for a span filter
    also its 1-based ``position`` so a UI or the remote client can point at it."""
    if isinstance(error, FilterSyntaxError):
        return {"detail": error.message, "position": error.position}
    return {"detail": str(error)}
