"""The process-wide "current capture": the most recently registered provider.

OpenTelemetry allows one global provider per process, but tests (and apps that
re-configure) register several; ``observe`` and ``span`` resolve the tracer at call time
from here, so they follow the latest :func:`~tracejudge.capture.register` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import TYPE_CHECKING

from opentelemetry import trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from tracejudge.capture.processor import CaptureSpanProcessor

__all__ = ["SCOPE_NAME", "SCOPE_VERSION", "Capture", "current", "current_tracer", "set_current"]

SCOPE_NAME = "tracejudge.capture"
try:
    SCOPE_VERSION: str | None = metadata.version("tracejudge")
except metadata.PackageNotFoundError:  # running from a source tree without install
    SCOPE_VERSION = None


@dataclass(slots=True)
class Capture:
    """What one ``register`` call built."""

    project: str
    provider: TracerProvider
    tracer: trace.Tracer
    processor: CaptureSpanProcessor | None
    exporter: SpanExporter
    instrumented: list[str] = field(default_factory=list)


_current: Capture | None = None


def current() -> Capture | None:
    """The most recently registered capture, or None."""
    return _current


def set_current(capture: Capture | None) -> None:
    """Make ``capture`` the one ``observe``/``span`` use."""
    global _current
    _current = capture


def current_tracer() -> trace.Tracer:
    """Tracer of the current capture; the global OTel tracer when nothing was registered."""
    cap = _current
    if cap is not None:
        return cap.tracer
    return trace.get_tracer(SCOPE_NAME, SCOPE_VERSION)
