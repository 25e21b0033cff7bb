"""The ingest pipeline against the real SQLite store: all or nothing, idempotent re-sends."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from tests.ingest.conftest import FIXTURES, make_request, make_span

from tracejudge.errors import DecodeError
from tracejudge.ingest.otlp import DecodeLimits
from tracejudge.ingest.pipeline import ingest_file, ingest_payload

PB = "application/x-protobuf"


def _two_span_request(bad_second: bool = False):
    eval_event = (
        "gen_ai.evaluation.result",
        5,
        {"gen_ai.evaluation.name": "correct", "gen_ai.evaluation.score.value": 1.0},
    )
    good = make_span({"openinference.span.kind": "LLM", "input.value": "q"}, events=[eval_event])
    second = make_span({"output.value": "a"}, span_id=bytes.fromhex("00f067aa0ba902b7"))
    if bad_second:
        second.trace_id = b"\x01" * 5
    return make_request([good, second], resource={"service.name": "shop"})


def test_payload_is_written_and_resend_is_a_noop(store) -> None:
    body = _two_span_request().SerializeToString()
    result = ingest_payload(store, body, content_type=PB)
    assert (result.spans, result.inserted, result.duplicates, result.evaluations) == (2, 2, 0, 1)
    assert result.projects == ("shop",)
    stored = store.trace_spans("0af7651916cd43dd8448eb211c80319c")
    assert {s.span_id for s in stored} == {"b7ad6b7169203331", "00f067aa0ba902b7"}
    assert {s.kind for s in stored} == {"LLM", "UNKNOWN"}
    again = ingest_payload(store, body, content_type=PB)
    assert (again.inserted, again.duplicates, again.evaluations) == (0, 2, 0)
    assert len(store.evaluations(span_id="b7ad6b7169203331")) == 1


def test_explicit_project_wins(store) -> None:
    body = _two_span_request().SerializeToString()
    assert ingest_payload(store, body, content_type=PB, project="override").projects == (
        "override",
    )
    assert store.projects() == ["override"]


@pytest.mark.parametrize(
    ("body", "kwargs", "message"),
    [
        (
            _two_span_request(bad_second=True).SerializeToString(),
            {},
            "resourceSpans[0].scopeSpans[0].spans[1].traceId: expected 16 bytes, got 5",
        ),
        (b"\xff\xff garbage", {}, "not a valid protobuf"),
        (
            gzip.compress(b"\x00" * 4_000_000),
            {"content_encoding": "gzip", "limits": DecodeLimits(max_decompressed_bytes=1 << 20)},
            "decompressed size exceeds",
        ),
    ],
)
def test_bad_payload_writes_nothing(store, body: bytes, kwargs: dict, message: str) -> None:
    with pytest.raises(DecodeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ingest_payload(store, body, content_type=PB, **kwargs)
    assert store.projects() == []
    assert store.list_spans(limit=10) == []


@pytest.mark.parametrize("suffix", [".pb", ".json", ".pb.gz", ".json.gz"])
def test_ingest_file_formats(store, tmp_path: Path, suffix: str) -> None:
    source = FIXTURES / f"genai{suffix.removesuffix('.gz')}"
    target = tmp_path / f"genai{suffix}"
    if suffix.endswith(".gz"):
        target.write_bytes(gzip.compress(source.read_bytes()))
    else:
        shutil.copy(source, target)
    result = ingest_file(store, target)
    assert (result.spans, result.inserted, result.projects) == (3, 3, ("fixture-genai",))
    assert all(s.kind == "LLM" for s in store.list_spans("fixture-genai"))


def test_ingest_json_lines_and_bad_line(store, tmp_path: Path) -> None:
    lines = [(FIXTURES / f"{n}.json").read_text().replace("\n", "") for n in ("genai", "traceloop")]
    good = tmp_path / "spans.jsonl"
    good.write_text("\n".join(lines) + "\n")
    bad = tmp_path / "bad.json"
    bad.write_text(lines[0] + "\n{oops\n")
    with pytest.raises(DecodeError, match="line 2: body: not valid JSON"):
        ingest_file(store, bad)
    assert store.list_spans(limit=10) == []
    assert ingest_file(store, good, project="p").inserted == 6


def test_unknown_file_type(store, tmp_path: Path) -> None:
    path = tmp_path / "spans.txt"
    path.write_text("{}")
    with pytest.raises(DecodeError, match="unsupported file type"):
        ingest_file(store, path)
