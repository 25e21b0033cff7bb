"""Redaction: scrub string values of finished spans before they leave the exporter.

A redactor is any ``Callable[[str], str]``. :class:`RedactingSpanExporter` wraps any
``SpanExporter`` (the embedded one or OTLP), so redaction runs on the export thread, never
on the app's thread, and applies the same way on both paths. It covers span attribute
values (strings inside lists too), event attribute values, link attribute values and the
status message. If the redactor raises on a value, that value is replaced by
``[REDACTION FAILED]`` (logged once): for privacy we never ship it unredacted, and we never
drop the span.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from tracejudge.capture.processor import shutdown_exporter

__all__ = [
    "REDACTION_FAILED",
    "RedactingSpanExporter",
    "Redactor",
    "mask_emails",
    "mask_pattern",
    "redact_span",
]

_log = logging.getLogger(__name__)

Redactor = Callable[[str], str]
REDACTION_FAILED = "[REDACTION FAILED]"
EMAIL_MASK = "[EMAIL]"
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


def mask_pattern(pattern: str | re.Pattern[str], replacement: str = "[REDACTED]") -> Redactor:
    """A redactor replacing every match of ``pattern`` with ``replacement``.

    Example: ``register("app", redact=mask_pattern(r"\\b\\d{16}\\b", "[CARD]"))``.
    """
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern

    def redact(value: str) -> str:
        return compiled.sub(replacement, value)

    return redact


mask_emails: Redactor = mask_pattern(_EMAIL, EMAIL_MASK)
mask_emails.__doc__ = "Replace e-mail addresses with ``[EMAIL]``."


class _Scrubber:
    """Applies a redactor to values, turning its failures into ``[REDACTION FAILED]``."""

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self.failures = 0

    def text(self, value: str) -> str:
        try:
            out = self.redactor(value)
            if not isinstance(out, str):
                raise TypeError(f"redactor returned {type(out).__name__}, expected str")
            return out
        except Exception:
            if self.failures == 0:
                _log.warning(
                    "tracejudge: the redactor raised; affected values are exported as %s",
                    REDACTION_FAILED,
                    exc_info=True,
                )
            self.failures += 1
            return REDACTION_FAILED

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
            return tuple(self.text(v) if isinstance(v, str) else v for v in value)
        return value

    def attributes(self, attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if attributes is None:
            return None
        return {k: self.value(v) for k, v in attributes.items()}


def redact_span(span: ReadableSpan, scrubber: _Scrubber | Redactor) -> ReadableSpan:
    """A copy of ``span`` with every string value passed through the redactor."""
    s = scrubber if isinstance(scrubber, _Scrubber) else _Scrubber(scrubber)
    status = span.status
    if status.description:
        status = Status(status.status_code, s.text(status.description))
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=s.attributes(span.attributes),
        events=[Event(e.name, s.attributes(e.attributes), e.timestamp) for e in span.events],
        links=[Link(link.context, s.attributes(link.attributes)) for link in span.links],
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    """Wraps ``inner``: redacts each span, then hands the batch on.

    Runs wherever ``inner.export`` would (the batch worker thread). If redacting a span
    fails outright (not just one value), the batch is dropped and FAILURE returned, so
    nothing unredacted is exported.
    """

    def __init__(self, inner: SpanExporter, redactor: Redactor) -> None:
        if not callable(redactor):
            raise TypeError(f"redact must be a callable str -> str, got {redactor!r}")
        self.inner = inner
        self._scrubber = _Scrubber(redactor)

    @property
    def redaction_failures(self) -> int:
        """How many values were replaced by ``[REDACTION FAILED]`` so far."""
        return self._scrubber.failures

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            redacted = [redact_span(s, self._scrubber) for s in spans]
        except Exception:
            _log.warning("tracejudge: could not redact a batch; dropped it", exc_info=True)
            return SpanExportResult.FAILURE
        return self.inner.export(redacted)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 5000) -> None:
        shutdown_exporter(self.inner, timeout_millis)
