"""Review in a real browser: label 5 traces of a queue with the keyboard alone, then group
the notes into a category on the taxonomy page and watch its count update."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.ui.conftest import REVIEWER, UiServer, sign_in

from tracejudge.demo import DemoRun
from tracejudge.store.review import SQLiteReviewStore

_ITEM = re.compile(r"/queues/[0-9a-f]{32}\?trace=([0-9a-f]{32})$")


def _current_trace(page: Any) -> str:
    match = _ITEM.search(page.url)
    assert match, page.url
    return match.group(1)


def _wait_for_next_item(page: Any, previous: str) -> None:
    page.wait_for_function(
        "prev => !location.href.endsWith(prev) && !!document.querySelector('[data-label-panel]')",
        arg=previous,
    )
    page.wait_for_load_state()


def test_label_five_traces_with_the_keyboard_alone(
    demo_run: DemoRun, ui_server: UiServer, page: Any, artifacts: Path
) -> None:
    project = demo_run.project
    review = SQLiteReviewStore(ui_server.db_path)
    sign_in(page, ui_server)
    # Build the queue through the form: a seeded sample of 6 unlabelled traces.
    page.goto(ui_server.at(f"/projects/{project}/queues"))
    page.fill("input[name=name]", "keyboard run")
    page.fill("input[name=size]", "6")
    page.fill("input[name=seed]", "11")
    page.check("input[name=unlabelled_only]")
    page.click(".build-queue button[type=submit]")
    page.wait_for_selector("[data-label-panel]")
    (queue,) = review.queues(project)
    assert (queue.name, queue.seed, len(queue.items), queue.created_by) == (
        "keyboard run",
        11,
        6,
        REVIEWER,
    )
    assert page.locator("[data-progress]").inner_text() == "0 of 6 labelled"

    # ? shows the keys; j/k move through the queue without labelling.
    page.keyboard.press("?")
    assert page.locator("[data-keys-help]").is_visible()
    page.keyboard.press("?")
    assert not page.locator("[data-keys-help]").is_visible()
    first = _current_trace(page)
    page.keyboard.press("j")
    _wait_for_next_item(page, first)
    assert _current_trace(page) == queue.items[queue.items.index(first) + 1]
    page.keyboard.press("k")
    _wait_for_next_item(page, queue.items[queue.items.index(first) + 1])
    assert _current_trace(page) == first

    expected: dict[str, tuple[str, str | None]] = {}
    plan = [
        ("1", None),
        ("2", "quoted a price the docs do not give"),
        ("d", None),
        ("2", None),
        ("1", None),
    ]
    for i, (key, note) in enumerate(plan):
        trace_id = _current_trace(page)
        if i == 0:
            page.keyboard.press("2")  # a wrong key first, then undo it
            page.wait_for_selector('[data-set-label="fail"][aria-pressed="true"]')
            page.keyboard.press("u")
            page.wait_for_selector("[data-save-status]:has-text('Undone')")
        page.keyboard.press(key)
        label = {"1": "pass", "2": "fail", "d": "defer"}[key]
        page.wait_for_selector(f'[data-set-label="{label}"][aria-pressed="true"]')
        if note is not None:
            page.keyboard.press("n")
            page.keyboard.type(note)
            page.keyboard.press("1")  # typed into the note, not a label change
            assert page.locator('[data-set-label="fail"][aria-pressed="true"]').count() == 1
        expected[trace_id] = (label, f"{note}1" if note else None)
        if i == 4:
            page.wait_for_selector("[data-save-status]:has-text('Saved')")
            page.wait_for_selector("[data-progress]:has-text('5 of 6 labelled')")
            page.screenshot(path=str(artifacts / "review_queue.png"), full_page=True)
        page.keyboard.press("Control+Enter")
        _wait_for_next_item(page, trace_id)

    assert page.locator("[data-progress]").inner_text() == "5 of 6 labelled"
    current = review.current(project)
    assert {(a.trace_id, a.annotator, a.label, a.note) for a in current} == {
        (t, REVIEWER, label, note) for t, (label, note) in expected.items()
    }
    assert all(a.queue_id == queue.id and a.span_id is None for a in current)
    assert set(expected) <= set(queue.items) and len(expected) == 5
    assert page.dialogs == []
    page.goto(ui_server.at(f"/projects/{project}/queues"))
    assert "5 of 6 labelled" in page.locator("table.queues").inner_text()
    page.screenshot(path=str(artifacts / "review_queues.png"), full_page=True)

    # Taxonomy: define a category, assign the note to it, and the count updates.
    page.goto(ui_server.at(f"/projects/{project}/taxonomy"))
    assert page.locator("[data-reviewed]").inner_text() == "5"
    page.fill("input[name=name]", "Made-up price")
    page.fill(
        "textarea[name=definition]",
        "The answer states a price the retrieved documents do not give.",
    )
    page.click("form.new-category button[type=submit]")
    page.wait_for_load_state()
    row = page.locator('tr[data-category="Made-up price"]')
    assert row.locator("[data-count]").inner_text() == "0"
    note = page.locator("li.note", has_text="quoted a price the docs do not give")
    note.locator("form.assign button[type=submit]").click()
    page.wait_for_load_state()
    row = page.locator('tr[data-category="Made-up price"]')
    assert row.locator("[data-count]").inner_text() == "1"
    assert row.locator("[data-rate]").inner_text() == "20%"
    page.screenshot(path=str(artifacts / "review_taxonomy.png"), full_page=True)
    (category,) = review.categories(project)
    noted = [a for a in review.current(project) if a.note]
    assert [(a.failure_modes, a.author) for a in noted] == [((category.id,), REVIEWER)]
