"""User content as people read it: markdown, highlighted code and collapsible JSON.

These are the only places the UI turns span content into HTML on purpose, so they are
where escaping is decided:

- markdown goes through markdown-it-py with ``html`` disabled, so raw HTML in a message
  (``<script>``, ``<img onerror=...>``) comes out as text; links keep markdown-it's
  scheme check (no ``javascript:``), get ``rel="noopener noreferrer nofollow"``, and
  images are not rendered at all (a model output must not make the reviewer's browser
  fetch a URL it chose);
- code blocks are highlighted by Pygments, which escapes its input;
- JSON values become nested ``<details>`` built from :func:`markupsafe.escape`d parts.
"""

from __future__ import annotations

from typing import Any

import orjson
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from pygments import highlight as _pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

__all__ = ["highlight_code", "json_tree", "markdown", "parse_json"]

_FORMATTER = HtmlFormatter(nowrap=True)
_MAX_MARKDOWN_CHARS = 200_000  # beyond this, show plain text (parsing stays cheap)
_JSON_OPEN_DEPTH = 2  # nested JSON is open down to this depth


def highlight_code(code: str, language: str | None) -> str:
    """``code`` as highlighted HTML (escaped); plain escaped text for unknown languages."""
    try:
        lexer = get_lexer_by_name(language.strip()) if language else None
    except ClassNotFound:
        lexer = None
    if lexer is None:
        return str(escape(code))
    return str(_pygments_highlight(code, lexer, _FORMATTER))


def _fence_highlight(code: str, language: str, _attrs: str) -> str:
    return highlight_code(code, language)


def _build_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "highlight": _fence_highlight, "breaks": True})
    md.enable("table").enable("strikethrough")
    md.disable("image")

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        tokens[idx].attrSet("target", "_blank")
        return renderer.renderToken(tokens, idx, options, env)  # type: ignore[no-any-return]

    md.add_render_rule("link_open", link_open)
    return md


_MD = _build_markdown()


def markdown(text: str | None) -> Markup:
    """Markdown rendered to safe HTML (raw HTML escaped, no images, highlighted code)."""
    if not text:
        return Markup("")
    if len(text) > _MAX_MARKDOWN_CHARS:
        return Markup("<pre>") + escape(text) + Markup("</pre>")
    return Markup(_MD.render(text))


def parse_json(value: Any) -> Any:
    """A JSON object or array from a string that holds one, else ``None``."""
    if isinstance(value, dict | list):
        return value
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict | list) else None
    return None


def _scalar(value: Any) -> Markup:
    if isinstance(value, str):
        return (
            Markup('<span class="j-str">')
            + escape(orjson.dumps(value).decode())
            + Markup("</span>")
        )
    return Markup('<span class="j-lit">') + escape(orjson.dumps(value).decode()) + Markup("</span>")


def json_tree(
    value: Any, *, label: str | None = None, open_depth: int = _JSON_OPEN_DEPTH
) -> Markup:
    """``value`` as nested collapsible ``<details>`` (objects and arrays), pretty-printed.

    Built with an explicit stack, so deeply nested JSON cannot exhaust the recursion limit.
    """
    parts: list[Markup | str] = []
    # Stack items: ("open", key, value, depth) or ("close", closing markup).
    stack: list[tuple[Any, ...]] = [("node", label, value, 0)]
    while stack:
        item = stack.pop()
        if item[0] == "close":
            parts.append(item[1])
            continue
        _, key, node, depth = item
        key_html = (
            Markup('<span class="j-key">') + escape(key) + Markup("</span>: ")
            if key is not None
            else Markup("")
        )
        if isinstance(node, dict | list) and node:
            size = f"{len(node)} {'keys' if isinstance(node, dict) else 'items'}"
            brackets = ("{", "}") if isinstance(node, dict) else ("[", "]")
            is_open = " open" if depth < open_depth else ""
            parts.append(
                Markup(f'<details class="jnode"{is_open}><summary>')
                + key_html
                + escape(brackets[0])
                + Markup(f' <span class="muted">{size}</span></summary><div class="jbody">')
            )
            stack.append(("close", Markup("</div>") + escape(brackets[1]) + Markup("</details>")))
            children = node.items() if isinstance(node, dict) else enumerate(node)
            for k, v in reversed(list(children)):
                stack.append(("node", str(k), v, depth + 1))
        else:
            empty = "{}" if isinstance(node, dict) else "[]" if isinstance(node, list) else None
            body = escape(empty) if empty is not None else _scalar(node)
            parts.append(Markup('<div class="jleaf">') + key_html + body + Markup("</div>"))
    return Markup('<div class="json-tree">') + Markup("").join(parts) + Markup("</div>")
