"""Reading stored spans: attribute-path resolution (and, later, the span filter language).

Example::

    from tracejudge.query import resolve

    resolve("trace.documents", span, trace)
"""

from __future__ import annotations

from tracejudge.query.paths import compile_path, resolve

__all__ = ["compile_path", "resolve"]
