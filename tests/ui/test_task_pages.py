"""The eval-task and evaluator pages over the demo data (which ``tracejudge demo`` scored
with its two tasks), in real Chromium; screenshots saved as artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect
from tests.ui.conftest import UiServer, sign_in

from tracejudge.demo import DemoRun
from tracejudge.demo.tasks import CODE_TASK, GROUNDEDNESS_TASK
from tracejudge.store.tasks import SQLiteTaskStore


def test_task_list_task_page_and_pause_resume(
    page: Any, ui_server: UiServer, demo_run: DemoRun, artifacts: Path
) -> None:
    tasks = SQLiteTaskStore(ui_server.db_path)
    code = tasks.get(CODE_TASK, "demo")
    sign_in(page, ui_server)
    page.goto(ui_server.at("/projects/demo/tasks"))
    rows = page.locator("table.tasks tbody tr")
    expect(rows).to_have_count(2)
    grounded_row = page.locator(f"tr:has(a:text-is('{GROUNDEDNESS_TASK}'))")
    expect(grounded_row.locator(".chip.state-paused")).to_have_text("paused")
    expect(grounded_row.locator(".chip.outcome-scored")).to_contain_text(str(len(demo_run.results)))
    expect(grounded_row.locator(".rate .ev-name")).to_have_text("groundedness")
    code_row = page.locator(f"tr[data-task='{code.id}']")
    expect(code_row.locator(".chip.outcome-sampled_out")).to_be_visible()
    page.screenshot(path=str(artifacts / "tasks_page.png"), full_page=True)

    # Pause from the list (a CSRF-checked form POST), then resume from the task page.
    code_row.locator("button:has-text('Pause')").click()
    page.wait_for_load_state()
    assert tasks.get(code.id).state == "paused"
    page.click(f"a:text-is('{CODE_TASK}')")
    page.wait_for_url(f"**/tasks/{code.id}")
    expect(page.locator("h1 .chip")).to_have_text("paused")
    page.click("button:has-text('Resume')")
    page.wait_for_url(f"**/tasks/{code.id}")
    expect(page.locator("h1 .chip")).to_have_text("active")
    assert tasks.get(code.id).state == "active"

    # The run log narrowed to one outcome; every row links to the span's trace.
    status = tasks.status(code.id)
    page.click("nav.samplers a:has-text('sampled out')")
    page.wait_for_url("**outcome=sampled_out**")
    log = page.locator("table.outcomes-log tbody tr")
    expect(log).to_have_count(status.counts["sampled_out"])
    expect(page.locator("table.outcomes-log .chip.outcome-sampled_out")).to_have_count(
        status.counts["sampled_out"]
    )
    page.screenshot(path=str(artifacts / "task_page.png"), full_page=True)
    log.first.locator("a").click()
    page.wait_for_url("**/traces/**")


def test_evaluators_page_shows_pass_rates_over_time(
    page: Any, ui_server: UiServer, artifacts: Path
) -> None:
    sign_in(page, ui_server)
    page.goto(ui_server.at("/projects/demo/evaluators"))
    names = page.locator("table.evaluators tbody tr td:first-child")
    expect(names).to_have_text(["groundedness", "latency_budget", "tool_call_valid"])
    grounded = page.locator("tr:has(td:text-is('groundedness'))")
    expect(grounded.locator(".chip.other")).to_have_text(["inline", "task"])
    expect(grounded.locator("svg.sparkline circle").first).to_be_attached()
    page.screenshot(path=str(artifacts / "evaluators_page.png"), full_page=True)


def test_task_pages_are_scoped_and_csrf_checked(ui_server: UiServer) -> None:
    _, other_key = ui_server.keys.create("other")
    code = SQLiteTaskStore(ui_server.db_path).get(CODE_TASK, "demo")
    with httpx.Client(base_url=ui_server.url, follow_redirects=False) as http:
        login = http.get("/login")
        token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        r = http.post("/login", data={"api_key": other_key, "csrf_token": token})
        assert r.status_code == 303
        for path in ("/projects/demo/tasks", f"/projects/demo/tasks/{code.id}"):
            assert http.get(path).status_code == 404
        assert http.get("/projects/other/tasks").status_code == 200
        assert http.post(f"/projects/other/tasks/{code.id}/pause").status_code == 403
