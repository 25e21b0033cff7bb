"""How evaluator inputs appear in a judge prompt: readable text, not Python reprs.

Inputs arrive as whatever an attribute path resolved to: plain text, a list of retrieved
documents, a list of tool calls, chat messages, or arbitrary JSON. A judge reads a
numbered list of document contents far better than ``[{'content': ...}]``, so every
``{{ value }}`` in a template goes through :func:`readable` (it is the Jinja2 environment's
``finalize``), and user templates get the same treatment without asking for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["NONE_TEXT", "readable"]

NONE_TEXT = "(none)"
_CONTENT_KEYS = ("content", "text", "page_content", "document.content")
_NAME_KEYS = ("name", "tool", "tool_name", "function")
_ARGUMENT_KEYS = ("arguments", "args", "input")
_RESULT_KEYS = ("result", "output")


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, indent=None, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _first(mapping: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if mapping.get(key) is not None:
            return mapping[key]
    return None


def _inline(value: Any) -> str:
    """A nested value on one line: text as is, anything else compact JSON."""
    return value if isinstance(value, str) else _json(value)


def _item(value: Any) -> str:
    """One list element: a document, a tool call, a chat message, or JSON."""
    if not isinstance(value, Mapping):
        return _inline(value)
    content = _first(value, _CONTENT_KEYS)
    if content is not None and "role" in value:
        return f"{value['role']}: {_inline(content)}"
    if content is not None:
        labels = [f"{k}: {value[k]}" for k in ("id", "score") if value.get(k) is not None]
        prefix = f"({', '.join(labels)}) " if labels else ""
        return prefix + _inline(content)
    name = _first(value, _NAME_KEYS)
    if (
        isinstance(name, str)
        and "arguments" not in value
        and ("description" in value or "parameters" in value)
    ):  # a tool definition
        text = name
        if value.get("description"):
            text += f": {value['description']}"
        if value.get("parameters") is not None:
            text += f" (parameters: {_inline(value['parameters'])})"
        return text
    if isinstance(name, str):
        arguments = _first(value, _ARGUMENT_KEYS)
        text = f"{name}({_inline(arguments) if arguments is not None else ''})"
        result = _first(value, _RESULT_KEYS)
        if result is not None:
            text += f" -> {_inline(result)}"
        if value.get("error") is not None:
            text += f" !! error: {_inline(value['error'])}"
        return text
    return _json(value)


def readable(value: Any) -> str:
    """Text for one template value.

    ``None`` and empty lists become ``(none)``; strings and numbers stay as they are; a
    list becomes numbered lines (``[1] (id: d1, score: 0.8) Refunds take 5 days``,
    ``[2] get_order_status({"order_id": "TH-1"}) -> {"status": "shipped"}``, tool
    definitions as ``name: description (parameters: {...})``); a mapping
    becomes JSON.
    """
    if value is None:
        return NONE_TEXT
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    if isinstance(value, Mapping):
        return _json(value)
    if isinstance(value, list | tuple):
        if not value:
            return NONE_TEXT
        return "\n".join(f"[{i}] {_item(v)}" for i, v in enumerate(value, start=1))
    return str(value)
