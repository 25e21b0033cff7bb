"""Helpers shared by the server benchmarks: start a server process, sample its memory
(and, re-exported from ``_shared``, load the shared OTLP workload generator).

A server runs as its own process (``tracejudge serve`` or ``phoenix serve``) so its CPU
and RSS are measured apart from the load generator's.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from _shared import DEFAULT_SHARED, load_generator

__all__ = [
    "DEFAULT_SHARED",
    "RssSampler",
    "free_port",
    "load_generator",
    "percentile",
    "start_process",
    "start_tracejudge",
    "stop_process",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_process(
    argv: list[str], health_url: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group and wait until ``health_url`` answers 200."""
    process = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{argv[0]} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(health_url, timeout=1) as response:
                if response.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    stop_process(process)
    raise SystemExit(f"{' '.join(argv)} did not become healthy at {health_url}")


def start_tracejudge(db: Path, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    """``tracejudge serve`` on 127.0.0.1:port over ``db``."""
    argv = [sys.executable, "-c", "from tracejudge.cli import main; main()", "serve"]
    argv += ["--db", str(db), "--port", str(port), "--workers", str(workers)]
    return start_process(argv, f"http://127.0.0.1:{port}/healthz")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (server and its workers), SIGKILL if it lingers."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (uvicorn workers, the forkserver, ingest workers)."""
    pids, i = [pid], 0
    while i < len(pids):
        p = pids[i]
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
            pids += [int(c) for c in children]
        except OSError:
            pass
        i += 1
    return pids


def _group_rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` plus all its descendants."""
    total = 0
    for p in _descendants(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


class RssSampler(threading.Thread):
    """Samples a process group's RSS every ``interval`` s; ``peak`` is the maximum seen."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _group_rss_bytes(self.pid))
            self._stop_event.wait(self.interval)

    def stop(self) -> int:
        self._stop_event.set()
        self.join()
        return self.peak


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]
