"""A real tracejudge server on loopback for the server tests.

``live_server`` runs uvicorn in a thread on a free port around a real SQLite store;
``make_request`` builds OTLP protobuf payloads with the real opentelemetry-proto classes.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span
from tests.ingest.conftest import kv

from tracejudge.server.app import create_app
from tracejudge.server.settings import Settings
from tracejudge.store import open_store
from tracejudge.store.keys import SQLiteKeyStore
from tracejudge.store.sqlite import SQLiteStore

PROTOBUF = {"Content-Type": "application/x-protobuf"}


@dataclass
class LiveServer:
    url: str
    store: SQLiteStore
    keys: SQLiteKeyStore
    db_path: Path

    @property
    def traces_url(self) -> str:
        return self.url + "/v1/traces"

    def span_count(self) -> int:
        return len(self.store.list_spans(limit=1_000_000))


@contextmanager
def run_server(store: SQLiteStore, settings: Settings | None = None) -> Iterator[str]:
    """Serve ``create_app(store, settings)`` on 127.0.0.1:<free port>; yields the base URL."""
    app = create_app(store, settings or Settings())
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "server.db"


@pytest.fixture
def live_server(db_path: Path) -> Iterator[LiveServer]:
    store = open_store(db_path)
    assert isinstance(store, SQLiteStore)
    try:
        with run_server(store) as url:
            yield LiveServer(url, store, SQLiteKeyStore(db_path), db_path)
    finally:
        store.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def kvs(attrs: dict[str, object]) -> list[KeyValue]:
    return [kv(k, v) for k, v in attrs.items()]


def make_span(
    trace: int, span: int, parent: int | None = None, *, name: str = "op", **attrs: object
) -> Span:
    """A protobuf span with ids derived from small ints (fixed clock: start = span ms)."""
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=name,
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=1_700_000_000_000_000_000 + span * 1_000_000,
        end_time_unix_nano=1_700_000_000_000_000_000 + span * 1_000_000 + 500_000,
        attributes=kvs(attrs),
    )


def make_request(spans: list[Span], service: str = "shop") -> bytes:
    """An ExportTraceServiceRequest (protobuf bytes) with one resource and scope."""
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=kvs({"service.name": service})),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    return request.SerializeToString()


def llm_trace(trace: int) -> list[Span]:
    """A 3-span OpenInference trace: AGENT root, LLM and TOOL children."""
    root = trace * 10 + 1
    return [
        make_span(
            trace,
            root,
            name="agent",
            **{"openinference.span.kind": "AGENT", "input.value": f"q{trace}"},
        ),
        make_span(
            trace,
            root + 1,
            root,
            name="llm",
            **{
                "openinference.span.kind": "LLM",
                "llm.model_name": "gpt-4o-mini",
                "llm.token_count.prompt": 10,
                "llm.token_count.completion": 5,
                "output.value": f"a{trace}",
            },
        ),
        make_span(trace, root + 2, root, name="tool", **{"openinference.span.kind": "TOOL"}),
    ]


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()
