"""The offline demo model as an LLM judge: deterministic verdicts in the judge's schema.

When the demo assistant runs in-line groundedness, the judge's request goes to the same
bundled OpenAI-compatible server. This answers it the way the rubric asks, by a rule a
reader can check: every sentence of the ANSWER must be mostly made of words that occur in
the CONTEXT (citations like ``(source: kb-x)`` are ignored; admitting the context has no
answer, refusing, or pointing to support needs no support). Templates without a rule
here pass with a reasoning that says so. The reply has the verdict schema's field order
(reasoning first), as JSON text or as a ``verdict`` tool call, matching the request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tracejudge.demo.retriever import tokenize

__all__ = ["GROUNDED_SHARE", "grounded_verdict", "is_judge_request", "judge_reply"]

GROUNDED_SHARE = 0.7
"""A sentence is supported when at least this share of its words occur in the context."""

_VERDICT_TOOL = "verdict"
_TASK = re.compile(r"^## Task: (\S+)", re.MULTILINE)
_SECTION = re.compile(r"^\[([A-Z][A-Z _]*)\]\n(.*?)(?=^\[[A-Z][A-Z _]*\]\n|\Z)", re.M | re.S)
_CITATION = re.compile(r"\(source: [^)]*\)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_NEEDS_NO_SUPPORT = re.compile(
    r"\b(don't know|do not know|sorry|can't|cannot|couldn't|contact support|please)\b",
    re.IGNORECASE,
)
_GROUNDING_TASKS = frozenset({"groundedness", "hallucination"})


def is_judge_request(request: dict[str, Any]) -> bool:
    """True for the judge's requests: JSON mode, or the forced ``verdict`` tool."""
    response_format = request.get("response_format") or {}
    if isinstance(response_format, dict) and response_format.get("type") == "json_object":
        return True
    tools = request.get("tools") or []
    return any((t.get("function") or {}).get("name") == _VERDICT_TOOL for t in tools)


def grounded_verdict(answer: str, context: str) -> dict[str, Any]:
    """``{reasoning, label, score}``: is each sentence of ``answer`` supported by ``context``?"""
    known = set(tokenize(context))
    checked, unsupported = 0, []
    for sentence in _SENTENCE.split(_CITATION.sub("", answer).strip()):
        words = tokenize(sentence)
        if not words or _NEEDS_NO_SUPPORT.search(sentence):
            continue
        checked += 1
        share = sum(w in known for w in words) / len(words)
        if share < GROUNDED_SHARE:
            unsupported.append(f"{sentence.strip()!r} ({share:.0%} of its words in the context)")
    if not checked:
        reasoning = "The answer makes no factual claim that needs support from the context."
    elif unsupported:
        reasoning = "Not supported by the context: " + "; ".join(unsupported) + "."
    else:
        reasoning = f"All {checked} factual sentence(s) of the answer are stated in the context."
    score = 1.0 if not checked else round(1 - len(unsupported) / checked, 3)
    return {
        "reasoning": reasoning,
        "label": "fail" if unsupported else "pass",
        "score": score,
    }


def _verdict(system: str, prompt: str) -> dict[str, Any]:
    task = _TASK.search(system)
    name = task.group(1) if task else "unknown"
    sections = {m.group(1): m.group(2).strip() for m in _SECTION.finditer(prompt)}
    if name in _GROUNDING_TASKS and "ANSWER" in sections and "CONTEXT" in sections:
        return grounded_verdict(sections["ANSWER"], sections["CONTEXT"])
    return {
        "reasoning": f"The offline demo judge has no rule for {name!r}; it finds nothing to flag.",
        "label": "pass",
        "score": 1.0,
    }


def judge_reply(request: dict[str, Any]) -> str | dict[str, Any]:
    """The reply to one judge request, in the structured-output mode it asked for."""
    messages = request.get("messages") or []
    system = next((m.get("content") for m in messages if m.get("role") == "system"), "") or ""
    prompt = next((m.get("content") for m in messages if m.get("role") == "user"), "") or ""
    verdict = _verdict(str(system), str(prompt))
    if any(
        (t.get("function") or {}).get("name") == _VERDICT_TOOL for t in request.get("tools") or []
    ):
        return {"content": None, "tool_calls": [{"name": _VERDICT_TOOL, "arguments": verdict}]}
    return json.dumps(verdict)
