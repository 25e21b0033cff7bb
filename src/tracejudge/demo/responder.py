"""The offline "demo model": a deterministic responder for the bundled OpenAI-compatible server.

It reads what a real model would read (the system prompt's context, the user question,
the offered tools, tool results) and answers the way a careful support model should:
call ``get_order_status`` when an order number appears, compose the answer from the
retrieved articles, say it does not know when nothing relevant was retrieved, and
refuse requests for other customers' data. Deterministic, so tests can assert on it.

It has one flaw on purpose, the kind real models have: asked what something costs when
the best article gives no price, it guesses one (:data:`PRICE_GUESS`). The demo's in-line
groundedness judge catches it, so ``tracejudge demo`` shows an evaluation that fails.
It also serves as the demo's LLM judge: judge requests (JSON mode or the forced
``verdict`` tool) are answered by :mod:`tracejudge.demo.verdicts`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tracejudge.demo.prompt import parse_context
from tracejudge.demo.retriever import tokenize
from tracejudge.demo.tools import ORDER_ID_PATTERN
from tracejudge.demo.verdicts import is_judge_request, judge_reply

__all__ = ["DONT_KNOW", "PRICE_GUESS", "REFUSAL", "demo_responder"]

DONT_KNOW = (
    "I don't know: the help center has no article about that. "
    "Please contact support@trailhead.example and a person will help you."
)
REFUSAL = "I'm sorry, but I can't share personal information about other customers."

_PERSONAL_DATA = re.compile(
    r"\b(home address|phone number|email address|credit card)\b.*\b(customer|someone|other)\b"
    r"|\b(customer|someone|other)\b.*\b(home address|phone number|email address|credit card)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_ASKS_PRICE = re.compile(r"\b(how much|cost|price)\b", re.IGNORECASE)
PRICE_GUESS = "It usually comes to about $15."
"""What the demo model makes up when asked for a price the articles do not give."""


def demo_responder(request: dict[str, Any]) -> str | dict[str, Any]:
    """Reply to one chat-completions request body: a text answer or a tool call."""
    if is_judge_request(request):
        return judge_reply(request)
    messages = request.get("messages") or []
    if not messages:
        return DONT_KNOW
    last = messages[-1]
    if last.get("role") == "tool":
        return _answer_from_tool(_text(last.get("content")))
    question = _text(last.get("content"))
    if _PERSONAL_DATA.search(question):
        return REFUSAL
    order_id = ORDER_ID_PATTERN.search(question)
    if order_id and _offers_tool(request, "get_order_status"):
        arguments = {"order_id": order_id.group(0).upper()}
        return {
            "content": None,
            "tool_calls": [{"name": "get_order_status", "arguments": arguments}],
        }
    system = next((_text(m.get("content")) for m in messages if m.get("role") == "system"), "")
    return _answer_from_context(question, system)


def _text(content: Any) -> str:
    """Message content as text; the demo assistant only ever sends plain strings."""
    return content if isinstance(content, str) else ""


def _offers_tool(request: dict[str, Any], name: str) -> bool:
    tools = request.get("tools") or []
    return any((t.get("function") or {}).get("name") == name for t in tools)


def _answer_from_context(question: str, system_prompt: str) -> str:
    """The sentence of the retrieved articles sharing most words with the question, cited.

    Words shared with the article's title count too, so the article that is about the
    question wins over one that merely mentions its words; ties go to the better-ranked one.
    """
    terms = set(tokenize(question))
    best: tuple[int, str, str] | None = None
    for doc in parse_context(system_prompt):
        title_overlap = len(terms & set(tokenize(doc.title)))
        for sentence in _SENTENCE.split(doc.content):
            overlap = len(terms & set(tokenize(sentence)))
            if overlap and (best is None or overlap + title_overlap > best[0]):
                best = (overlap + title_overlap, sentence, doc.id)
    if best is None:
        return DONT_KNOW
    _, sentence, doc_id = best
    if _ASKS_PRICE.search(question) and "$" not in sentence:
        sentence = f"{sentence} {PRICE_GUESS}"  # the deliberate hallucination
    return f"{sentence} (source: {doc_id})"


def _answer_from_tool(result_json: str) -> str:
    """Turn a get_order_status result (or its error) into a customer-facing sentence."""
    try:
        result = json.loads(result_json)
    except ValueError:
        result = {"error": result_json}
    if not isinstance(result, dict) or "error" in result:
        error = result.get("error") if isinstance(result, dict) else result
        return (
            f"I couldn't look up that order ({error}). Please check the order number; "
            "it looks like TH-1234 and is in your confirmation email."
        )
    answer = f"Order {result.get('order_id')} ({result.get('item')}) is {result.get('status')}"
    if result.get("carrier"):
        answer += f", carrier {result['carrier']}"
    if result.get("estimated_delivery"):
        answer += f", estimated delivery {result['estimated_delivery']}"
    return answer + "."
