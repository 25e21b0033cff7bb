"""The ``tracejudge`` CLI through Typer's CliRunner (and once as the real console script).

Input files are real OTLP: spans made with the OpenTelemetry SDK and encoded with the
SDK's own OTLP encoder, as an exporter would send them.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from typer.testing import CliRunner

from tracejudge import cli
from tracejudge.cli import app
from tracejudge.client import Client

WIDE = {"COLUMNS": "250"}  # Rich tables keep full trace ids


def _otlp_request(question: str = "Where is order 42?"):  # type: ignore[no-untyped-def]
    """An ExportTraceServiceRequest of one 2-span trace (AGENT root -> LLM child)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "cli-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("cli-test")
    with tracer.start_as_current_span(
        "support_agent",
        attributes={"openinference.span.kind": "AGENT", "input.value": question},
    ) as root:
        with tracer.start_as_current_span(
            "ChatCompletion",
            attributes={
                "openinference.span.kind": "LLM",
                "llm.model_name": "test-model",
                "llm.token_count.prompt": 12,
                "llm.token_count.completion": 5,
                "output.value": "It has shipped.",
            },
        ):
            pass
        root.set_attribute("output.value", "It has shipped.")
    provider.shutdown()
    return encode_spans(exporter.get_finished_spans())


@pytest.fixture
def otlp_files(tmp_path: Path) -> dict[str, Path]:
    """One .pb and one .json file (different traces), plus a corrupt file."""
    pb = tmp_path / "trace.pb"
    pb.write_bytes(_otlp_request().SerializeToString())
    js = tmp_path / "trace.json"
    js.write_text(json_format.MessageToJson(_otlp_request("Do you ship to Canada?")))
    bad = tmp_path / "broken.pb"
    bad.write_bytes(b"\x0a\xff\xff\xff this is not protobuf")
    return {"pb": pb, "json": js, "bad": bad}


def _invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=WIDE)


def _stored_spans(db: Path) -> int:
    with Client(db) as client:
        return len(client.spans(limit=1000))


def test_version() -> None:
    result = _invoke("version")
    assert result.exit_code == 0
    assert result.output.startswith("tracejudge ")


@pytest.mark.parametrize("command", ["demo", "ingest", "verify", "traces", "spans", "version"])
def test_every_command_has_help(command: str) -> None:
    result = _invoke(command, "--help")
    assert result.exit_code == 0
    summary = getattr(cli, command).__doc__.splitlines()[0]
    assert summary and summary in result.output


def test_ingest_counts_inserted_then_duplicates(tmp_path: Path, otlp_files) -> None:
    db = tmp_path / "t.db"
    first = _invoke("ingest", str(otlp_files["pb"]), "--project", "p1", "--db", str(db))
    assert first.exit_code == 0, first.output
    assert "2 inserted, 0 duplicates, 0 conflicts" in first.output
    again = _invoke("ingest", str(otlp_files["pb"]), "--project", "p1", "--db", str(db))
    assert again.exit_code == 0, again.output
    assert "0 inserted, 2 duplicates, 0 conflicts" in again.output
    assert _stored_spans(db) == 2


def test_ingest_several_files_including_json(tmp_path: Path, otlp_files) -> None:
    db = tmp_path / "t.db"
    result = _invoke(
        "ingest", str(otlp_files["pb"]), str(otlp_files["json"]), "-p", "p1", "--db", str(db)
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("2 inserted") == 2
    with Client(db) as client:
        inputs = {t.input_preview for t in client.traces("p1")}
    assert inputs == {"Where is order 42?", "Do you ship to Canada?"}


def test_ingest_reports_conflicts(tmp_path: Path, otlp_files) -> None:
    """A span re-sent with other content keeps its first version and is named."""
    db = tmp_path / "t.db"
    assert _invoke("ingest", str(otlp_files["pb"]), "-p", "p1", "--db", str(db)).exit_code == 0
    request = ExportTraceServiceRequest.FromString(otlp_files["pb"].read_bytes())
    span = request.resource_spans[0].scope_spans[0].spans[0]
    span.name = "changed"
    changed = tmp_path / "changed.pb"
    changed.write_bytes(request.SerializeToString())

    result = _invoke("ingest", str(changed), "-p", "p1", "--db", str(db))
    assert result.exit_code == 0, result.output
    assert "0 inserted, 1 duplicates, 1 conflicts" in result.output
    assert f"conflict: span {span.span_id.hex()}" in result.output
    with Client(db) as client:
        assert client.span(span.span_id.hex()).name != "changed"


FIXTURES = Path(__file__).parent / "fixtures" / "otlp"


@pytest.mark.parametrize("name", ["openinference.pb", "traceloop.json", "genai.pb"])
def test_ingest_committed_instrumentor_fixtures(tmp_path: Path, name: str) -> None:
    """Files recorded from the real openai instrumentors ingest and verify cleanly."""
    db = tmp_path / "t.db"
    result = _invoke("ingest", str(FIXTURES / name), "--project", "fx", "--db", str(db))
    assert result.exit_code == 0, result.output
    stored = _stored_spans(db)
    assert stored > 0 and f"{stored} inserted, 0 duplicates, 0 conflicts" in result.output
    with Client(db) as client:
        trace_ids = [t.trace_id for t in client.traces("fx")]
    listed = _invoke("traces", "-p", "fx", "--db", str(db))
    assert trace_ids and all(t in listed.output for t in trace_ids)
    assert _invoke("verify", "--db", str(db)).exit_code == 0


def test_ingest_bad_file_exits_1_and_writes_nothing(tmp_path: Path, otlp_files) -> None:
    db = tmp_path / "t.db"
    result = _invoke("ingest", str(otlp_files["bad"]), "--project", "p1", "--db", str(db))
    assert result.exit_code == 1
    assert "Error:" in result.output and "broken.pb" in result.output
    assert "Traceback" not in result.output
    assert _stored_spans(db) == 0


def test_ingest_stops_at_first_bad_file(tmp_path: Path, otlp_files) -> None:
    """Files before the bad one are ingested; the bad one and those after it are not."""
    db = tmp_path / "t.db"
    files = [otlp_files["pb"], otlp_files["bad"], otlp_files["json"]]
    result = _invoke("ingest", *map(str, files), "--project", "p1", "--db", str(db))
    assert result.exit_code == 1
    assert "trace.pb: 2 inserted" in result.output
    assert "trace.json" not in result.output
    assert _stored_spans(db) == 2


def test_ingest_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    result = _invoke("ingest", str(tmp_path / "nope.pb"), "--project", "p", "--db", str(db))
    assert result.exit_code == 2
    assert not db.exists()


def test_verify_ok_then_tampered(tmp_path: Path, otlp_files) -> None:
    db = tmp_path / "t.db"
    assert _invoke("ingest", str(otlp_files["pb"]), "-p", "p1", "--db", str(db)).exit_code == 0
    ok = _invoke("verify", "--db", str(db))
    assert ok.exit_code == 0, ok.output
    assert "2 spans checked" in ok.output

    # Tamper the way an attacker with file access would: drop the write-once triggers.
    with Client(db) as client:
        victim = client.spans(limit=1)[0].span_id
    con = sqlite3.connect(db)
    triggers = con.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'spans'"
    ).fetchall()
    assert triggers, "the store should protect spans with triggers"
    for (name,) in triggers:
        con.execute(f'DROP TRIGGER "{name}"')
    con.execute("UPDATE spans SET name = 'tampered' WHERE span_id = ?", (victim,))
    con.commit()
    con.close()

    bad = _invoke("verify", "--db", str(db))
    assert bad.exit_code == 1
    assert f"span {victim}" in bad.output
    assert "1 of 2 spans do not match" in bad.output


def test_traces_table(tmp_path: Path, otlp_files) -> None:
    db = tmp_path / "t.db"
    assert _invoke("ingest", str(otlp_files["pb"]), "-p", "p1", "--db", str(db)).exit_code == 0
    assert _invoke("ingest", str(otlp_files["json"]), "-p", "p2", "--db", str(db)).exit_code == 0
    with Client(db) as client:
        (t1,) = client.traces("p1")
        (t2,) = client.traces("p2")

    one = _invoke("traces", "--project", "p1", "--db", str(db))
    assert one.exit_code == 0, one.output
    assert t1.trace_id in one.output and t2.trace_id not in one.output
    assert "Where is order 42?" in one.output and "It has shipped." in one.output
    assert "17" in one.output  # tokens: 12 prompt + 5 completion

    both = _invoke("traces", "--db", str(db))
    assert both.exit_code == 0, both.output
    assert t1.trace_id in both.output and t2.trace_id in both.output
    assert "2 traces, 2 projects" in both.output

    limited = _invoke("traces", "--limit", "1", "--db", str(db))
    assert limited.output.count("│ p") == 1  # one row, with its project column


def test_read_commands_do_not_create_a_database(tmp_path: Path) -> None:
    db = tmp_path / "missing.db"
    for command in ("traces", "verify"):
        result = _invoke(command, "--db", str(db))
        assert result.exit_code == 1
        assert "no tracejudge database" in result.output
    assert not db.exists()


def test_postgres_url_is_a_clean_error(tmp_path: Path, otlp_files) -> None:
    result = _invoke("ingest", str(otlp_files["pb"]), "-p", "p", "--db", "postgresql://x/y")
    assert result.exit_code == 1
    assert "PostgreSQL" in result.output and "Traceback" not in result.output


def test_console_script_subprocess(tmp_path: Path, otlp_files) -> None:
    """The installed ``tracejudge`` entry point, as a user runs it."""
    script = Path(sys.executable).parent / "tracejudge"
    db = tmp_path / "t.db"
    ingest = subprocess.run(
        [str(script), "ingest", str(otlp_files["pb"]), "--project", "sub", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ingest.returncode == 0, ingest.stderr
    assert f"{otlp_files['pb']}: 2 inserted, 0 duplicates, 0 conflicts" in ingest.stdout
    assert _stored_spans(db) == 2


OFFLINE = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None}  # None unsets the variable


def test_demo_offline(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = CliRunner().invoke(
        app, ["demo", "--db", str(db), "--questions", "3"], env={**WIDE, **OFFLINE}
    )
    assert result.exit_code == 0, result.output
    assert "Offline demo model" in result.output and "tracejudge-demo-model" in result.output
    assert "3 demo traces (project 'demo')" in result.output
    assert "In-line evaluations" in result.output and "groundedness" in result.output
    assert "How long does standard shipping take?" in result.output
    assert f"tracejudge traces --project demo --db {db}" in result.output
    with Client(db) as client:
        # The app's three traces, plus one EVALUATOR trace per in-line judge call.
        assert [t.name for t in client.traces("demo")].count("support_agent") == 3
    listed = _invoke("traces", "--project", "demo", "--db", str(db))
    assert listed.exit_code == 0 and "Where is my order TH-1042?" in listed.output


def test_demo_with_unreachable_endpoint_exits_1(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**WIDE, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "k"}
    result = CliRunner().invoke(
        app, ["demo", "--db", str(tmp_path / "d.db"), "--questions", "1"], env=env
    )
    assert result.exit_code == 1
    assert "model call failed" in result.output and "APIConnectionError" in result.output
    assert "Traceback" not in result.output


def test_demo_rejects_zero_questions(tmp_path: Path) -> None:
    result = _invoke("demo", "--db", str(tmp_path / "d.db"), "--questions", "0")
    assert result.exit_code == 2
    assert not (tmp_path / "d.db").exists()


def test_demo_bad_db_path_fails_before_asking(tmp_path: Path) -> None:
    db = tmp_path / "no" / "such" / "dir" / "d.db"
    result = CliRunner().invoke(app, ["demo", "--db", str(db)], env={**WIDE, **OFFLINE})
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
    assert "demo trace" not in result.output


def test_demo_names_the_failed_evaluation_and_why(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--db", str(tmp_path / "demo.db")], env={**WIDE, **OFFLINE}
    )
    assert result.exit_code == 0, result.output
    assert "groundedness failed on trace" in result.output
    assert "Not supported by the context" in result.output


def test_spans_table_with_kind_project_and_filter(tmp_path: Path, otlp_files) -> None:
    db = tmp_path / "s.db"
    assert _invoke("ingest", str(otlp_files["pb"]), "-p", "p1", "--db", str(db)).exit_code == 0
    assert _invoke("ingest", str(otlp_files["json"]), "-p", "p2", "--db", str(db)).exit_code == 0
    with Client(db) as client:
        [llm1] = client.spans("p1", kind="LLM")
        [agent1] = client.spans("p1", kind="AGENT")
        [llm2] = client.spans("p2", kind="LLM")

    every = _invoke("spans", "--db", str(db))
    assert every.exit_code == 0, every.output
    assert "4 spans, all projects" in every.output
    assert all(s.span_id in every.output for s in (llm1, agent1, llm2))

    llm = _invoke("spans", "--project", "p1", "--kind", "LLM", "--db", str(db))
    assert llm.exit_code == 0, llm.output
    assert llm1.span_id in llm.output and agent1.span_id not in llm.output
    assert llm2.span_id not in llm.output
    assert "test-model" in llm.output and "17" in llm.output  # 12 prompt + 5 completion

    grounded = _invoke("spans", "--filter", '"Canada" in input and is_root', "--db", str(db))
    assert grounded.exit_code == 0, grounded.output
    assert "1 span, all projects" in grounded.output and "Do you ship to Canada?" in grounded.output
    assert agent1.span_id not in grounded.output and llm2.span_id not in grounded.output

    limited = _invoke("spans", "-k", "LLM", "--limit", "1", "--db", str(db))
    assert llm1.span_id in limited.output and llm2.span_id not in limited.output


def test_spans_bad_filter_is_one_line_with_the_position(tmp_path: Path, otlp_files) -> None:
    db = tmp_path / "s.db"
    assert _invoke("ingest", str(otlp_files["pb"]), "-p", "p1", "--db", str(db)).exit_code == 0
    result = _invoke("spans", "--filter", 'kind == "LLM" and bogus > 1', "--db", str(db))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:")
    assert "'bogus'" in lines[0] and "position 19" in lines[0]
    assert "Traceback" not in result.output
    unknown_kind = _invoke("spans", "--kind", "NOPE", "--db", str(db))
    assert unknown_kind.exit_code == 2  # a usage error, listing the kinds
