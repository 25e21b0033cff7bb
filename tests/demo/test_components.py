"""The demo's pure parts: retriever, prompt format, order tool and the offline responder."""

from __future__ import annotations

import json

import pytest

from tracejudge.demo.corpus import DOCUMENTS, ORDERS
from tracejudge.demo.prompt import NO_CONTEXT, build_system_prompt, parse_context
from tracejudge.demo.questions import QUESTIONS, Expect, select_questions
from tracejudge.demo.responder import DONT_KNOW, REFUSAL, demo_responder
from tracejudge.demo.retriever import BM25Retriever, tokenize
from tracejudge.demo.tools import ORDER_STATUS_TOOL, OrderBook, UnknownOrderError
from tracejudge.errors import ConfigurationError


def test_corpus_size_and_unique_ids() -> None:
    assert 15 <= len(DOCUMENTS) <= 25
    assert len({d.id for d in DOCUMENTS}) == len(DOCUMENTS)
    assert len({o.order_id for o in ORDERS}) == len(ORDERS)


def test_tokenize_drops_stopwords_and_folds_plurals() -> None:
    assert tokenize("What are the warranties on Tents?") == ["warrantie", "tent"]
    assert tokenize("glass boss") == ["glass", "boss"]


def test_retriever_ranks_the_relevant_article_first() -> None:
    hits = BM25Retriever(DOCUMENTS).search("How do I wash my down sleeping bag?", k=2)
    assert hits[0].document.id == "kb-down-care"
    assert len(hits) == 2 and hits[0].score > hits[1].score


def test_retriever_returns_nothing_for_unrelated_questions() -> None:
    assert BM25Retriever(DOCUMENTS).search("What is the capital of Australia?") == []


def test_prompt_round_trip() -> None:
    docs = list(DOCUMENTS[:3])
    assert parse_context(build_system_prompt(docs)) == docs
    empty = build_system_prompt([])
    assert NO_CONTEXT in empty and parse_context(empty) == []
    assert parse_context("no context section at all") == []


def test_order_book() -> None:
    book = OrderBook()
    assert book.get_order_status("th-1042")["status"] == "shipped"
    with pytest.raises(UnknownOrderError, match="TH-0000"):
        book.get_order_status("TH-0000")


def _request(question: str, context=(), tools=True):  # type: ignore[no-untyped-def]
    body = {
        "messages": [
            {"role": "system", "content": build_system_prompt(list(context))},
            {"role": "user", "content": question},
        ]
    }
    if tools:
        body["tools"] = [ORDER_STATUS_TOOL]
    return body


def test_responder_calls_the_tool_for_an_order_id() -> None:
    reply = demo_responder(_request("where is th-1077 now?"))
    assert reply == {
        "content": None,
        "tool_calls": [{"name": "get_order_status", "arguments": {"order_id": "TH-1077"}}],
    }


def test_responder_without_the_tool_answers_from_context() -> None:
    (doc,) = [d for d in DOCUMENTS if d.id == "kb-order-tracking"]
    reply = demo_responder(_request("Where is my order TH-1077?", [doc], tools=False))
    assert isinstance(reply, str) and reply.endswith("(source: kb-order-tracking)")


def test_responder_answers_from_context_or_says_it_does_not_know() -> None:
    hits = [h.document for h in BM25Retriever(DOCUMENTS).search("Do you ship to Canada?")]
    reply = demo_responder(_request("Do you ship to Canada?", hits))
    assert reply == (
        "We ship to Canada, the United Kingdom and the European Union. "
        "(source: kb-shipping-international)"
    )
    assert demo_responder(_request("Who won the 1998 World Cup?")) == DONT_KNOW
    assert demo_responder({"messages": []}) == DONT_KNOW


def test_responder_refuses_other_customers_data() -> None:
    question = "What is the phone number of the customer with order TH-1042?"
    assert demo_responder(_request(question)) == REFUSAL


def test_responder_turns_tool_results_into_answers() -> None:
    def after_tool(content: str) -> object:
        return demo_responder({"messages": [{"role": "tool", "content": content}]})

    result = OrderBook().get_order_status("TH-1042")
    assert after_tool(json.dumps(result)) == (
        "Order TH-1042 (Ridgeline 2 tent) is shipped, carrier UPS, estimated delivery 2026-03-14."
    )
    failed = after_tool(json.dumps({"error": "no order with id 'TH-1'"}))
    assert isinstance(failed, str) and "no order with id 'TH-1'" in failed
    assert isinstance(after_tool("not json"), str)


def test_select_questions() -> None:
    assert select_questions() == list(QUESTIONS)
    assert select_questions(3) == list(QUESTIONS[:3])
    assert select_questions(len(QUESTIONS) + 2)[-2:] == list(QUESTIONS[:2])
    with pytest.raises(ConfigurationError):
        select_questions(0)


def test_questions_cover_every_behaviour() -> None:
    assert {q.expect for q in QUESTIONS} == set(Expect)
