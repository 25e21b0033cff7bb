"""The span filter over REST (``GET /api/v1/spans?filter=``) and through the remote Client:
the same spans as the embedded Client, 400 with a position for a bad filter, and a
project-scoped key that no filter can widen."""

from __future__ import annotations

import httpx
import pytest
from tests.server.conftest import PROTOBUF, LiveServer, llm_trace, make_request

from tracejudge.client import Client
from tracejudge.errors import FilterSyntaxError
from tracejudge.model import Evaluation

FILTERS = [
    'kind == "LLM"',
    'kind == "LLM" and "a3" in output',
    'is_root and not has_eval("correct")',
    'eval["correct"].label == "pass"',
    'prompt_tokens >= 10 or name == "tool"',
    'project == "bank"',
]


@pytest.fixture
def two_projects(live_server: LiveServer, http: httpx.Client) -> LiveServer:
    """Three traces in "shop", one in "bank", and an evaluation on the LLM span of trace 2."""
    for trace, service in ((1, "shop"), (2, "shop"), (3, "shop"), (4, "bank")):
        body = make_request(llm_trace(trace), service=service)
        assert http.post(live_server.traces_url, content=body, headers=PROTOBUF).status_code == 200
    correct = Evaluation(
        id="e-correct", trace_id="", span_id=f"{22:016x}", project="", name="correct", label="pass"
    )
    with Client(url=live_server.url) as remote:
        assert remote.store.write([], [correct]).evaluations == 1
    return live_server


def _ids(spans: list) -> list[str]:
    return [s.span_id for s in spans]


@pytest.mark.parametrize("expression", FILTERS)
def test_remote_client_filters_like_the_embedded_one(
    two_projects: LiveServer, expression: str
) -> None:
    with Client(two_projects.store) as local, Client(url=two_projects.url) as remote:
        expected = local.spans(filter=expression, limit=1000)
        assert expected  # every case matches something, so equality below means something
        assert _ids(remote.spans(filter=expression, limit=1000)) == _ids(expected)
        for project in ("shop", "bank"):
            assert _ids(remote.spans(project, filter=expression)) == _ids(
                local.spans(project, filter=expression)
            )


def test_filter_narrows_kind_and_pages_with_the_cursor(
    two_projects: LiveServer, http: httpx.Client
) -> None:
    base = two_projects.url + "/api/v1/spans"
    params = {"project": "shop", "kind": "LLM", "filter": "prompt_tokens == 10", "limit": 2}
    page1 = http.get(base, params=params).json()
    assert [s["span_id"] for s in page1["data"]] == [f"{12:016x}", f"{22:016x}"]
    assert page1["next_after_seq"] is not None
    page2 = http.get(base, params={**params, "after_seq": page1["next_after_seq"]}).json()
    assert [s["span_id"] for s in page2["data"]] == [f"{32:016x}"]
    assert page2["next_after_seq"] is None
    none = http.get(base, params={"filter": 'kind == "LLM" and kind == "TOOL"'}).json()
    assert none == {"data": [], "count": 0, "next_after_seq": None}


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("kind ==", 8),
        ('kind == "LLM" and bogus > 1', 19),
        ("__import__('os').system('true')", 1),
        ("", 1),
    ],
)
def test_bad_filter_is_400_with_position_and_raises_client_side(
    two_projects: LiveServer, http: httpx.Client, expression: str, position: int
) -> None:
    response = http.get(two_projects.url + "/api/v1/spans", params={"filter": expression})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["position"] == position
    assert isinstance(body["detail"], str) and body["detail"]
    with Client(two_projects.store) as local, pytest.raises(FilterSyntaxError) as embedded:
        local.spans(filter=expression)
    with Client(url=two_projects.url) as remote, pytest.raises(FilterSyntaxError) as raised:
        remote.spans(filter=expression)
    assert raised.value.position == embedded.value.position == position
    assert raised.value.message == embedded.value.message == body["detail"]
    assert raised.value.expression == expression


def test_a_filter_never_widens_a_keys_project(two_projects: LiveServer, http: httpx.Client) -> None:
    _, key = two_projects.keys.create("shop", "a")
    headers = {"Authorization": f"Bearer {key}"}
    base = two_projects.url + "/api/v1/spans"
    for expression in ('project == "bank"', 'project != "shop"', 'trace_id == "' + "0" * 31 + '4"'):
        response = http.get(base, params={"filter": expression}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["count"] == 0
    everything = http.get(base, params={"filter": "is_root or not is_root"}, headers=headers)
    assert {s["project"] for s in everything.json()["data"]} == {"shop"}
    assert everything.json()["count"] == 9
    with Client(url=two_projects.url, api_key=key) as remote:
        assert remote.spans(filter='project == "bank"') == []
        assert len(remote.spans(filter="is_root")) == 3


def test_filter_parameter_is_documented_in_openapi(
    live_server: LiveServer, http: httpx.Client
) -> None:
    spec = http.get(live_server.url + "/openapi.json").json()
    operation = spec["paths"]["/api/v1/spans"]["get"]
    [parameter] = [p for p in operation["parameters"] if p["name"] == "filter"]
    assert parameter["in"] == "query" and "position" in parameter["description"]
    bad = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
    assert bad.endswith("/FilterErrorPublic")
    assert "position" in spec["components"]["schemas"]["FilterErrorPublic"]["properties"]
