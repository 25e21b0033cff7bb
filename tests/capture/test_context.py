"""Session, user, tags and metadata stamped on every span started inside ``using_*``."""

from __future__ import annotations

import asyncio
import json

from opentelemetry.sdk.trace import TracerProvider

from tracejudge.capture import (
    ContextAttributesProcessor,
    observe,
    span,
    using_metadata,
    using_session,
    using_tags,
    using_user,
)

from .conftest import Spans


@observe
def step(name: str) -> str:
    return name


def test_values_stamped_and_nesting_restores(memory: Spans) -> None:
    with using_session("s-1"), using_user("u-1"), using_tags(["beta", "eu"]):
        with using_metadata({"plan": "pro"}):
            step("a")
        with using_session("s-2"):
            step("b")
        step("c")
    step("d")
    by_input = {s.attributes["input.value"]: dict(s.attributes) for s in memory.all}
    a, b, c, d = (by_input[n] for n in "abcd")
    assert a["session.id"] == "s-1"
    assert a["user.id"] == "u-1"
    assert list(a["tag.tags"]) == ["beta", "eu"]
    assert json.loads(a["metadata"]) == {"plan": "pro"}
    assert b["session.id"] == "s-2"
    assert b["user.id"] == "u-1"
    assert c["session.id"] == "s-1"
    assert "metadata" not in c
    assert "session.id" not in d and "user.id" not in d and "tag.tags" not in d


def test_values_follow_asyncio_tasks_without_leaking(memory: Spans) -> None:
    async def handle(session: str) -> None:
        with using_session(session):
            await asyncio.sleep(0.01)  # interleave with the other task
            with span(f"work-{session}"):
                await asyncio.sleep(0)

    async def main() -> None:
        with using_user("shared-user"):
            await asyncio.gather(handle("A"), handle("B"), asyncio.create_task(handle("C")))
        with span("after"):
            pass

    asyncio.run(main())
    for session in "ABC":
        attrs = memory.attrs(f"work-{session}")
        assert attrs["session.id"] == session
        assert attrs["user.id"] == "shared-user"
    assert "user.id" not in memory.attrs("after")


def test_processor_stamps_spans_of_a_plain_otel_tracer() -> None:
    # Spans from any tracer on the provider (e.g. non-OpenInference instrumentors) get them.
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(ContextAttributesProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("third-party")
    with using_session("s-9"), tracer.start_as_current_span("http"):
        pass
    (sp,) = exporter.get_finished_spans()
    assert sp.attributes["session.id"] == "s-9"
    provider.shutdown()
