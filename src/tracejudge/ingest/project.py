"""Which project a span belongs to.

Order: an explicit choice (argument, ``x-tracejudge-project`` header, API key) beats what
the app declared on its resource (OpenInference's ``openinference.project.name``, then
OpenTelemetry's ``service.name``), and everything else lands in ``"default"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracejudge import semconv as sc

__all__ = ["DEFAULT_PROJECT", "resolve_project"]

DEFAULT_PROJECT = "default"


def resolve_project(explicit: str | None, resource: Mapping[str, Any]) -> str:
    """Project name for spans sent with ``resource``.

    Example: ``resolve_project(None, {"service.name": "bot"}) == "bot"``.
    Blank or non-string values are ignored.
    """
    if explicit and explicit.strip():
        return explicit.strip()
    for key in (sc.PROJECT_NAME, sc.SERVICE_NAME):
        value = resource.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return DEFAULT_PROJECT
