"""The traces page and a trace page over the demo data, in real Chromium.

A reviewer opens the list, clicks a tool-using trace and reads it as the app saw it: the
final answer on the root, the retrieved documents as cards, the system prompt collapsed,
the model's tool call linked to the TOOL span that ran it and its result. Screenshots of
both pages are saved as artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.ui.conftest import UiServer, sign_in

from tracejudge.demo import DemoRun, Expect
from tracejudge.demo.prompt import NO_CONTEXT
from tracejudge.model import SpanKind
from tracejudge.store.review import SQLiteReviewStore


@pytest.fixture
def tool_trace(demo_run: DemoRun) -> Any:
    """The demo question answered with a successful get_order_status call."""
    return next(r for r in demo_run.results if r.question.expect == Expect.TOOL)


def test_traces_page_lists_the_demo_traces_newest_first(
    page: Any, ui_server: UiServer, demo_run: DemoRun, artifacts: Path
) -> None:
    sign_in(page, ui_server)
    page.goto(ui_server.at("/projects/demo/traces"))
    rows = page.locator("table.traces tbody tr")
    stored = ui_server.store.list_traces("demo", limit=50)
    # The judges' own traces are hidden unless asked for.
    app_traces = [t.trace_id for t in stored if t.name == "support_agent"]
    assert len(app_traces) == len(demo_run.results) < len(stored)
    ids = [rows.nth(i).get_attribute("data-trace-id") for i in range(rows.count())]
    assert ids == app_traces  # newest first, as the store orders them
    # Every demo trace shows its in-line verdicts; the deliberate hallucination is a fail.
    failed = page.locator("tr:has(.chip.fail)")
    assert failed.count() >= 1
    page.screenshot(path=str(artifacts / "traces_page.png"), full_page=True)

    # A random sample gets its seed in the URL: reloading it shows the same traces.
    page.click("a:has-text('Random sample')")
    page.wait_for_url("**seed=**")
    sampled = page.locator("table.traces tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.traceId)"
    )
    page.reload()
    assert sampled == page.locator("table.traces tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.traceId)"
    )
    assert sorted(sampled) == sorted(app_traces)  # 20 traces: the sample is all of them
    page.goto(ui_server.at("/projects/demo/traces"))

    page.check("input[name=judges]")
    page.click("button:has-text('Apply')")
    page.wait_for_url("**judges=1**")
    expect(page.locator("table.traces tbody tr")).to_have_count(len(stored))


def test_filter_errors_show_inline_with_the_position(page: Any, ui_server: UiServer) -> None:
    sign_in(page, ui_server)
    page.goto(ui_server.at("/projects/demo/traces"))
    page.fill("input[name=filter]", 'kind == "LLM" and latency_ms >')
    error = page.locator("#filter-error [role=alert]")
    error.wait_for()
    assert "position" in error.inner_text()
    position = int(error.get_attribute("data-position") or 0)
    assert 20 < position <= len('kind == "LLM" and latency_ms >') + 1
    # Fixing it clears the error; applying narrows the list to traces with a TOOL span.
    page.fill("input[name=filter]", 'kind == "TOOL"')
    error.wait_for(state="detached")
    page.click("button:has-text('Apply')")
    page.wait_for_url("**filter=**")
    rows = page.locator("table.traces tbody tr")
    tool_traces = {s.trace_id for s in ui_server.store.list_spans("demo", kind="TOOL")}
    expect(rows).to_have_count(len(tool_traces))
    shown = {rows.nth(i).get_attribute("data-trace-id") for i in range(rows.count())}
    assert shown == tool_traces


def test_open_a_demo_trace_and_read_it(
    page: Any, ui_server: UiServer, tool_trace: Any, artifacts: Path
) -> None:
    sign_in(page, ui_server)
    page.goto(ui_server.at("/projects/demo/traces"))
    page.click(f'tr[data-trace-id="{tool_trace.trace_id}"] a >> nth=0')
    page.wait_for_url(f"**/traces/{tool_trace.trace_id}")

    # The root span is selected: the user's question and the final answer.
    detail = page.locator("#span-detail")
    assert tool_trace.question.text in detail.locator(".io-input").inner_text()
    answer = detail.locator(".io-output .md").inner_text()
    assert answer.strip() == tool_trace.answer.strip()

    # Retrieved documents, as cards with id and score.
    page.click('.tree-row:has(.chip.kind:text-is("RETRIEVER"))')
    cards = detail.locator(".doc-card")
    cards.first.wait_for()
    assert cards.count() >= 1
    first_id = ui_server.store.list_spans(
        "demo", kind=SpanKind.RETRIEVER, trace_id=tool_trace.trace_id
    )[0].attributes["retrieval.documents.0.document.id"]
    assert first_id in cards.first.locator("header").inner_text()
    assert "score" in cards.first.locator("header").inner_text()

    # The first model call: the system prompt is there, collapsed until opened.
    page.click('.tree-row:has(.chip.kind:text-is("LLM")) >> nth=0')
    system = detail.locator("details.system")
    system.wait_for()
    assert system.get_attribute("open") is None
    assert not system.locator(".md").is_visible()
    system.locator("summary").click()
    assert "customer-support assistant" in system.locator(".md").inner_text()
    assert NO_CONTEXT not in system.locator(".md").inner_text()

    page.screenshot(path=str(artifacts / "trace_page_llm.png"), full_page=False)

    # Its tool call, linked to the TOOL span that ran it, which shows the result.
    call = detail.locator(".output .tool-call")
    assert "get_order_status" in call.inner_text()
    call.locator("a.ran-by").click()
    page.wait_for_selector('#span-detail .span-detail h2:has-text("get_order_status")')
    assert "status" in detail.locator(".section.tool").inner_text().lower()
    assert "?span=" in page.url  # the selection is in the URL (shareable)
    assert page.locator(".tree-row.selected .span-name").inner_text() == "get_order_status"
    page.screenshot(path=str(artifacts / "trace_page.png"), full_page=False)


def test_human_labels_show_on_the_traces_page(
    page: Any, ui_server: UiServer, tool_trace: Any
) -> None:
    review = SQLiteReviewStore(ui_server.db_path)
    review.annotate("demo", tool_trace.trace_id, "bo", label="fail", note="wrong carrier")
    review.annotate("demo", tool_trace.trace_id, "cy", label="pass")
    sign_in(page, ui_server)
    page.goto(ui_server.at("/projects/demo/traces"))
    row = page.locator(f'tr[data-trace-id="{tool_trace.trace_id}"]')
    chips = sorted(c.inner_text() for c in row.locator("td:last-child .chip").all())
    assert chips == ["fail · bo", "pass · cy"]
    assert row.locator("td:last-child .chip.fail").get_attribute("title") == "bo: wrong carrier"
    # Labelled traces drop out of the "Unlabelled" sample.
    page.click("a:has-text('Unlabelled')")
    page.wait_for_url("**sample=unlabelled**")
    expect(page.locator(f'tr[data-trace-id="{tool_trace.trace_id}"]')).to_have_count(0)
    assert page.locator("table.traces tbody tr").count() > 0
