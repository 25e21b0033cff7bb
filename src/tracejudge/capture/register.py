"""``register()``: build the tracer provider that sends an app's spans to tracejudge.

One call wires the pieces together — resource (project, service name), the context
processor (session/user/tags/metadata), an exporter (embedded store or OTLP/HTTP),
optional redaction, the batch processor and optional auto-instrumentation — and makes the
result the "current" capture used by ``observe`` and ``span``. ``flush``, ``shutdown`` and
``stats`` act on that current capture.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from tracejudge import semconv
from tracejudge.capture._state import (
    SCOPE_NAME,
    SCOPE_VERSION,
    Capture,
    current,
    set_current,
)
from tracejudge.capture.context import ContextAttributesProcessor
from tracejudge.capture.processor import CaptureSpanProcessor
from tracejudge.capture.redaction import RedactingSpanExporter, Redactor
from tracejudge.errors import ConfigurationError

__all__ = ["CaptureStats", "flush", "register", "shutdown", "stats"]

_log = logging.getLogger(__name__)
_UNKNOWN_SERVICE = "unknown_service"


def _resource(project: str) -> Resource:
    """Project name always ours; ``service.name`` ours unless OTEL_SERVICE_NAME /
    OTEL_RESOURCE_ATTRIBUTES set one (``Resource.create`` reads both)."""
    resource = Resource.create({semconv.PROJECT_NAME: project})
    service = resource.attributes.get(semconv.SERVICE_NAME)
    if not service or str(service).startswith(_UNKNOWN_SERVICE):
        resource = resource.merge(Resource({semconv.SERVICE_NAME: project}))
    return resource


def _exporter(
    project: str,
    db: str | os.PathLike[str] | None,
    endpoint: str | None,
    api_key: str | None,
) -> SpanExporter:
    """OTLP when ``endpoint`` is given, else the embedded store (opened lazily)."""
    if endpoint is not None:
        from tracejudge.capture.otlp import otlp_exporter

        return otlp_exporter(endpoint, project=project, api_key=api_key)
    from tracejudge.capture.exporter import EmbeddedSpanExporter
    from tracejudge.store import resolve_sqlite_path

    # A bad db argument fails here, not later on the worker thread where it could only be logged.
    path = resolve_sqlite_path(db)
    if not path.parent.is_dir():
        raise ConfigurationError(f"db: directory {str(path.parent)!r} does not exist")
    return EmbeddedSpanExporter(project, db=db)


def register(
    project: str,
    *,
    db: str | os.PathLike[str] | None = None,
    endpoint: str | None = None,
    api_key: str | None = None,
    auto_instrument: bool = False,
    redact: Redactor | None = None,
    set_global: bool = True,
    batch: bool = True,
    span_exporter: SpanExporter | None = None,
    keep_recent: bool = True,
) -> TracerProvider:
    """Start capturing spans for ``project``; returns the new OpenTelemetry tracer provider.

    Example::

        import tracejudge
        tracejudge.register("support-bot", auto_instrument=True, redact=mask_emails)

    Parameters:
        project: project name; the resource gets ``openinference.project.name`` and
            ``service.name`` (unless OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES set one).
        db: embedded SQLite store path or ``sqlite:///`` URL (default
            ``$TRACEJUDGE_HOME/tracejudge.db``). The file is opened on the export thread.
        endpoint: a tracejudge server (``http://127.0.0.1:6464``); spans then go over
            OTLP/HTTP protobuf to ``{endpoint}/v1/traces`` instead of into ``db``.
        api_key: sent as ``Authorization: Bearer <api_key>`` to ``endpoint``.
        auto_instrument: turn on every installed OpenInference instrumentor.
        redact: ``str -> str`` applied to every string value on the export thread (see
            :mod:`tracejudge.capture.redaction`).
        set_global: also make this the global OpenTelemetry provider (OTel allows that once
            per process; ``observe``/``span`` follow the latest ``register`` regardless).
        batch: export from a background thread (default). ``False`` exports synchronously
            in ``span.end()`` — for short scripts and tests only.
        span_exporter: send spans to this exporter instead (tests, benchmarks, custom
            backends); ``db``/``endpoint`` are then ignored.
        keep_recent: keep open and recently ended spans of live traces in memory
            (bounded, see :mod:`tracejudge.capture.recent`) so in-line ``evaluate`` can
            read trace-scoped paths such as ``trace.documents``.

    Export problems (locked database, endpoint down) are logged and the spans dropped;
    they never raise into or block the application.

    Raises:
        ConfigurationError: empty ``project``, both ``db`` and ``endpoint``, a bad
            ``endpoint`` URL or ``db`` path, or a non-callable ``redact``.
    """
    if not isinstance(project, str) or not project.strip():
        raise ConfigurationError(f"project: expected a non-empty string, got {project!r}")
    if db is not None and endpoint is not None and span_exporter is None:
        raise ConfigurationError("db and endpoint: give one (embedded store or server), not both")
    if redact is not None and not callable(redact):
        raise ConfigurationError(f"redact: expected a callable str -> str, got {redact!r}")

    exporter = span_exporter or _exporter(project, db, endpoint, api_key)
    if redact is not None:
        exporter = RedactingSpanExporter(exporter, redact)
    processor: SpanProcessor
    processor = CaptureSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)

    provider = TracerProvider(resource=_resource(project))
    provider.add_span_processor(ContextAttributesProcessor())
    if keep_recent:
        from tracejudge.capture.recent import attach

        attach(provider)
    provider.add_span_processor(processor)
    if set_global:
        trace.set_tracer_provider(provider)  # OTel warns (and keeps the first) if already set

    capture = Capture(
        project=project,
        provider=provider,
        tracer=provider.get_tracer(SCOPE_NAME, SCOPE_VERSION),
        processor=processor if isinstance(processor, CaptureSpanProcessor) else None,
        exporter=exporter,
    )
    set_current(capture)
    if auto_instrument:
        from tracejudge.capture.instrument import instrument_all

        capture.instrumented = instrument_all(provider)
    return provider


def flush(timeout_s: float = 5.0) -> bool:
    """Export every finished span of the current capture now.

    Blocks the caller at most ``timeout_s``; returns False if that was not enough (or
    nothing could be exported), True otherwise (also when nothing was registered).
    """
    cap = current()
    if cap is None:
        return True
    try:
        return bool(cap.provider.force_flush(int(timeout_s * 1000)))
    except Exception:
        _log.warning("tracejudge: flush failed", exc_info=True)
        return False


def shutdown() -> None:
    """Flush (bounded) and stop the current capture; ``observe``/``span`` then go untraced
    (or to the global provider). Undoes ``auto_instrument``. Never raises."""
    cap = current()
    if cap is None:
        return
    set_current(None)
    if cap.instrumented:
        from tracejudge.capture.instrument import discover_instrumentors

        classes = discover_instrumentors()
        for name in cap.instrumented:
            try:
                classes[name]().uninstrument()
            except Exception:
                _log.debug("tracejudge: could not uninstrument %s", name, exc_info=True)
    try:
        cap.provider.shutdown()
    except Exception:
        _log.warning("tracejudge: shutdown failed", exc_info=True)


@dataclass(frozen=True, slots=True)
class CaptureStats:
    """Counters of the current capture, for health checks and tests."""

    project: str | None = None
    dropped_queue_full: int = 0  # spans evicted because the export queue was full
    exported_spans: int = 0  # written by the embedded exporter
    failed_batches: int = 0  # embedded exports that failed (logged, dropped)
    dropped_export: int = 0  # spans in those failed batches


def stats() -> CaptureStats:
    """Counters of the current capture (zeros when nothing is registered)."""
    cap = current()
    if cap is None:
        return CaptureStats()
    exporter = cap.exporter
    while isinstance(exporter, RedactingSpanExporter):
        exporter = exporter.inner
    return CaptureStats(
        project=cap.project,
        dropped_queue_full=cap.processor.dropped_spans if cap.processor else 0,
        exported_spans=getattr(exporter, "exported_spans", 0),
        failed_batches=getattr(exporter, "failed_batches", 0),
        dropped_export=getattr(exporter, "dropped_spans", 0),
    )
