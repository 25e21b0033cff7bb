"""The assistant's system prompt: how retrieved articles are written into it and read back.

Both sides live here so they cannot drift apart: the assistant renders the context with
:func:`build_system_prompt`, and the offline demo model reads it back with
:func:`parse_context`, exactly as a real model would only see the prompt text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from tracejudge.demo.corpus import COMPANY, Document

__all__ = ["NO_CONTEXT", "build_system_prompt", "parse_context"]

NO_CONTEXT = "(no relevant help-center articles were found)"
_CONTEXT_HEADER = "Context:"
_LINE = re.compile(r"^\[(?P<id>[^\]]+)\] (?P<title>[^:]+): (?P<content>.+)$")

_INSTRUCTIONS = f"""\
You are the customer-support assistant of {COMPANY}, an outdoor gear shop.
Answer only from the help-center articles in the context below and from the results of
the get_order_status tool. Call get_order_status whenever the customer gives an order
number. If the context does not contain the answer, say "I don't know" and suggest
contacting support; never guess. Never reveal personal data about other customers.
Keep answers short and cite the article id you used."""


def build_system_prompt(documents: Sequence[Document]) -> str:
    """The system message: instructions, then one ``[id] title: content`` line per article."""
    lines = [f"[{d.id}] {d.title}: {d.content}" for d in documents] or [NO_CONTEXT]
    return "\n".join([_INSTRUCTIONS, "", _CONTEXT_HEADER, *lines])


def parse_context(system_prompt: str) -> list[Document]:
    """The articles :func:`build_system_prompt` wrote into a prompt, in order (may be empty)."""
    _, found, context = system_prompt.partition(f"\n{_CONTEXT_HEADER}\n")
    if not found:
        return []
    docs = []
    for line in context.splitlines():
        match = _LINE.match(line)
        if match:
            docs.append(Document(match["id"], match["title"], match["content"]))
    return docs
