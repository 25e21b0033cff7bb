"""The OTLP/HTTP receiver against a real server on loopback and a real SQLite store."""

from __future__ import annotations

import gzip
import json
import select
import socket
import sqlite3
import threading
from pathlib import Path

import httpx
import orjson
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from tests.server.conftest import (
    PROTOBUF,
    LiveServer,
    llm_trace,
    make_request,
    make_span,
    run_server,
)

from tracejudge.ingest.parallel import IngestPool
from tracejudge.ingest.pipeline import decode_and_normalize
from tracejudge.model import compute_content_hash
from tracejudge.server import app as app_module
from tracejudge.server.settings import Settings
from tracejudge.store import open_store
from tracejudge.store.sqlite import SQLiteStore

FIXTURES = Path(__file__).parent.parent / "fixtures" / "otlp"
JSON = {"Content-Type": "application/json"}


def _ok(response: httpx.Response) -> ExportTraceServiceResponse:
    assert response.status_code == 200, response.content
    assert response.headers["content-type"] == "application/x-protobuf"
    return ExportTraceServiceResponse.FromString(response.content)


def test_sdk_exporter_spans_arrive_committed_and_normalized(live_server: LiveServer) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "sdk-app"}))
    exporter = OTLPSpanExporter(endpoint=live_server.traces_url, timeout=10)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("agent") as root:
        root.set_attribute("openinference.span.kind", "AGENT")
        root.set_attribute("input.value", "What is 2+2?")
        with tracer.start_as_current_span("llm") as llm:
            llm.set_attribute("openinference.span.kind", "LLM")
            llm.set_attribute("llm.model_name", "gpt-4o-mini")
            llm.set_attribute("llm.token_count.prompt", 12)
            llm.set_attribute("output.value", "4")
    provider.shutdown()

    # SimpleSpanProcessor exported synchronously; a 200 means committed: no waiting.
    spans = {s.name: s for s in live_server.store.list_spans("sdk-app")}
    assert set(spans) == {"agent", "llm"}
    assert spans["llm"].parent_span_id == spans["agent"].span_id
    assert spans["llm"].kind == "LLM"
    assert spans["llm"].model == "gpt-4o-mini"
    assert spans["llm"].prompt_tokens == 12
    assert spans["llm"].output == "4"
    assert spans["agent"].input == "What is 2+2?"
    assert spans["agent"].resource["service.name"] == "sdk-app"


def test_protobuf_response_is_empty_export_response(
    live_server: LiveServer, http: httpx.Client
) -> None:
    reply = _ok(
        http.post(live_server.traces_url, content=make_request(llm_trace(1)), headers=PROTOBUF)
    )
    assert not reply.HasField("partial_success")
    trace = live_server.store.trace_spans(f"{1:032x}")
    assert sorted(s.name for s in trace) == ["agent", "llm", "tool"]
    assert {s.project for s in trace} == {"shop"}


def _json_request(trace_hex: str, span_hex: str, service: str = "json-app") -> dict:
    """An OTLP/JSON request as the spec writes it: camelCase, hex ids, int64 as strings."""
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": service}}]
                },
                "scopeSpans": [
                    {
                        "scope": {"name": "json-test", "version": "1"},
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": span_hex,
                                "name": "chat",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000250000000",
                                "attributes": [
                                    {
                                        "key": "gen_ai.operation.name",
                                        "value": {"stringValue": "chat"},
                                    },
                                    {
                                        "key": "gen_ai.request.model",
                                        "value": {"stringValue": "gpt-4o"},
                                    },
                                    {
                                        "key": "gen_ai.usage.input_tokens",
                                        "value": {"intValue": "42"},
                                    },
                                ],
                                "status": {"code": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }


@pytest.mark.parametrize("gzipped", [False, True])
def test_otlp_json_and_gzip(live_server: LiveServer, http: httpx.Client, gzipped: bool) -> None:
    trace_hex, span_hex = ("ab" * 16, "cd" * 8) if gzipped else ("12" * 16, "34" * 8)
    body = orjson.dumps(_json_request(trace_hex, span_hex))
    headers = dict(JSON)
    if gzipped:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    response = http.post(live_server.traces_url, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    span = live_server.store.span(span_hex)
    assert span is not None
    assert (span.trace_id, span.project, span.kind) == (trace_hex, "json-app", "LLM")
    assert (span.model, span.prompt_tokens, span.otel_kind) == ("gpt-4o", 42, "CLIENT")
    assert span.status == "OK"


def test_gzipped_protobuf(live_server: LiveServer, http: httpx.Client) -> None:
    body = gzip.compress(make_request(llm_trace(7)))
    response = http.post(
        live_server.traces_url, content=body, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )
    _ok(response)
    assert len(live_server.store.trace_spans(f"{7:032x}")) == 3


@pytest.mark.parametrize("name", ["openinference", "traceloop", "genai"])
@pytest.mark.parametrize("ext", ["pb", "json"])
def test_real_instrumentor_fixtures_arrive_complete(
    live_server: LiveServer, http: httpx.Client, name: str, ext: str
) -> None:
    body = (FIXTURES / f"{name}.{ext}").read_bytes()
    content_type = "application/x-protobuf" if ext == "pb" else "application/json"
    expected_spans, _ = decode_and_normalize(body, content_type=content_type)
    response = http.post(
        live_server.traces_url, content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text

    expected = json.loads((FIXTURES / f"{name}.expected.json").read_text())
    stored = live_server.store.list_spans(f"fixture-{name}")
    assert len(stored) == len(expected_spans) == len(expected["calls"])
    by_id = {s.span_id: s for s in stored}
    for want in expected_spans:  # byte-identical canonical content, nothing lost
        got = by_id[want.span_id]
        assert got.content_hash == compute_content_hash(want)
        assert got.attributes == want.attributes
        assert (got.kind, got.model, got.input, got.output) == (
            want.kind,
            want.model,
            want.input,
            want.output,
        )
    for span, call in zip(sorted(stored, key=lambda s: s.start_ns), expected["calls"], strict=True):
        assert span.kind == "LLM"
        assert span.model == expected["model"]
        assert call["question"] in span.input
        assert span.prompt_tokens == call["usage"]["prompt_tokens"]


def test_identical_resend_is_accepted_and_conflict_is_partial_success(
    live_server: LiveServer, http: httpx.Client
) -> None:
    body = make_request(llm_trace(3))
    _ok(http.post(live_server.traces_url, content=body, headers=PROTOBUF))
    again = _ok(http.post(live_server.traces_url, content=body, headers=PROTOBUF))
    assert not again.HasField("partial_success")

    changed = llm_trace(3)
    changed[1].name = "llm-renamed"
    reply = _ok(http.post(live_server.traces_url, content=make_request(changed), headers=PROTOBUF))
    assert reply.partial_success.rejected_spans == 1
    assert f"{32:016x}" in reply.partial_success.error_message
    stored = live_server.store.trace_spans(f"{3:032x}")
    assert len(stored) == 3
    assert "llm-renamed" not in {s.name for s in stored}  # the first version is kept


def test_project_header_overrides_resource(live_server: LiveServer, http: httpx.Client) -> None:
    headers = {**PROTOBUF, "x-tracejudge-project": "explicit"}
    _ok(http.post(live_server.traces_url, content=make_request(llm_trace(4)), headers=headers))
    assert {s.project for s in live_server.store.trace_spans(f"{4:032x}")} == {"explicit"}


def _status(response: httpx.Response) -> Status:
    assert response.headers["content-type"] == "application/x-protobuf"
    return Status.FromString(response.content)


def test_garbage_protobuf_is_400_with_reason_and_writes_nothing(
    live_server: LiveServer, http: httpx.Client
) -> None:
    response = http.post(live_server.traces_url, content=b"\xff\x00garbage", headers=PROTOBUF)
    assert response.status_code == 400
    status = _status(response)
    assert status.code == 3  # INVALID_ARGUMENT
    assert status.message
    assert live_server.span_count() == 0


def test_bad_ids_in_json_are_400_naming_the_location(
    live_server: LiveServer, http: httpx.Client
) -> None:
    body = _json_request("abcd", "cd" * 8)
    response = http.post(live_server.traces_url, content=orjson.dumps(body), headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert "traceId" in response.json()["message"]
    not_json = http.post(live_server.traces_url, content=b"{nope", headers=JSON)
    assert not_json.status_code == 400
    assert live_server.span_count() == 0


def test_one_bad_span_rejects_the_whole_request(
    live_server: LiveServer, http: httpx.Client
) -> None:
    spans = llm_trace(5)
    spans[2].span_id = b"\x00" * 8  # all-zero ids are invalid
    response = http.post(live_server.traces_url, content=make_request(spans), headers=PROTOBUF)
    assert response.status_code == 400
    assert "spanId" in _status(response).message
    assert live_server.span_count() == 0


def test_unsupported_content_type_is_415(live_server: LiveServer, http: httpx.Client) -> None:
    response = http.post(
        live_server.traces_url, content=b"hello", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    assert live_server.span_count() == 0


@pytest.fixture
def small_server(db_path: Path):
    store = open_store(db_path)
    settings = Settings(max_body_bytes=20_000, max_decompressed_bytes=50_000)
    try:
        with run_server(store, settings) as url:
            yield url, store
    finally:
        store.close()


def test_oversize_body_is_413_and_writes_nothing(small_server, http: httpx.Client) -> None:
    url, store = small_server
    big = make_request([make_span(9, 1, **{"input.value": "x" * 30_000})])
    response = http.post(url + "/v1/traces", content=big, headers=PROTOBUF)
    assert response.status_code == 413
    assert _status(response).code == 8  # RESOURCE_EXHAUSTED
    assert store.list_spans() == []


def test_oversize_chunked_body_is_413(small_server, http: httpx.Client) -> None:
    """Without a Content-Length the limit is enforced while the body streams in."""
    url, store = small_server

    def chunks():
        for _ in range(40):
            yield b"\x0a" * 1000

    response = http.post(url + "/v1/traces", content=chunks(), headers=PROTOBUF)
    assert response.status_code == 413
    assert store.list_spans() == []


def test_gzip_bomb_is_413(small_server, http: httpx.Client) -> None:
    url, store = small_server
    # 10 kB of gzip that inflates to 10 MB: over the decompressed limit, under the body limit.
    bomb = gzip.compress(make_request([make_span(9, 1, **{"input.value": "a" * 10_000_000})]))
    assert len(bomb) < 20_000
    response = http.post(
        url + "/v1/traces", content=bomb, headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 413
    assert store.list_spans() == []


def test_full_queue_answers_503_with_retry_after_and_writes_nothing(db_path: Path) -> None:
    """A second export while the writer is stuck (the file is locked by another
    connection) finds the queue full and is told to come back later."""
    store = open_store(db_path)
    assert isinstance(store, SQLiteStore)
    settings = Settings(queue_max_spans=3, retry_after_s=2)
    blocker = sqlite3.connect(db_path, timeout=1, isolation_level=None)
    try:
        with run_server(store, settings) as url, httpx.Client(timeout=30) as http:
            blocker.execute("BEGIN IMMEDIATE")  # hold the write lock: the writer waits
            first: dict[str, httpx.Response] = {}
            sender = threading.Thread(
                target=lambda: first.setdefault(
                    "r",
                    http.post(
                        url + "/v1/traces", content=make_request(llm_trace(1)), headers=PROTOBUF
                    ),
                )
            )
            sender.start()
            deadline = 100
            while http.get(url + "/healthz").json()["queued"] < 3 and deadline:
                deadline -= 1
                threading.Event().wait(0.02)
            second = http.post(
                url + "/v1/traces", content=make_request(llm_trace(2)), headers=PROTOBUF
            )
            assert second.status_code == 503
            assert second.headers["retry-after"] == "2"
            assert _status(second).code == 14  # UNAVAILABLE
            blocker.execute("ROLLBACK")
            sender.join(30)
            assert first["r"].status_code == 200
            assert len(store.trace_spans(f"{1:032x}")) == 3
            assert store.trace_spans(f"{2:032x}") == []
    finally:
        blocker.close()
        store.close()


def test_too_many_requests_in_flight_is_503_before_reading(db_path: Path) -> None:
    store = open_store(db_path)
    settings = Settings(max_inflight_requests=1)
    try:
        with run_server(store, settings) as url, httpx.Client(timeout=30) as http:
            host, port = url.removeprefix("http://").split(":")
            body = make_request(llm_trace(1))

            def start_slow_request() -> socket.socket:
                conn = socket.create_connection((host, int(port)))
                conn.sendall(
                    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/x-protobuf\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body[:10]
                )
                return conn

            slow = start_slow_request()
            # Once the slow request is being read, the next one is refused at once. If one
            # of our probes got there first, the slow request itself was refused (its
            # socket has an answer): start it again.
            for _ in range(100):
                if select.select([slow], [], [], 0)[0]:
                    slow.close()
                    slow = start_slow_request()
                    continue
                response = http.post(url + "/v1/traces", content=body, headers=PROTOBUF)
                if response.status_code == 503:
                    break
                threading.Event().wait(0.02)
            assert response.status_code == 503
            assert "retry-after" in response.headers
            slow.sendall(body[10:])
            reply = slow.recv(65536)
            assert reply.startswith(b"HTTP/1.1 200")
            slow.close()
            assert len(store.trace_spans(f"{1:032x}")) == 3
    finally:
        store.close()


def test_server_starts_and_ingests_when_decode_workers_cannot_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = IngestPool(workers=1)
    broken.close()  # start() now raises, as a pool that cannot fork would
    monkeypatch.setattr(app_module, "shared_pool", lambda: broken)
    store = open_store(tmp_path / "no-workers.db")
    try:
        with run_server(store, Settings(task_worker=False)) as url, httpx.Client() as http:
            assert http.get(url + "/healthz").status_code == 200
            body = make_request(llm_trace(1))  # small: decoded on the threadpool
            assert http.post(url + "/v1/traces", content=body, headers=PROTOBUF).status_code == 200
        assert len(store.list_spans(limit=100)) == len(llm_trace(1))
        assert "decode workers did not start" in caplog.text
    finally:
        store.close()
