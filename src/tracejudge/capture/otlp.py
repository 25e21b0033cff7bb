"""The OTLP/HTTP path: the standard OpenTelemetry exporter, pointed at a tracejudge server.

We do not write our own wire client: ``OTLPSpanExporter`` (protobuf over HTTP) already
retries with backoff inside its timeout and runs on the batch worker thread. This module
only turns ``register``'s arguments into its URL and headers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

from tracejudge import semconv
from tracejudge.errors import ConfigurationError

__all__ = ["TRACES_PATH", "otlp_exporter", "traces_url"]

TRACES_PATH = "/v1/traces"


def traces_url(endpoint: str) -> str:
    """``{endpoint}/v1/traces`` (an endpoint already ending in ``/v1/traces`` is kept).

    Raises:
        ConfigurationError: ``endpoint`` is not an http(s) URL with a host.
    """
    if not isinstance(endpoint, str):
        raise ConfigurationError(f"endpoint: expected an http(s) URL, got {endpoint!r}")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(f"endpoint: expected an http(s) URL, got {endpoint!r}")
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def otlp_exporter(
    endpoint: str,
    *,
    project: str,
    api_key: str | None = None,
    timeout_s: float | None = None,
) -> OTLPSpanExporter:
    """An ``OTLPSpanExporter`` for ``{endpoint}/v1/traces``.

    Sends ``Authorization: Bearer <api_key>`` when given and the project header (the
    resource also names the project; the header helps servers that route before decoding).
    ``timeout_s`` bounds one export including retries; None reads
    ``OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`` / ``OTEL_EXPORTER_OTLP_TIMEOUT`` (default 10 s).
    """
    headers = {semconv.TJ_PROJECT_HEADER: project}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return OTLPSpanExporter(endpoint=traces_url(endpoint), headers=headers, timeout=timeout_s)
