"""The read API over HTTP: what ``Client(url=..., api_key=...)`` delegates to.

:class:`RemoteClient` has the methods of the embedded :class:`tracejudge.client.Client`
and returns the same records (:class:`~tracejudge.model.TraceSummary`,
:class:`~tracejudge.model.Trace`, :class:`~tracejudge.model.Span`,
:class:`~tracejudge.model.Evaluation`), so code works the same against a local file or
a ``tracejudge serve``. The JSON shape of each record on the REST API is defined here
once (``*_to_json`` / ``*_from_json``) and used by both the server routes and this client.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import fields
from types import TracebackType
from typing import Any

import httpx

from tracejudge.errors import (
    ConfigurationError,
    NotFound,
    SpanNotFound,
    StoreError,
    TracejudgeError,
    TraceNotFound,
)
from tracejudge.model import Evaluation, Span, Trace, TraceSummary

__all__ = [
    "AuthenticationError",
    "RemoteClient",
    "evaluation_from_json",
    "evaluation_to_json",
    "span_from_json",
    "span_to_json",
    "summary_from_json",
    "summary_to_json",
]

_SPAN_FIELDS = tuple(f.name for f in fields(Span))
_EVALUATION_FIELDS = tuple(f.name for f in fields(Evaluation))
_SUMMARY_FIELDS = tuple(f.name for f in fields(TraceSummary))


class AuthenticationError(TracejudgeError, PermissionError):
    """The server refused the API key (401) or its project scope (403)."""


def span_to_json(span: Span) -> dict[str, Any]:
    """A span as the REST API sends it: every field, tags as a list, plus ``latency_ms``."""
    out = {name: getattr(span, name) for name in _SPAN_FIELDS}
    out["tags"] = list(span.tags)
    out["latency_ms"] = span.latency_ms
    return out


def span_from_json(data: dict[str, Any]) -> Span:
    """The inverse of :func:`span_to_json` (extra keys are ignored)."""
    values = {name: data[name] for name in _SPAN_FIELDS if name in data}
    values["tags"] = tuple(values.get("tags") or ())
    return Span(**values)


def evaluation_to_json(evaluation: Evaluation) -> dict[str, Any]:
    """An evaluation as the REST API sends it."""
    return {name: getattr(evaluation, name) for name in _EVALUATION_FIELDS}


def evaluation_from_json(data: dict[str, Any]) -> Evaluation:
    """The inverse of :func:`evaluation_to_json` (extra keys are ignored)."""
    return Evaluation(**{name: data[name] for name in _EVALUATION_FIELDS if name in data})


def summary_to_json(summary: TraceSummary) -> dict[str, Any]:
    """A trace-list row as the REST API sends it, plus ``latency_ms`` and ``total_tokens``."""
    out = {name: getattr(summary, name) for name in _SUMMARY_FIELDS}
    out["latency_ms"] = summary.latency_ms
    out["total_tokens"] = summary.total_tokens
    return out


def summary_from_json(data: dict[str, Any]) -> TraceSummary:
    """The inverse of :func:`summary_to_json` (extra keys are ignored)."""
    return TraceSummary(**{name: data[name] for name in _SUMMARY_FIELDS if name in data})


def _walk_nodes(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every node of a nested span tree, parents before children."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.get("children") or ()))


class RemoteClient:
    """Read (and annotate) traces on a tracejudge server over its REST API.

    Example::

        with RemoteClient("http://127.0.0.1:6464", api_key="tj_...") as client:
            for row in client.traces("shop", limit=10):
                print(row.trace_id, row.input_preview)

    :param url: the server's base URL (``/api/v1`` is appended).
    :param api_key: a project key; sent as ``Authorization: Bearer``.
    :param timeout: seconds per request.
    :param transport: an ``httpx`` transport, e.g. ``httpx.ASGITransport(app)`` in tests.
    :raises AuthenticationError: on 401/403; :class:`TraceNotFound`/:class:`SpanNotFound`
        on 404 of a trace/span; :class:`StoreError` when the server is unavailable.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"url must start with http:// or https://, got {url!r}")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + "/api/v1", headers=headers, timeout=timeout, transport=transport
        )

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        not_found: type[NotFound] = NotFound,
    ) -> Any:
        """One API call; translates error statuses into tracejudge exceptions."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, json=json)
        except httpx.HTTPError as e:
            raise StoreError(f"{method} {self.url}{path}: {e}") from e
        if response.is_success:
            return response.json()
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        message = f"{method} {path}: HTTP {response.status_code}: {detail}"
        if response.status_code in (401, 403):
            raise AuthenticationError(message)
        if response.status_code == 404:
            raise not_found(message)
        if response.status_code in (400, 422):
            raise ConfigurationError(message)
        raise StoreError(message)

    def projects(self) -> list[str]:
        """Project names with at least one span (only the key's own project with a key)."""
        return [p["name"] for p in self._request("GET", "/projects")["data"]]

    def traces(
        self, project: str, limit: int = 50, before: int | None = None
    ) -> list[TraceSummary]:
        """Newest traces first; ``before`` is the ``start_ns`` cursor of the last row seen."""
        page = self._request(
            "GET", "/traces", params={"project": project, "limit": limit, "before": before}
        )
        return [summary_from_json(row) for row in page["data"]]

    def trace(self, trace_id: str, project: str | None = None) -> Trace:
        """All spans of one trace as a tree; raises :class:`TraceNotFound`."""
        data = self._request(
            "GET", f"/traces/{trace_id}", params={"project": project}, not_found=TraceNotFound
        )
        return Trace(trace_id, tuple(span_from_json(n) for n in _walk_nodes(data["roots"])))

    def span(self, span_id: str, project: str | None = None) -> Span:
        """One span by id; raises :class:`SpanNotFound`."""
        data = self._request(
            "GET", f"/spans/{span_id}", params={"project": project}, not_found=SpanNotFound
        )
        return span_from_json(data)

    def spans(
        self,
        project: str | None = None,
        kind: str | None = None,
        limit: int = 100,
        after_seq: int | None = None,
        *,
        trace_id: str | None = None,
    ) -> list[Span]:
        """Spans in ingest order after the ``after_seq`` cursor."""
        page = self._request(
            "GET",
            "/spans",
            params={
                "project": project,
                "kind": kind,
                "limit": limit,
                "after_seq": after_seq,
                "trace_id": trace_id,
            },
        )
        return [span_from_json(s) for s in page["data"]]

    def evaluations(
        self, *, span_id: str | None = None, trace_id: str | None = None
    ) -> list[Evaluation]:
        """Evaluations of one span, or of every span of one trace, oldest first.

        Raises :class:`ConfigurationError` unless exactly one of the two is given.
        """
        if (span_id is None) == (trace_id is None):
            raise ConfigurationError("evaluations() takes exactly one of span_id or trace_id")
        page = self._request(
            "GET", "/evaluations", params={"span_id": span_id, "trace_id": trace_id}
        )
        return [evaluation_from_json(e) for e in page["data"]]

    def log_evaluation(
        self,
        span_id: str,
        name: str,
        *,
        score: float | None = None,
        label: str | None = None,
        explanation: str | None = None,
        evaluator: str | None = None,
        id: str | None = None,
    ) -> Evaluation:
        """Attach an evaluation to a stored span; returns it once it is committed.

        Pass ``id`` to make retries idempotent (a second post with the same id is a no-op).
        """
        body = {
            "span_id": span_id,
            "name": name,
            "score": score,
            "label": label,
            "explanation": explanation,
            "evaluator": evaluator,
            "id": id,
        }
        data = self._request(
            "POST",
            "/evaluations",
            json={k: v for k, v in body.items() if v is not None},
            not_found=SpanNotFound,
        )
        return evaluation_from_json(data)

    def close(self) -> None:
        """Close the HTTP connection pool. Idempotent."""
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
