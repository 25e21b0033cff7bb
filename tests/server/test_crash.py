"""Crash safety: SIGKILL the real ``tracejudge serve`` process in the middle of sustained
load; every span that got a 200 is stored, and retrying exporters duplicate nothing."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from tests.server.conftest import PROTOBUF, make_request, make_span

from tracejudge.store import open_store

SENDERS = 3
BATCHES_PER_SENDER = 40
SPANS_PER_BATCH = 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_server(db: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tracejudge.cli import main; main()",
            "serve",
            "--db",
            str(db),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60  # generous: CI machines share two cores
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("server did not start within 60 s")


def _batch(sender: int, index: int) -> bytes:
    """Unique spans: trace per batch, span ids derived from (sender, batch, n)."""
    trace = sender * 1000 + index + 1
    spans = [
        make_span(trace, trace * 100 + n + 1, name=f"s{n}", **{"input.value": "x" * 200})
        for n in range(SPANS_PER_BATCH)
    ]
    return make_request(spans, service="crash")


class Exporter(threading.Thread):
    """Sends its batches in order; retries on connection errors and 503 like OTLP exporters."""

    def __init__(self, sender: int, url: str, stop_at: float) -> None:
        super().__init__(daemon=True)
        self.sender = sender
        self.url = url
        self.stop_at = stop_at
        self.acked: list[int] = []
        self.lock = threading.Lock()

    def run(self) -> None:
        with httpx.Client(timeout=5) as http:
            for index in range(BATCHES_PER_SENDER):
                body = _batch(self.sender, index)
                while time.monotonic() < self.stop_at:
                    try:
                        response = http.post(self.url, content=body, headers=PROTOBUF)
                    except httpx.HTTPError:
                        time.sleep(0.05)
                        continue
                    if response.status_code == 200:
                        with self.lock:
                            self.acked.append(index)
                        break
                    assert response.status_code in (429, 502, 503, 504), response.status_code
                    time.sleep(0.05)

    def acked_traces(self) -> set[str]:
        with self.lock:
            return {f"{self.sender * 1000 + i + 1:032x}" for i in self.acked}


def _stored_traces(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT trace_id, COUNT(*) FROM spans GROUP BY trace_id").fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_sigkill_under_load_loses_no_acknowledged_span(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    port = _free_port()
    url = f"http://127.0.0.1:{port}/v1/traces"
    server = _start_server(db, port)
    exporters = [Exporter(i, url, time.monotonic() + 90) for i in range(SENDERS)]
    try:
        for e in exporters:
            e.start()
        while sum(len(e.acked) for e in exporters) < 15:  # load is flowing
            time.sleep(0.01)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        acked_before = set().union(*(e.acked_traces() for e in exporters))

        # Every acknowledged batch is in the file, whole, before any restart.
        stored = _stored_traces(db)
        assert acked_before <= set(stored)
        assert all(stored[t] == SPANS_PER_BATCH for t in acked_before)
        assert sum(len(e.acked) for e in exporters) < SENDERS * BATCHES_PER_SENDER  # mid-load

        server = _start_server(db, port)
        for e in exporters:
            e.join(90)
        assert all(len(e.acked) == BATCHES_PER_SENDER for e in exporters)
    finally:
        server.kill()
        server.wait(10)

    # Exactly once: every span of every batch, no duplicates, hashes intact.
    stored = _stored_traces(db)
    assert len(stored) == SENDERS * BATCHES_PER_SENDER
    assert set(stored.values()) == {SPANS_PER_BATCH}
    store = open_store(db)
    try:
        assert store.verify().ok
        assert store.verify().checked == SENDERS * BATCHES_PER_SENDER * SPANS_PER_BATCH
    finally:
        store.close()
