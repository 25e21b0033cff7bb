"""The UI skeleton in a real browser: sign in with a reviewer name, land on the projects."""

from __future__ import annotations

from typing import Any

from tests.ui.conftest import REVIEWER, UiServer, sign_in


def test_open_server_asks_the_reviewer_name_once(page: Any, ui_server: UiServer) -> None:
    page.goto(ui_server.at("/projects"))
    assert "/login" in page.url
    sign_in(page, ui_server)
    assert page.url.endswith("/projects")
    assert page.locator(".topbar .user").inner_text().startswith(REVIEWER)
    assert page.locator(".project-list a", has_text="demo").count() == 1
    page.goto(ui_server.at("/projects"))  # the cookie keeps the name
    assert "/login" not in page.url
    assert page.evaluate("typeof htmx") == "object"  # vendored htmx is served and loads
