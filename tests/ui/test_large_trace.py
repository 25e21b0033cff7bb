"""Large traces stay usable: a 1,000-span trace renders its tree once, collapses and loads a
span's detail on demand; a 3,000-deep chain renders without recursion; the judge's own trace
is one click from the evaluation it produced."""

from __future__ import annotations

import time
from typing import Any

import httpx
from playwright.sync_api import expect
from tests.store._factory import make_span, tid
from tests.ui.conftest import UiServer, sign_in

from tracejudge.demo import DemoRun, Expect
from tracejudge.evals.judge.tracing import TARGET_SPAN_ID
from tracejudge.model import Span

BIG = 7001
STEPS, PER_STEP = 20, 49  # root + 20 steps x (1 + 49) = 1,001 spans


def _big_trace() -> list[Span]:
    spans = [make_span(BIG, 1, kind="AGENT", name="agent", dur_ms=60_000, project="demo")]
    n = 2
    for step in range(STEPS):
        step_id = n
        spans.append(
            make_span(BIG, step_id, 1, start_ms=step * 3000, dur_ms=2900, kind="CHAIN",
                      name=f"step-{step}", project="demo")
        )  # fmt: skip
        n += 1
        for child in range(PER_STEP):
            spans.append(
                make_span(BIG, n, step_id, start_ms=step * 3000 + child * 50, dur_ms=40,
                          kind=("LLM", "TOOL", "RETRIEVER")[child % 3], name=f"call-{n}",
                          project="demo")
            )  # fmt: skip
            n += 1
    return spans


def test_a_thousand_span_trace_collapses_and_loads_details_on_demand(
    page: Any, ui_server: UiServer
) -> None:
    spans = _big_trace()
    assert len(spans) == 1 + STEPS * (1 + PER_STEP)
    ui_server.store.write(spans)
    sign_in(page, ui_server)
    started = time.monotonic()
    page.goto(ui_server.at(f"/traces/{tid(BIG)}"))
    assert time.monotonic() - started < 5
    rows = page.locator(".tree-row")
    assert rows.count() == len(spans)
    visible = page.locator(".tree-row:visible")
    expect(visible).to_have_count(len(spans))

    # Collapse one step: its 49 calls disappear; collapse the root: only the root is left.
    step = page.locator('.tree-row:has(.span-name:text-is("step-3"))')
    step.locator("button.tree-toggle").click()
    expect(visible).to_have_count(len(spans) - PER_STEP)
    root = rows.first
    root.locator("button.tree-toggle").click()
    expect(visible).to_have_count(1)
    # Expanding the root brings everything back except the still-collapsed step.
    root.locator("button.tree-toggle").click()
    expect(visible).to_have_count(len(spans) - PER_STEP)

    # A toggle does not select; a click on a row loads just that span's detail.
    assert "agent" in page.locator("#span-detail h2").inner_text()
    last = page.locator(f'.tree-row[data-span-id="{spans[-1].span_id}"]')
    last.click()
    expect(page.locator("#span-detail h2")).to_contain_text(spans[-1].name)
    assert page.locator(".tree-row.selected").get_attribute("data-span-id") == spans[-1].span_id

    # Arrow keys walk the visible rows.
    page.keyboard.press("ArrowUp")
    expect(page.locator("#span-detail h2")).to_contain_text(spans[-2].name)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#span-detail h2")).to_contain_text(spans[-1].name)


def _get_signed_in(server: UiServer, path: str) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        login = client.get("/login").text
        token = login.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/login", data={"csrf_token": token, "name": "ada"})
        return client.get(path)


def test_a_very_deep_chain_renders(ui_server: UiServer) -> None:
    depth = 3000
    chain = [
        make_span(7002, i, i - 1 if i > 1 else None, start_ms=i, project="demo")
        for i in range(1, depth + 1)
    ]
    ui_server.store.write(chain)
    response = _get_signed_in(ui_server, f"/traces/{tid(7002)}")
    assert response.status_code == 200
    assert response.text.count('class="tree-row') == depth
    assert f'data-depth="{depth - 1}"' in response.text


def test_spans_whose_parents_form_a_cycle_are_still_shown(ui_server: UiServer) -> None:
    # No root, and each span's parent is the other: nothing is reachable from a root.
    ui_server.store.write(
        [make_span(7003, 1, 2, project="demo"), make_span(7003, 2, 1, start_ms=5, project="demo")]
    )
    response = _get_signed_in(ui_server, f"/traces/{tid(7003)}")
    assert response.status_code == 200
    assert response.text.count('class="tree-row') == 2


def test_an_evaluation_links_to_its_judge_trace(
    page: Any, ui_server: UiServer, demo_run: DemoRun
) -> None:
    answered = next(r for r in demo_run.results if r.question.expect == Expect.ANSWER)
    sign_in(page, ui_server)
    page.goto(ui_server.at(f"/traces/{answered.trace_id}"))
    root_id = page.locator("#span-detail article").get_attribute("data-span-id")
    # In-line and task judges each left an evaluation, each with a link to its own trace.
    grounded = page.locator('.eval[data-eval="groundedness"]')
    assert grounded.count() >= 1
    assert grounded.locator("a.judge-link").count() == grounded.count()
    grounded.first.locator("a.judge-link").click()
    page.wait_for_url("**/traces/*")
    judge_trace = page.url.rsplit("/", 1)[1]
    assert judge_trace != answered.trace_id
    judge_root = ui_server.store.trace_spans(judge_trace)
    evaluator = next(s for s in judge_root if s.kind == "EVALUATOR")
    assert evaluator.attributes[TARGET_SPAN_ID] == root_id
    assert page.locator(".tree-row .chip.kind", has_text="EVALUATOR").count() == 1
