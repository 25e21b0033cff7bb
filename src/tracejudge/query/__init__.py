"""Reading stored spans: attribute-path resolution and the span filter language.

Example::

    from tracejudge.query import resolve

    resolve("trace.documents", span, trace)
    store.list_spans("shop", filter='kind == "LLM" and latency_ms > 2000')
"""

from __future__ import annotations

from tracejudge.query.filter import CompiledFilter, compile_filter
from tracejudge.query.paths import compile_path, resolve

__all__ = ["CompiledFilter", "compile_filter", "compile_path", "resolve"]
