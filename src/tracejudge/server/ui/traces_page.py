"""``/projects/{project}/traces``: the list a reviewer scans, filters and samples.

One handler serves the full page and, for htmx requests, only the results block (the
filter form swaps it in place and pushes the URL, so every view is a shareable link).
``/projects/{project}/traces/check-filter`` answers the filter box as the user types:
empty when the expression parses, else the error with a caret under its position.
"""

from __future__ import annotations

import random
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from tracejudge.errors import ConfigurationError, FilterSyntaxError
from tracejudge.model import Annotation
from tracejudge.query.filter import compile_filter
from tracejudge.server.deps import StoreDep
from tracejudge.server.ui.auth import UiSessionDep
from tracejudge.server.ui.templating import render
from tracejudge.server.ui.trace_list import (
    MAX_PAGE,
    Sampler,
    Sort,
    TraceListQuery,
    list_trace_page,
)
from tracejudge.store.base import Store

__all__ = ["human_labels", "router"]

router = APIRouter(include_in_schema=False)

_SAMPLER_NAMES = {
    Sampler.RANDOM: "Random sample",
    Sampler.SLOW: "Slowest",
    Sampler.LONG: "Longest outputs",
    Sampler.FAILED: "Failed evals",
    Sampler.UNLABELLED: "Unlabelled",
}


def human_labels(store: Store, project: str, trace_ids: list[str]) -> dict[str, list[Annotation]]:
    """Current trace-level labels per trace (every annotator's latest), from the review store."""
    path = getattr(store, "path", None)
    if path is None or not trace_ids:
        return {}
    from tracejudge.store.review import SQLiteReviewStore

    return SQLiteReviewStore(path).latest_labels(project, trace_ids)


def _filter_error(expression: str | None) -> FilterSyntaxError | None:
    if not expression:
        return None
    try:
        compile_filter(expression)
    except FilterSyntaxError as e:
        return e
    return None


@router.get("/projects/{project}/traces/check-filter")
def check_filter(
    request: Request, project: str, session: UiSessionDep, filter: str = ""
) -> Response:
    """The filter box's live check: empty, or the error pointing at its position."""
    session.check_project(project)
    error = _filter_error(filter.strip())
    return render(request, "_filter_error.html", {"error": error, "expression": filter.strip()})


@router.get("/projects/{project}/traces")
def traces(
    request: Request,
    project: str,
    session: UiSessionDep,
    store: StoreDep,
    filter: str = "",
    q: str = "",
    sort: Sort = Sort.TIME,
    sample: Sampler | None = None,
    seed: Annotated[int | None, Query(ge=0, le=2**31)] = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    judges: bool = False,
) -> Response:
    """Newest traces first; ``filter``/``q`` narrow, ``sort`` orders, ``sample`` picks."""
    session.check_project(project)
    expression = filter.strip()
    if sample is Sampler.RANDOM and seed is None:
        # Draw the seed once and put it in the URL, so the sample can be shared and reloaded.
        query = dict(request.query_params) | {"seed": str(random.randrange(2**31))}
        return RedirectResponse(f"{request.url.path}?{urlencode(query)}", status_code=303)
    params: dict[str, Any] = {
        "filter": expression,
        "q": q.strip(),
        "sort": sort.value if sort is not Sort.TIME else "",
        "sample": sample.value if sample else "",
        "seed": seed if sample is Sampler.RANDOM else "",
        "limit": limit if limit != 50 else "",
        "judges": "1" if judges else "",
    }
    error = _filter_error(expression)
    page = None
    labels: dict[str, list[Annotation]] = {}
    if error is None:
        try:
            page = list_trace_page(
                store,
                TraceListQuery(
                    project,
                    filter=expression or None,
                    search=q.strip() or None,
                    sort=sort,
                    sampler=sample,
                    seed=seed or 0,
                    limit=limit,
                    after=after,
                    judges=judges,
                ),
            )
        except ConfigurationError as e:
            context = {"status": 400, "message": str(e)}
            return render(request, "error.html", context, status_code=400)
        labels = human_labels(store, project, [r.trace_id for r in page.rows])

    def url(**changes: Any) -> str:
        merged = {**params, **changes}
        query = urlencode({k: v for k, v in merged.items() if v not in ("", None)})
        return f"/projects/{quote(project, safe='')}/traces" + (f"?{query}" if query else "")

    context = {
        "project": project,
        "active": "traces",
        "page": page,
        "labels": labels,
        "error": error,
        "expression": expression,
        "q": q.strip(),
        "sort": sort,
        "sample": sample,
        "samplers": _SAMPLER_NAMES,
        "sorts": list(Sort),
        "url": url,
        "is_first_page": after is None,
        "judges": judges,
    }
    partial = request.headers.get("HX-Target") == "trace-results"
    return render(request, "_trace_results.html" if partial else "traces.html", context)
