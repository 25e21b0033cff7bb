"""``register``: resource, validation, the current provider, flush/shutdown/stats."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracejudge import capture
from tracejudge.capture import observe, span
from tracejudge.capture.otlp import traces_url
from tracejudge.errors import ConfigurationError


@observe
def ping() -> str:
    return "pong"


def test_resource_names_project_and_service(monkeypatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    provider = capture.register("proj", span_exporter=InMemorySpanExporter(), set_global=False)
    try:
        attrs = provider.resource.attributes
        assert attrs["openinference.project.name"] == "proj"
        assert attrs["service.name"] == "proj"
    finally:
        capture.shutdown()


def test_user_otel_service_name_wins(monkeypatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "checkout-api")
    provider = capture.register("proj", span_exporter=InMemorySpanExporter(), set_global=False)
    try:
        assert provider.resource.attributes["service.name"] == "checkout-api"
        assert provider.resource.attributes["openinference.project.name"] == "proj"
    finally:
        capture.shutdown()


def test_latest_register_receives_observe_and_span() -> None:
    first, second = InMemorySpanExporter(), InMemorySpanExporter()
    capture.register("one", span_exporter=first, set_global=False, batch=False)
    ping()
    capture.register("two", span_exporter=second, set_global=False, batch=False)
    ping()
    with span("manual"):
        pass
    capture.shutdown()
    assert [s.name for s in first.get_finished_spans()] == ["ping"]
    assert [s.name for s in second.get_finished_spans()] == ["ping", "manual"]
    assert second.get_finished_spans()[0].resource.attributes["openinference.project.name"] == "two"


def test_set_global_false_leaves_the_global_provider_alone() -> None:
    before = trace.get_tracer_provider()
    provider = capture.register("local", span_exporter=InMemorySpanExporter(), set_global=False)
    try:
        assert trace.get_tracer_provider() is before
        assert trace.get_tracer_provider() is not provider
    finally:
        capture.shutdown()


def test_batch_export_happens_after_flush() -> None:
    memory = InMemorySpanExporter()
    capture.register("b", span_exporter=memory, set_global=False)
    try:
        ping()
        assert capture.flush(timeout_s=5)
        assert [s.name for s in memory.get_finished_spans()] == ["ping"]
        assert capture.stats().project == "b"
    finally:
        capture.shutdown()
    assert capture.stats() == capture.CaptureStats()
    assert capture.flush() is True  # nothing registered: nothing to do


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"project": ""}, "project"),
        ({"project": "p", "endpoint": "localhost:6464"}, "endpoint"),
        ({"project": "p", "endpoint": "ftp://h"}, "endpoint"),
        ({"project": "p", "redact": "emails"}, "redact"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        capture.register(set_global=False, **kwargs)


def test_traces_url() -> None:
    assert traces_url("http://127.0.0.1:6464") == "http://127.0.0.1:6464/v1/traces"
    assert traces_url("https://tj.example/") == "https://tj.example/v1/traces"
    assert traces_url("http://h/v1/traces") == "http://h/v1/traces"


def test_public_surface() -> None:
    assert sorted(capture.__all__) == capture.__all__
    for name in capture.__all__:
        assert getattr(capture, name) is not None
