"""Session, user, tags and metadata that apply to every span started inside a block.

We reuse OpenInference's context managers (``using_session``, ``using_user``,
``using_tags``, ``using_metadata``, ``using_attributes``): they keep the values in the
OpenTelemetry context (contextvars, so nestable and safe across asyncio tasks) and the
OpenInference instrumentors already read them. :class:`ContextAttributesProcessor` makes
every *other* span (ours, and those of non-OpenInference instrumentors) carry them too, by
copying them onto the span when it starts.
"""

from __future__ import annotations

from openinference.instrumentation import (
    using_attributes,
    using_metadata,
    using_session,
    using_tags,
    using_user,
)
from openinference.instrumentation.context_attributes import CONTEXT_ATTRIBUTES
from opentelemetry.context import Context, get_value
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace import Span as SDKSpan

__all__ = [
    "ContextAttributesProcessor",
    "using_attributes",
    "using_metadata",
    "using_session",
    "using_tags",
    "using_user",
]


class ContextAttributesProcessor(SpanProcessor):
    """Stamps the ``using_*`` context values onto each span as it starts.

    Runs on the thread that starts the span, so it only reads a handful of context keys
    (no I/O, no locks beyond the span's own).
    """

    def on_start(self, span: SDKSpan, parent_context: Context | None = None) -> None:
        found = None
        for key in CONTEXT_ATTRIBUTES:
            value = get_value(key, parent_context)
            if value is not None:
                if found is None:
                    found = {}
                found[key] = value
        if found:
            span.set_attributes(found)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
