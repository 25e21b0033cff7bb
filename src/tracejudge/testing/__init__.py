"""Test helpers shipped with tracejudge (like httpx's ``MockTransport``).

:class:`OpenAIServer` is a real OpenAI-compatible HTTP server on loopback, so tests and
the offline demo can drive the unmodified ``openai`` SDK without a network.
"""

from __future__ import annotations

from tracejudge.testing.exporters import CountingSpanExporter
from tracejudge.testing.openai_server import (
    Fail,
    OpenAIServer,
    RecordedRequest,
    Reply,
    Responder,
    ScriptedResponder,
    count_tokens,
    echo_responder,
    fake_embedding,
)

__all__ = [
    "CountingSpanExporter",
    "Fail",
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "Responder",
    "ScriptedResponder",
    "count_tokens",
    "echo_responder",
    "fake_embedding",
]
