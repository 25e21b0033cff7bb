"""The review half of :class:`tracejudge.Client`: annotations, queues and the taxonomy.

Example::

    from tracejudge import Client

    with Client("traces.db") as client:
        review = client.review
        review.annotate("shop", trace_id, "ana", label="fail", note="made-up price")
        queue = review.create_queue("shop", "monday", sample=100, unlabelled_only=True)
        review.next_item(queue.id, "ana")          # claimed for ana for 10 minutes
        review.taxonomy("shop").counts

Against a server (``Client(url=..., api_key=...)``) the same methods go over the REST API
(:class:`RemoteReviewStore`); with a key, the annotator is the key's name (pass that name
or None). Errors are the embedded store's: ConfigurationError, NotFound, FilterSyntaxError.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from tracejudge.errors import ConfigurationError, NotFound
from tracejudge.model import Annotation, Category, ReviewQueue
from tracejudge.review.queues import DEFAULT_LEASE_S, QueueProgress
from tracejudge.review.taxonomy import CategoryCount, SaturationPoint, Taxonomy

if TYPE_CHECKING:
    from tracejudge.remote import RemoteStore
    from tracejudge.store.base import Store
    from tracejudge.store.review import SQLiteReviewStore

__all__ = ["RemoteReviewStore", "ReviewMethods", "review_backend"]

_ANNOTATION_FIELDS = tuple(f.name for f in fields(Annotation))
_CATEGORY_FIELDS = tuple(f.name for f in fields(Category))
_QUEUE_FIELDS = tuple(f.name for f in fields(ReviewQueue))


def _annotation(data: dict[str, Any]) -> Annotation:
    values = {k: data[k] for k in _ANNOTATION_FIELDS}
    values["failure_modes"] = tuple(values["failure_modes"])
    return Annotation(**values)


def _category(data: dict[str, Any]) -> Category:
    return Category(**{k: data[k] for k in _CATEGORY_FIELDS})


def _queue(data: dict[str, Any]) -> ReviewQueue:
    values = {k: data[k] for k in _QUEUE_FIELDS}
    values["items"] = tuple(values["items"])
    return ReviewQueue(**values)


def _progress(data: dict[str, Any]) -> QueueProgress:
    return QueueProgress(data["total"], data["labelled"], data["held"])


class RemoteReviewStore:
    """The :class:`~tracejudge.store.review.SQLiteReviewStore` methods over a server's
    REST API (``/api/v1/annotations``, ``/queues``, ``/categories``, ``/taxonomy``)."""

    def __init__(self, remote: RemoteStore) -> None:
        self._remote = remote

    def _call(self, method: str, path: str, *, not_found: str, **kwargs: Any) -> Any:
        body = self._remote._request(method, path, **kwargs)
        if body is None:
            raise NotFound(not_found)
        return body

    def annotate(
        self,
        project: str,
        trace_id: str,
        annotator: str | None,
        *,
        span_id: str | None = None,
        label: str | None = None,
        note: str | None = None,
        failure_modes: Iterable[str] = (),
        queue_id: str | None = None,
    ) -> Annotation:
        payload = {
            "trace_id": trace_id,
            "span_id": span_id,
            "label": label,
            "note": note,
            "failure_modes": list(failure_modes),
            "queue_id": queue_id,
            "annotator": annotator,
        }
        body = self._call("POST", "/annotations", json=payload, not_found=f"no trace {trace_id}")
        return _annotation(body)

    def undo(
        self, project: str, trace_id: str, annotator: str | None, *, span_id: str | None = None
    ) -> Annotation:
        payload = {"trace_id": trace_id, "span_id": span_id, "annotator": annotator}
        body = self._call("POST", "/annotations/undo", json=payload, not_found=trace_id)
        return _annotation(body)

    def assign(
        self,
        project: str,
        annotation_id: str,
        category: str,
        *,
        author: str | None,
        remove: bool = False,
    ) -> Annotation:
        body = self._call(
            "POST",
            f"/annotations/{annotation_id}/categories",
            params={"project": project},
            json={"category": category, "remove": remove, "author": author},
            not_found=f"no annotation {annotation_id!r}",
        )
        return _annotation(body)

    def current(
        self,
        project: str,
        *,
        trace_ids: Sequence[str] | None = None,
        annotator: str | None = None,
        trace_level_only: bool = False,
    ) -> list[Annotation]:
        if trace_ids is None:
            params = {"project": project, "annotator": annotator}
            rows = self._call("GET", "/annotations", params=params, not_found=project)["data"]
        else:
            rows = []
            for trace_id in trace_ids:
                body = self._remote._request("GET", f"/traces/{trace_id}/annotations")
                rows.extend(body["data"] if body else [])
        found = [_annotation(r) for r in rows]
        return [
            a
            for a in found
            if (annotator is None or a.annotator == annotator)
            and (not trace_level_only or a.span_id is None)
        ]

    def latest_labels(self, project: str, trace_ids: Sequence[str]) -> dict[str, list[Annotation]]:
        out: dict[str, list[Annotation]] = {}
        for a in self.current(project, trace_ids=trace_ids, trace_level_only=True):
            out.setdefault(a.trace_id, []).append(a)
        return out

    def history(
        self, project: str, trace_id: str, *, annotator: str | None = None
    ) -> list[Annotation]:
        body = self._call(
            "GET",
            f"/traces/{trace_id}/annotations",
            params={"history": "true"},
            not_found=f"no trace {trace_id!r}",
        )
        rows = [_annotation(r) for r in body["data"]]
        return [a for a in rows if annotator is None or a.annotator == annotator]

    def create_queue(
        self,
        project: str,
        name: str,
        *,
        filter: str | None = None,
        sample: int | None = None,
        seed: int | None = None,
        unlabelled_only: bool = False,
        include_judge_traces: bool = False,
        limit: int = 100,
        created_by: str | None = None,
    ) -> ReviewQueue:
        payload = {
            "project": project,
            "name": name,
            "filter": filter,
            "sample": sample,
            "seed": seed,
            "unlabelled_only": unlabelled_only,
            "include_judge_traces": include_judge_traces,
            "limit": limit,
        }
        return _queue(self._call("POST", "/queues", json=payload, filter=filter, not_found=project))

    def queue(self, queue_id: str, project: str | None = None) -> ReviewQueue:
        body = self._call("GET", f"/queues/{queue_id}", not_found=f"no review queue {queue_id!r}")
        if project is not None and body["project"] != project:
            raise NotFound(f"no review queue {queue_id!r} in project {project!r}")
        return _queue(body)

    def queues(self, project: str) -> list[ReviewQueue]:
        body = self._call("GET", "/queues", params={"project": project}, not_found=project)
        return [_queue(q) for q in body["data"]]

    def next_item(
        self,
        queue_id: str,
        annotator: str | None,
        *,
        project: str | None = None,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> str | None:
        if lease_s != DEFAULT_LEASE_S:
            raise ConfigurationError("lease_s: a server uses its own lease")
        body = self._call(
            "POST",
            f"/queues/{queue_id}/next",
            json={"annotator": annotator},
            not_found=f"no review queue {queue_id!r}",
        )
        return body["trace_id"]  # type: ignore[no-any-return]

    def progress(self, queue_id: str, project: str | None = None) -> QueueProgress:
        body = self._call("GET", f"/queues/{queue_id}", not_found=f"no review queue {queue_id!r}")
        return _progress(body["progress"])

    def create_category(
        self, project: str, name: str, definition: str, *, created_by: str | None = None
    ) -> Category:
        payload = {"project": project, "name": name, "definition": definition}
        return _category(self._call("POST", "/categories", json=payload, not_found=project))

    def categories(self, project: str) -> list[Category]:
        body = self._call("GET", "/categories", params={"project": project}, not_found=project)
        return [_category(c) for c in body["data"]]

    def taxonomy(self, project: str, *, step: int | None = None) -> Taxonomy:
        body = self._call(
            "GET", "/taxonomy", params={"project": project, "step": step}, not_found=project
        )
        return Taxonomy(
            reviewed=body["reviewed"],
            counts=tuple(
                CategoryCount(_category(c["category"]), c["traces"], c["rate"])
                for c in body["counts"]
            ),
            uncategorized=body["uncategorized"],
            notes=tuple(_annotation(a) for a in body["notes"]),
            saturation=tuple(SaturationPoint(**p) for p in body["saturation"]),
            step=body["step"],
        )


def review_backend(store: Store) -> SQLiteReviewStore | RemoteReviewStore:
    """Where ``store``'s review records live: its SQLite file, or its server."""
    from tracejudge.remote import RemoteStore

    if isinstance(store, RemoteStore):
        return RemoteReviewStore(store)
    path = getattr(store, "path", None)
    if path is None:
        raise ConfigurationError("review needs an embedded SQLite store or a server url")
    from tracejudge.store.review import SQLiteReviewStore

    return SQLiteReviewStore(path)


class ReviewMethods:
    """Mixed into :class:`tracejudge.Client`: ``client.review``."""

    _store: Store

    @property
    def review(self) -> SQLiteReviewStore | RemoteReviewStore:
        """Annotations, review queues and the failure taxonomy of this client's store
        (same methods locally and against a server; see the module docstring)."""
        return review_backend(self._store)
