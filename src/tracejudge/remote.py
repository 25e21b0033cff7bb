"""A :class:`~tracejudge.store.base.Store` over a tracejudge server's REST API.

``Client(url=..., api_key=...)`` wraps a :class:`RemoteStore` exactly as it wraps the
embedded SQLite store, so every ``Client`` method (and its errors) behaves the same
against a local file or a ``tracejudge serve``. The JSON shape of each record on the REST
API is defined here once (``*_to_json`` / ``*_from_json``) and used by both the server
routes and this store.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import httpx

from tracejudge.errors import (
    ConfigurationError,
    FilterSyntaxError,
    NotFound,
    StoreError,
    TracejudgeError,
)
from tracejudge.model import Evaluation, Span, TraceSummary, WriteResult
from tracejudge.store.base import VerifyReport

if TYPE_CHECKING:
    from tracejudge.remote_tasks import RemoteTasks

__all__ = [
    "AuthenticationError",
    "RemoteStore",
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


class RemoteStore:
    """The Store protocol over HTTP (reads, and writes of evaluations).

    Example::

        from tracejudge.client import Client

        with Client(url="http://127.0.0.1:6464", api_key="tj_...") as client:
            for row in client.traces("shop", limit=10):
                print(row.trace_id, row.input_preview)

    :param url: the server's base URL (``/api/v1`` is appended).
    :param api_key: a project key; sent as ``Authorization: Bearer``.
    :param timeout: seconds per request.
    :param transport: an ``httpx`` transport, e.g. ``httpx.ASGITransport(app)`` in tests.

    Errors: :class:`AuthenticationError` on 401/403, :class:`FilterSyntaxError` (with the
    position) when the server rejects a span filter, :class:`ConfigurationError` on another
    rejected argument (400/422), :class:`StoreError` when the server is unreachable or
    fails. Spans are not written through here (send them over OTLP, e.g.
    ``register(endpoint=...)``), and ``verify`` needs the database file itself.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
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
        filter: str | None = None,
    ) -> Any:
        """One API call, or None for a 404; other error statuses raise.

        ``filter``: the span filter sent with the call, so a 400 naming a ``position``
        becomes the same :class:`FilterSyntaxError` the embedded store raises.
        """
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(method, path, params=query, json=json)
        except httpx.HTTPError as e:
            raise StoreError(f"{method} {self.url}/api/v1{path}: {e}") from e
        if response.is_success:
            return response.json()
        if response.status_code == 404:
            return None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        detail = body.get("detail", response.text)
        position = body.get("position")
        message = f"{method} {path}: HTTP {response.status_code}: {detail}"
        if response.status_code in (401, 403):
            raise AuthenticationError(message)
        if response.status_code == 400 and filter is not None and position is not None:
            raise FilterSyntaxError(str(detail), int(position), filter)
        if response.status_code in (400, 422):
            raise ConfigurationError(message)
        raise StoreError(message)

    def write(self, spans: Sequence[Span], evaluations: Sequence[Evaluation] = ()) -> WriteResult:
        """Post evaluations (each committed before the next); spans are refused.

        Evaluation ids are sent along, so re-posting the same one is a no-op.
        """
        if spans:
            raise StoreError("RemoteStore does not write spans; export them over OTLP")
        for ev in evaluations:
            body = {
                "id": ev.id,
                "span_id": ev.span_id,
                "name": ev.name,
                "score": ev.score,
                "label": ev.label,
                "explanation": ev.explanation,
                "evaluator": ev.evaluator,
            }
            body = {k: v for k, v in body.items() if v is not None}
            if self._request("POST", "/evaluations", json=body) is None:
                raise NotFound(f"no span {ev.span_id} on the server (in the key's project)")
        return WriteResult(evaluations=len(evaluations))

    def trace_spans(self, trace_id: str, project: str | None = None) -> list[Span]:
        data = self._request("GET", f"/traces/{trace_id}", params={"project": project})
        if data is None:
            return []
        return [span_from_json(node) for node in _walk_nodes(data["roots"])]

    def span(self, span_id: str, project: str | None = None) -> Span | None:
        data = self._request("GET", f"/spans/{span_id}", params={"project": project})
        return None if data is None else span_from_json(data)

    def list_traces(
        self, project: str, *, limit: int = 50, before: int | None = None
    ) -> list[TraceSummary]:
        params = {"project": project, "limit": limit, "before": before}
        page = self._request("GET", "/traces", params=params)
        return [summary_from_json(row) for row in page["data"]] if page else []

    def list_spans(
        self,
        project: str | None = None,
        *,
        kind: str | None = None,
        trace_id: str | None = None,
        limit: int = 100,
        after_seq: int | None = None,
        filter: str | None = None,
    ) -> list[Span]:
        params = {
            "project": project,
            "kind": kind,
            "trace_id": trace_id,
            "limit": limit,
            "after_seq": after_seq,
            "filter": filter,
        }
        page = self._request("GET", "/spans", params=params, filter=filter)
        return [span_from_json(s) for s in page["data"]] if page else []

    def evaluations(
        self, *, span_id: str | None = None, trace_id: str | None = None
    ) -> list[Evaluation]:
        if span_id is not None:
            page = self._request("GET", f"/spans/{span_id}/evaluations")
        elif trace_id is not None:
            page = self._request("GET", f"/traces/{trace_id}/evaluations")
        else:
            raise ConfigurationError("evaluations() needs span_id or trace_id")
        return [evaluation_from_json(e) for e in page["data"]] if page else []

    def projects(self) -> list[str]:
        return [p["name"] for p in self._request("GET", "/projects")["data"]]

    def verify(self) -> VerifyReport:
        raise StoreError(
            "verify() needs the database file; run `tracejudge verify --db ...` on the server"
        )

    def task_store(self) -> RemoteTasks:
        """Eval tasks on the server (``Client(url=...).create_task`` and friends use it)."""
        from tracejudge.remote_tasks import RemoteTasks

        return RemoteTasks(self)

    def close(self) -> None:
        """Close the HTTP connection pool. Idempotent."""
        self._http.close()

    def __repr__(self) -> str:
        return f"RemoteStore({self.url!r})"
