"""Server settings: one object the app factory reads, resolved once at start-up.

Order of precedence, as everywhere in tracejudge: explicit argument, then the
``TRACEJUDGE_*`` environment variable, then the constant default. Bad values are
rejected in the constructor with a message naming the setting, so a misconfigured
server fails at start rather than under load.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, fields
from typing import Any

from tracejudge import semconv as sc
from tracejudge.errors import ConfigurationError

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "Settings", "is_loopback_host"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6464

_ENV_PREFIX = "TRACEJUDGE_"


@dataclass(frozen=True)
class Settings:
    """Tunable limits of the OTLP receiver and the REST API.

    Every field can also be set with ``TRACEJUDGE_<FIELD NAME IN UPPER CASE>``
    (e.g. ``TRACEJUDGE_MAX_BODY_BYTES=8388608``) through :meth:`from_env`.
    """

    host: str = DEFAULT_HOST
    """Interface ``serve`` binds; a non-loopback host requires at least one API key."""
    port: int = DEFAULT_PORT
    """TCP port ``serve`` binds (0 picks a free one)."""
    max_body_bytes: int = 32 * 1024 * 1024
    """Largest request body accepted, as sent (compressed); larger answers 413 unread."""
    max_decompressed_bytes: int = 128 * 1024 * 1024
    """Largest body after gzip decompression (decompression-bomb guard); larger answers 413."""
    max_spans_per_request: int = 100_000
    """Largest number of spans in one export request; more answers 413."""
    queue_max_spans: int = 50_000
    """Spans decoded but not yet committed, across requests; past it new requests get 503."""
    max_inflight_requests: int = 8
    """Export requests being read/decoded at once; past it new ones get 503 before their
    body is read, which bounds memory under overload."""
    write_batch_spans: int = 5_000
    """The writer coalesces queued requests into one transaction up to about this many spans."""
    retry_after_s: int = 1
    """``Retry-After`` seconds sent with 429/503 so OTLP exporters back off and retry."""
    write_timeout_s: float = 60.0
    """How long a request waits for its spans to be committed before answering 503."""
    project_header: str = sc.TJ_PROJECT_HEADER
    """Request header that names the project explicitly (beats the resource attributes)."""
    task_worker: bool = True
    """Run the eval-task worker (one background thread scoring active tasks) in the server;
    ``serve --no-tasks`` turns it off, e.g. when ``tracejudge task run`` does the work."""
    task_worker_process: bool = False
    """Run the task worker in a child process at a lower CPU priority instead of a thread of
    the server (no shared GIL; the OS serves ingestion first when the cores are busy)."""
    task_worker_nice: int = 10
    """CPU priority of the worker process below the server's (``nice`` increment, 0..19):
    higher favours ingest throughput, lower the task's lag."""
    task_batch_size: int = 1024
    """Spans the task worker decides per batch (one short write transaction each): bigger
    batches cost less per span (measured: 1,024 about 1.5x cheaper than 256), smaller ones
    hold the write lock for less time."""
    task_poll_interval_s: float = 0.5
    """How often the idle task worker looks for new spans (the floor of a continuous task's lag)."""
    task_judge_urls: str = ""
    """Judge endpoints (comma-separated URL prefixes) a task created over the REST API may
    name in ``judge.base_url`` once the server has API keys. The worker sends the judge key
    from its own environment to that URL, so by default (empty) key holders cannot point it
    anywhere: their tasks use the server's judge settings (``TRACEJUDGE_JUDGE_BASE_URL``).
    A server without keys (local use) accepts any URL."""
    task_lease_s: float = 30.0
    """A worker's claim on a task lasts this long without renewal (renewed every batch): after
    a crash (kill -9) its tasks resume, in the restarted server or elsewhere, within this time."""

    def __post_init__(self) -> None:
        positive = (
            "max_body_bytes",
            "max_decompressed_bytes",
            "max_spans_per_request",
            "queue_max_spans",
            "max_inflight_requests",
            "write_batch_spans",
            "write_timeout_s",
            "task_poll_interval_s",
            "task_lease_s",
            "task_batch_size",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if not 0 <= self.port <= 65535:
            raise ConfigurationError(f"port must be in 0..65535, got {self.port!r}")
        if self.retry_after_s < 0:
            raise ConfigurationError(f"retry_after_s must be >= 0, got {self.retry_after_s!r}")
        if not self.host:
            raise ConfigurationError("host must not be empty")
        if not 0 <= self.task_worker_nice <= 19:
            raise ConfigurationError(
                f"task_worker_nice must be in 0..19, got {self.task_worker_nice!r}"
            )
        if not self.project_header:
            raise ConfigurationError("project_header must not be empty")

    @property
    def allowed_judge_urls(self) -> tuple[str, ...]:
        """:attr:`task_judge_urls` as a tuple of prefixes."""
        return tuple(u.strip() for u in self.task_judge_urls.split(",") if u.strip())

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``TRACEJUDGE_*`` variables; keyword overrides that are not None win.

        Raises :class:`ConfigurationError` naming the variable when a value does not parse.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(_ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            kind: type[Any] = type(f.default)  # type: ignore[misc]  # bool, int, float or str
            try:
                values[f.name] = _parse_bool(raw) if kind is bool else kind(raw)
            except ValueError:
                raise ConfigurationError(
                    f"{_ENV_PREFIX}{f.name.upper()}: expected {kind.__name__}, got {raw!r}"
                ) from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


_BOOLS = {"1": True, "true": True, "yes": True, "on": True}
_BOOLS.update({"0": False, "false": False, "no": False, "off": False})


def _parse_bool(raw: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case); ValueError otherwise (``bool("0")``
    would be True)."""
    try:
        return _BOOLS[raw.strip().lower()]
    except KeyError:
        raise ValueError(raw) from None


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
