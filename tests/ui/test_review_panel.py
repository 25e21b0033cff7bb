"""The label panel on the trace page, in a real browser: autosave with the mouse, span-level
labels, undo, and the other reviewer's label shown beside one's own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.ui.conftest import REVIEWER, UiServer, sign_in

from tracejudge.demo import DemoRun
from tracejudge.store.review import SQLiteReviewStore


def test_label_panel_autosaves_on_the_trace_page(
    demo_run: DemoRun, ui_server: UiServer, page: Any, artifacts: Path
) -> None:
    project = demo_run.project
    trace_id = demo_run.traces[0].trace_id
    review = SQLiteReviewStore(ui_server.db_path)
    review.create_category(project, "Wrong document", "retrieval returned the wrong article")
    review.annotate(project, trace_id, "grace", label="pass")
    sign_in(page, ui_server)
    page.goto(ui_server.at(f"/traces/{trace_id}"))
    panel = page.locator("[data-label-panel]")
    panel.wait_for()
    assert "grace: pass" in panel.locator(".others").inner_text()

    panel.locator('[data-set-label="fail"]').click()
    panel.locator("[data-note]").fill("answered from the <b>wrong</b> article")
    panel.locator("[data-mode]", has_text="Wrong document").click()
    page.wait_for_function(
        "() => document.querySelector('[data-save-status]').textContent === 'Saved'"
    )
    mine = [a for a in review.current(project, trace_ids=[trace_id]) if a.annotator == REVIEWER]
    assert [(a.label, a.note, len(a.failure_modes), a.span_id) for a in mine] == [
        ("fail", "answered from the <b>wrong</b> article", 1, None)
    ]

    # Span-level: pick a span in the scope select; the panel reloads for that key.
    span_id = next(s.span_id for s in ui_server.store.trace_spans(trace_id) if s.parent_span_id)
    panel.locator("[data-scope]").select_option(span_id)
    page.wait_for_selector(f'[data-label-panel][data-span-id="{span_id}"]')
    page.locator('[data-label-panel] [data-set-label="defer"]').click()
    page.wait_for_function(
        "() => document.querySelector('[data-save-status]').textContent === 'Saved'"
    )
    page.locator("[data-label-panel] [data-undo]").click()
    page.wait_for_function(
        "() => document.querySelector('[data-save-status]').textContent === 'Undone'"
    )
    page.screenshot(path=str(artifacts / "review_label_panel.png"), full_page=True)
    spans = [a for a in review.history(project, trace_id) if a.span_id == span_id]
    assert [(a.action, a.label) for a in spans] == [("set", "defer"), ("undo", None)]
    assert page.dialogs == []
