"""Realistic synthetic spans shared by the store benchmarks.

Each trace is a 5-span RAG + tool-calling interaction in OpenInference shape: an AGENT
root, a RETRIEVER with 3 documents of ~300 characters, two LLM calls with a ~500-char
system prompt and ~400-char outputs, and a TOOL call — about 1.6 kB of JSON per span.
Everything derives from a seeded RNG and a fixed clock, so runs are comparable.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from tracejudge.model import Span

__all__ = ["SPANS_PER_TRACE", "make_trace", "make_traces", "span_json_bytes"]

SPANS_PER_TRACE = 5
_T0 = 1_780_000_000_000_000_000  # a fixed wall clock, ns
_WORDS = [
    "order",
    "refund",
    "shipping",
    "account",
    "policy",
    "invoice",
    "customer",
    "warranty",
    "return",
    "delivery",
    "payment",
    "subscription",
    "discount",
    "product",
    "support",
    "ticket",
    "address",
    "tracking",
    "status",
    "the",
    "a",
    "of",
    "to",
    "and",
    "for",
    "with",
    "is",
    "on",
    "in",
    "please",
    "can",
    "you",
    "my",
    "your",
    "we",
    "will",
    "be",
]
_RESOURCE = {
    "service.name": "shop-assistant",
    "telemetry.sdk.language": "python",
    "telemetry.sdk.name": "opentelemetry",
    "telemetry.sdk.version": "1.30.0",
}
_SCOPE = {"name": "openinference.instrumentation.openai", "version": "0.1.20"}


def _text(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    n = 0
    while n < chars:
        w = rng.choice(_WORDS)
        words.append(w)
        n += len(w) + 1
    return " ".join(words)[:chars]


def _hex(rng: random.Random, nbytes: int) -> str:
    return rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big").hex()


def make_trace(rng: random.Random, index: int, project: str = "bench") -> list[Span]:
    """One 5-span trace; ``index`` spaces start times 1 s apart."""
    trace_id = _hex(rng, 16)
    ids = [_hex(rng, 8) for _ in range(SPANS_PER_TRACE)]
    root_id, ret_id, llm1_id, tool_id, llm2_id = ids
    t = _T0 + index * 1_000_000_000
    question = _text(rng, 120)
    system = _text(rng, 500)
    docs = [_text(rng, 300) for _ in range(3)]
    tool_out = _text(rng, 200)
    answer = _text(rng, 400)
    common = {"session.id": f"s{index % 97}", "user.id": f"u{index % 31}"}

    def span(
        span_id: str, parent: str | None, name: str, kind: str, start: int, end: int, **kw: object
    ) -> Span:
        attrs = {"openinference.span.kind": kind, **common, **kw.pop("attributes", {})}  # type: ignore[dict-item]
        return Span(
            trace_id=trace_id,
            span_id=span_id,
            parent_span_id=parent,
            project=project,
            name=name,
            kind=kind,
            status="OK",
            status_message=None,
            start_ns=start,
            end_ns=end,
            attributes=attrs,
            resource=_RESOURCE,
            scope=_SCOPE,
            session_id=common["session.id"],
            user_id=common["user.id"],
            **kw,  # type: ignore[arg-type]
        )

    def llm(span_id: str, start: int, out: str, content: str) -> Span:
        return span(
            span_id, root_id, "ChatCompletion", "LLM", start, start + 700_000_000,
            attributes={
                "llm.model_name": "gpt-4o-mini",
                "llm.provider": "openai",
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": system,
                "llm.input_messages.1.message.role": "user",
                "llm.input_messages.1.message.content": content,
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": out,
                "llm.token_count.prompt": 180,
                "llm.token_count.completion": 95,
                "llm.token_count.total": 275,
            },
            input=content, output=out, model="gpt-4o-mini", provider="openai",
            prompt_tokens=180, completion_tokens=95,
        )  # fmt: skip

    retriever_attrs: dict[str, object] = {"input.value": question}
    for i, d in enumerate(docs):
        retriever_attrs[f"retrieval.documents.{i}.document.id"] = f"doc-{rng.randrange(10**6)}"
        retriever_attrs[f"retrieval.documents.{i}.document.content"] = d
        retriever_attrs[f"retrieval.documents.{i}.document.score"] = round(rng.random(), 4)
    return [
        span(root_id, None, "agent.run", "AGENT", t, t + 2_500_000_000,
             attributes={"input.value": question, "output.value": answer},
             input=question, output=answer),
        span(ret_id, root_id, "retrieve", "RETRIEVER", t + 10_000_000, t + 200_000_000,
             attributes=retriever_attrs, input=question),
        llm(llm1_id, t + 210_000_000, '{"tool": "lookup_order"}', question),
        span(tool_id, root_id, "lookup_order", "TOOL", t + 920_000_000, t + 1_000_000_000,
             attributes={"tool.name": "lookup_order", "input.value": '{"order": 1}',
                         "output.value": tool_out},
             input='{"order": 1}', output=tool_out),
        llm(llm2_id, t + 1_010_000_000, answer, tool_out),
    ]  # fmt: skip


def make_traces(n_traces: int, *, seed: int = 7, project: str = "bench") -> Iterator[list[Span]]:
    """``n_traces`` traces from one seeded RNG (same seed, same spans)."""
    rng = random.Random(seed)
    for i in range(n_traces):
        yield make_trace(rng, i, project)


def span_json_bytes(span: Span) -> int:
    """Approximate stored size of a span's JSON payload (for the ~1.6 kB/span claim)."""
    from tracejudge.model import canonical_bytes

    return len(canonical_bytes(span))
