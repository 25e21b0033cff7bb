"""User content is text, sessions are real, and a key's project is the edge of what it sees.

The hostile trace is sent over OTLP to the running server (the real ingest path), then
opened in Chromium: every ``<script>``, event handler, ``javascript:`` link and image in
span names, inputs, chat messages, documents, tool calls, attributes and evaluation
explanations must come out as visible text, with no dialog and no script side effect.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.server.conftest import PROTOBUF, make_request, make_span
from tests.ui.conftest import UiServer, serve_copy, sign_in

from tracejudge.model import Evaluation

SCRIPT = "<script>window.__pwned = 1; alert('xss')</script>"
IMG = "<img src=x onerror=\"window.__pwned = 2; alert('img')\">"
MD_LINK = "[click me](javascript:window.__pwned=3)"
MD_IMAGE = "![tracker](http://127.0.0.1:9/track.png)"
HOSTILE = f"{SCRIPT} {IMG} {MD_LINK} {MD_IMAGE} <b>bold?</b>"
TRACE = 0xBAD


def _hostile_trace(url: str, project: str = "evil") -> str:
    root, llm, retr, tool = 1, 2, 3, 4
    spans = [
        make_span(
            TRACE,
            root,
            name=f"agent {SCRIPT}",
            **{"openinference.span.kind": "AGENT", "input.value": HOSTILE, "output.value": HOSTILE},
        ),
        make_span(
            TRACE,
            retr,
            root,
            name="retrieve",
            **{
                "openinference.span.kind": "RETRIEVER",
                "retrieval.documents.0.document.id": f"doc {IMG}",
                "retrieval.documents.0.document.content": HOSTILE,
                "retrieval.documents.0.document.score": 0.5,
            },
        ),
        make_span(
            TRACE,
            llm,
            root,
            name="llm",
            **{
                "openinference.span.kind": "LLM",
                "llm.input_messages.0.message.role": "system",
                "llm.input_messages.0.message.content": HOSTILE,
                "llm.input_messages.1.message.role": f"user{SCRIPT}",
                "llm.input_messages.1.message.content": HOSTILE,
                "llm.output_messages.0.message.role": "assistant",
                "llm.output_messages.0.message.content": HOSTILE,
                "llm.output_messages.0.message.tool_calls.0.tool_call.id": f"c1{SCRIPT}",
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": IMG,
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": (
                    '{"q": "' + IMG.replace('"', "'") + '"}'
                ),
                f"attr {SCRIPT}": HOSTILE,
            },
        ),
        make_span(
            TRACE,
            tool,
            root,
            name=IMG,
            **{"openinference.span.kind": "TOOL", "tool.name": IMG, "output.value": HOSTILE},
        ),
    ]
    response = httpx.post(
        url + "/v1/traces",
        content=make_request(spans, service=project),
        headers=PROTOBUF,
        timeout=10,
    )
    assert response.status_code == 200
    return f"{TRACE:032x}"


def _no_script_ran(page: Any) -> None:
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []


def test_script_and_markdown_injection_render_as_text(
    page: Any, ui_server: UiServer, artifacts: Path
) -> None:
    trace_id = _hostile_trace(ui_server.url)
    root_id = f"{1:016x}"
    ui_server.store.write(
        [],
        [
            Evaluation(
                id="e-hostile",
                trace_id=trace_id,
                span_id=root_id,
                project="evil",
                name=f"judge {SCRIPT}",
                label="fail",
                explanation=HOSTILE,
            )
        ],
    )
    sign_in(page, ui_server, name=f"eve {SCRIPT}")
    page.goto(ui_server.at("/projects/evil/traces"))
    assert SCRIPT in page.locator("table.traces").inner_text()
    page.goto(ui_server.at(f"/traces/{trace_id}"))
    detail = page.locator("#span-detail")
    assert SCRIPT in page.locator(".trace-head h1").inner_text()
    assert SCRIPT in detail.locator(".io-input").inner_text()
    assert IMG in detail.locator(".io-output").inner_text()
    assert HOSTILE in detail.locator(".eval .explanation").inner_text()
    for name in ("retrieve", "llm", "img"):
        page.click(f'.tree-row:has(.span-name:has-text("{name}")) >> nth=0')
        page.wait_for_selector(f'#span-detail h2:has-text("{name}")')
        _no_script_ran(page)
    # The LLM span: every message, the tool call and the raw attributes as text.
    page.click('.tree-row:has(.span-name:text-is("llm"))')
    page.wait_for_selector('#span-detail h2:has-text("llm")')
    detail.locator("details.system summary").click()
    assert SCRIPT in detail.locator("details.system").inner_text()
    assert "[click me](javascript:" in detail.locator(".output .bubble").inner_text()
    assert IMG in detail.locator(".output .tool-call").inner_text()
    page.click("[data-tab=raw]")
    assert f"attr {SCRIPT}" in detail.locator("[data-panel=raw]").inner_text()

    # Nothing active was created from the content anywhere on the page.
    html = page.content()
    assert "<script>window.__pwned" not in html
    assert (
        page.locator("#span-detail script, #span-detail img, #span-detail [onerror]").count() == 0
    )
    assert page.locator('a[href^="javascript:"]').count() == 0
    assert page.locator(".topbar .user span").inner_text() == f"eve {SCRIPT}"
    _no_script_ran(page)
    page.screenshot(path=str(artifacts / "trace_page_injection.png"))


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def _login(client: httpx.Client, **form: str) -> httpx.Response:
    token = _csrf(client.get("/login").text)
    return client.post("/login", data={"csrf_token": token, **form})


def test_posts_without_the_csrf_token_are_rejected(ui_server: UiServer) -> None:
    with httpx.Client(base_url=ui_server.url) as client:
        assert _login(client, name="ada").status_code == 303
        page = client.get("/projects")
        assert page.status_code == 200
        token = _csrf(page.text)
        assert client.post("/logout").status_code == 403
        assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
        assert client.post("/logout", headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert client.get("/projects").status_code == 200  # still signed in
        assert client.post("/logout", headers={"X-CSRF-Token": token}).status_code == 303
        assert client.get("/projects").status_code == 303  # signed out: to the login page


def test_login_form_needs_its_own_token(ui_server: UiServer) -> None:
    with httpx.Client(base_url=ui_server.url) as client:
        client.get("/login")
        response = client.post("/login", data={"csrf_token": "guess", "name": "mallory"})
        assert response.status_code == 403
        assert "tj_session" not in response.cookies


@pytest.fixture
def keyed_server(demo_db: Path, tmp_path: Path) -> Any:
    """The demo data plus a project "evil" trace, on a server that has API keys."""
    yield from serve_copy(demo_db, tmp_path / "keyed.db")


def test_with_keys_the_ui_needs_a_key_and_stays_in_its_project(
    page: Any, keyed_server: UiServer
) -> None:
    evil_trace = _hostile_trace(keyed_server.url)  # sent while the server is still open
    demo_key, demo_secret = keyed_server.keys.create("demo", name="ann")
    _, evil_secret = keyed_server.keys.create("evil", name="eve")
    demo_trace = next(
        t.trace_id for t in keyed_server.store.list_traces("demo") if t.name == "support_agent"
    )

    with httpx.Client(base_url=keyed_server.url) as client:
        # No session: every page goes to the login page, which asks for a key.
        for path in ("/projects", f"/traces/{demo_trace}", "/projects/demo/traces"):
            response = client.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login")
        form = client.get("/login").text
        assert 'name="api_key"' in form and 'name="name"' not in form
        # A reviewer name is no longer enough, nor is a wrong key.
        assert _login(client, name="ann").status_code == 401
        assert _login(client, api_key="tj_notakey").status_code == 401
        assert client.get("/projects").status_code == 303

    # Signed in with the demo key in the browser: demo is visible, evil is not.
    sign_in(page, keyed_server, api_key=demo_secret)
    assert page.locator(".topbar .user span").inner_text() == "ann"
    page.goto(keyed_server.at(f"/traces/{demo_trace}"))
    assert page.locator(".trace-head h1").inner_text() == "support_agent"
    response = page.goto(keyed_server.at(f"/traces/{evil_trace}"))
    assert response is not None and response.status == 404
    assert SCRIPT not in page.content()
    response = page.goto(keyed_server.at("/projects/evil/traces"))
    assert response is not None and response.status == 404
    detail = page.request.get(
        keyed_server.at(f"/traces/{evil_trace}/spans/{1:016x}"), headers={"HX-Request": "true"}
    )
    assert detail.status == 404
    page.goto(keyed_server.at("/projects"))
    assert [a.inner_text() for a in page.locator(".project-list a").all()] == ["demo"]

    # Revoking the key ends the session at the next request.
    keyed_server.keys.revoke(demo_key.id)
    page.goto(keyed_server.at(f"/traces/{demo_trace}"))
    assert "/login" in page.url

    # The evil key sees its own trace.
    sign_in(page, keyed_server, api_key=evil_secret)
    response = page.goto(keyed_server.at(f"/traces/{evil_trace}"))
    assert response is not None and response.status == 200
