"""Redaction: applied on the export thread, stored masked, failures never leak values."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracejudge import capture
from tracejudge.capture import mask_emails, mask_pattern, observe, span, using_metadata
from tracejudge.capture.redaction import REDACTION_FAILED
from tracejudge.store import open_store


def test_mask_helpers() -> None:
    assert mask_emails("mail a.b+c@ex-ample.co.uk now") == "mail [EMAIL] now"
    assert mask_emails("no address @ here") == "no address @ here"
    card = mask_pattern(r"\b\d{4}(?: \d{4}){3}\b", "[CARD]")
    assert card("pay 4111 1111 1111 1111 ok") == "pay [CARD] ok"
    assert mask_pattern(re.compile("secret", re.I))("SeCrEt x") == "[REDACTED] x"


@observe
def support(message: str) -> str:
    if "crash" in message:
        raise RuntimeError(f"cannot handle {message}")
    return f"replied to {message}"


def test_redacted_values_are_what_the_store_keeps(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    threads: list[str] = []

    def redactor(value: str) -> str:
        threads.append(threading.current_thread().name)
        return mask_emails(value)

    capture.register("priv", db=db, redact=redactor, set_global=False)
    try:
        with using_metadata({"contact": "bob@example.com"}):
            support("I am bob@example.com")
            with pytest.raises(RuntimeError):
                support("crash for eve@example.org")
            with span("tagged") as s:
                s.set_attribute("emails", ["x@example.com", "plain"])
        assert capture.flush(timeout_s=10)
    finally:
        capture.shutdown()
    assert threads and threading.main_thread().name not in threads  # never the app's thread
    with open_store(db) as store:
        spans = store.list_spans("priv")
    dump = repr(spans)
    assert "@example" not in dump
    ok = next(s for s in spans if s.input == "I am [EMAIL]")
    assert ok.output == "replied to I am [EMAIL]"
    assert ok.attributes["metadata"] == '{"contact": "[EMAIL]"}'
    failed = next(s for s in spans if s.status == "ERROR")
    assert failed.status_message == "RuntimeError: cannot handle crash for [EMAIL]"
    exc = failed.events[0]["attributes"]
    assert exc["exception.message"] == "cannot handle crash for [EMAIL]"
    tagged = next(s for s in spans if s.name == "tagged")
    assert tagged.attributes["emails"] == ["[EMAIL]", "plain"]


def test_a_raising_redactor_drops_values_not_spans(caplog) -> None:
    memory = InMemorySpanExporter()

    def picky(value: str) -> str:
        if "secret" in value:
            raise ValueError("cannot parse")
        return value

    capture.register("p", span_exporter=memory, redact=picky, set_global=False)
    try:
        support("my secret")
        support("public")
        assert capture.flush(timeout_s=10)
    finally:
        capture.shutdown()
    spans = {s.attributes["output.value"]: s for s in memory.get_finished_spans()}
    assert set(spans) == {REDACTION_FAILED, "replied to public"}
    assert spans[REDACTION_FAILED].attributes["input.value"] == REDACTION_FAILED
    assert spans[REDACTION_FAILED].attributes["openinference.span.kind"] == "CHAIN"
    assert sum("redactor raised" in r.getMessage() for r in caplog.records) == 1  # logged once
