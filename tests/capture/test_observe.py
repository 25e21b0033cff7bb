"""``@observe`` on every kind of callable: attributes, nesting, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from opentelemetry.trace import StatusCode

from tracejudge.capture import observe
from tracejudge.errors import ConfigurationError

from .conftest import Spans


@observe
def shout(text: str) -> str:
    return text.upper()


@observe(kind="TOOL", name="add_numbers")
def add(a: int, b: int = 10) -> dict[str, int]:
    return {"sum": a + b}


@observe(kind="agent")
def pipeline(question: str) -> str:
    total = add(1, b=2)["sum"]
    return f"{shout(question)} {total}"


def test_single_str_argument_is_plain_text_and_str_output_too(memory: Spans) -> None:
    assert shout("hi") == "HI"
    attrs = memory.attrs("shout")
    assert attrs == {
        "openinference.span.kind": "CHAIN",
        "input.value": "hi",
        "input.mime_type": "text/plain",
        "output.value": "HI",
        "output.mime_type": "text/plain",
    }


def test_arguments_and_non_string_output_are_json(memory: Spans) -> None:
    assert add(2, b=3) == {"sum": 5}
    attrs = memory.attrs("add_numbers")
    assert attrs["openinference.span.kind"] == "TOOL"
    assert attrs["tool.name"] == "add_numbers"
    assert json.loads(attrs["input.value"]) == {"a": 2, "b": 3}
    assert attrs["input.mime_type"] == "application/json"
    assert json.loads(attrs["output.value"]) == {"sum": 5}
    assert attrs["output.mime_type"] == "application/json"


def test_positional_fast_path_matches_bound_names(memory: Spans) -> None:
    add(7)
    assert json.loads(memory.attrs("add_numbers")["input.value"]) == {"a": 7}


def test_nesting_builds_parent_child_tree(memory: Spans) -> None:
    assert pipeline("hey") == "HEY 3"
    root, tool, leaf = memory.one("pipeline"), memory.one("add_numbers"), memory.one("shout")
    assert root.parent is None
    assert root.attributes["openinference.span.kind"] == "AGENT"
    for child in (tool, leaf):
        assert child.parent is not None
        assert child.parent.span_id == root.context.span_id
        assert child.context.trace_id == root.context.trace_id


class Agent:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    @observe
    def run(self, text: str) -> str:
        return self.prefix + text

    @observe
    @classmethod
    def build(cls, prefix: str) -> Agent:
        return cls(prefix)


def test_methods_leave_out_self_and_cls(memory: Spans) -> None:
    agent = Agent.build(">")
    assert agent.run("x") == ">x"
    assert memory.attrs("Agent.run")["input.value"] == "x"
    assert memory.attrs("Agent.build")["input.value"] == ">"


class Boom(Exception):
    pass


def test_exception_recorded_and_reraised_unchanged(memory: Spans) -> None:
    error = Boom("bad thing")

    @observe
    def fails() -> None:
        raise error

    with pytest.raises(Boom) as info:
        fails()
    assert info.value is error
    span = memory.one("fails")
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Boom: bad thing"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("Boom")
    assert event.attributes["exception.message"] == "bad thing"


def test_unserializable_values_never_break_the_call(memory: Spans) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

    @observe
    def weird(a: object, b: object) -> object:
        return {"set": {1}, "obj": Opaque(), "big": 2**80}

    result = weird(Opaque(), Hostile())
    assert result["big"] == 2**80
    attrs = memory.attrs("weird")
    assert json.loads(attrs["input.value"]) == {"a": "<opaque>", "b": "<unrepresentable Hostile>"}
    # 2**80 is not JSON-serializable by orjson: the whole value falls back to repr.
    assert attrs["output.value"].startswith("{'set': {1}")
    assert attrs["output.mime_type"] == "text/plain"


@dataclass
class Answer:
    text: str
    score: float


def test_dataclass_output_is_json(memory: Spans) -> None:
    @observe
    def answer() -> Answer:
        return Answer("yes", 0.5)

    answer()
    attrs = memory.attrs("answer")
    assert "input.value" not in attrs  # no arguments, no input
    assert json.loads(attrs["output.value"]) == {"text": "yes", "score": 0.5}


def test_var_kwargs_are_flattened(memory: Spans) -> None:
    @observe
    def configure(name: str, **options: object) -> None:
        return None

    configure("x", depth=2, fast=True)
    attrs = memory.attrs("configure")
    assert json.loads(attrs["input.value"]) == {"name": "x", "depth": 2, "fast": True}
    assert "output.value" not in attrs  # None output is not recorded


def test_async_function_and_nesting(memory: Spans) -> None:
    @observe(kind="RETRIEVER")
    async def fetch(q: str) -> list[str]:
        await asyncio.sleep(0)
        return [q, q]

    @observe
    async def handle(q: str) -> int:
        docs = await fetch(q)
        return len(docs)

    assert asyncio.run(handle("a")) == 2
    parent, child = memory.one("handle"), memory.one("fetch")
    assert child.parent.span_id == parent.context.span_id
    assert json.loads(child.attributes["output.value"]) == ["a", "a"]
    assert child.attributes["openinference.span.kind"] == "RETRIEVER"


def test_async_exception_reraised(memory: Spans) -> None:
    @observe
    async def fails() -> None:
        await asyncio.sleep(0)
        raise Boom("async")

    with pytest.raises(Boom, match="async"):
        asyncio.run(fails())
    assert memory.one("fails").status.status_code is StatusCode.ERROR


def test_generator_collects_output_and_children_nest(memory: Spans) -> None:
    @observe
    def tokens(n: int) -> Iterator[str]:
        for i in range(n):
            yield shout(f"t{i}")
        return None

    assert list(tokens(3)) == ["T0", "T1", "T2"]
    gen_span = memory.one("tokens")
    assert gen_span.attributes["output.value"] == "T0T1T2"
    shouts = [s for s in memory.all if s.name == "shout"]
    assert len(shouts) == 3
    assert all(s.parent.span_id == gen_span.context.span_id for s in shouts)


def test_generator_does_not_leak_its_span_into_the_consumer(memory: Spans) -> None:
    @observe
    def numbers() -> Iterator[int]:
        yield 1
        yield 2

    @observe
    def consumer() -> int:
        total = 0
        for n in numbers():
            total += int(shout(str(n)))  # consumer-side span: child of consumer, not numbers
        return total

    assert consumer() == 3
    consumer_span, numbers_span = memory.one("consumer"), memory.one("numbers")
    assert numbers_span.parent.span_id == consumer_span.context.span_id
    assert all(
        s.parent.span_id == consumer_span.context.span_id for s in memory.all if s.name == "shout"
    )
    assert json.loads(numbers_span.attributes["output.value"]) == [1, 2]


def test_generator_send_throw_and_early_close(memory: Spans) -> None:
    @observe
    def echo() -> Iterator[int]:
        received = 0
        while True:
            try:
                received = yield received * 2
            except ValueError:
                received = -1

    gen = echo()
    assert next(gen) == 0
    assert gen.send(5) == 10
    assert gen.throw(ValueError("x")) == -2
    gen.close()
    span = memory.one("echo")
    assert json.loads(span.attributes["output.value"]) == [0, 10, -2]
    assert span.status.status_code is StatusCode.UNSET


def test_generator_exception_recorded(memory: Spans) -> None:
    @observe
    def broken() -> Iterator[int]:
        yield 1
        raise Boom("mid-stream")

    with pytest.raises(Boom, match="mid-stream"):
        list(broken())
    span = memory.one("broken")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes.get("output.value") is None


def test_async_generator(memory: Spans) -> None:
    @observe(kind="LLM")
    async def stream(prompt: str) -> AsyncIterator[str]:
        for word in prompt.split():
            await asyncio.sleep(0)
            yield word + " "

    async def main() -> list[str]:
        return [w async for w in stream("a b c")]

    assert asyncio.run(main()) == ["a ", "b ", "c "]
    attrs = memory.attrs("stream")
    assert attrs["input.value"] == "a b c"
    assert attrs["output.value"] == "a b c "
    assert attrs["openinference.span.kind"] == "LLM"


def test_async_generator_exception_and_aclose(memory: Spans) -> None:
    @observe
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise Boom("agen")

    @observe
    async def endless() -> AsyncIterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    async def main() -> None:
        with pytest.raises(Boom):
            async for _ in failing():
                pass
        agen = endless()
        assert await agen.__anext__() == 0
        assert await agen.__anext__() == 1
        await agen.aclose()

    asyncio.run(main())
    assert memory.one("failing").status.status_code is StatusCode.ERROR
    assert json.loads(memory.attrs("endless")["output.value"]) == [0, 1]


def test_decorated_function_keeps_metadata_and_kind_is_validated() -> None:
    assert shout.__name__ == "shout"
    assert shout.__wrapped__("x") == "X"  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="kind"):
        observe(kind="NOPE")


def test_works_untraced_without_register() -> None:
    # No register() in this test: the global (no-op by default) tracer is used.
    assert shout("quiet") == "QUIET"
