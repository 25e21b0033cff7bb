"""``register(endpoint=...)`` exports into the real server; ``tracejudge keys`` / ``serve``."""

from __future__ import annotations

from pathlib import Path

from tests.server.conftest import LiveServer
from typer.testing import CliRunner

from tracejudge.capture import flush, observe, register, shutdown
from tracejudge.cli import app
from tracejudge.keys import ApiKey
from tracejudge.store.keys import SQLiteKeyStore


def test_register_exports_to_the_server_with_a_key(live_server: LiveServer) -> None:
    _, key = live_server.keys.create("support-bot")
    register("support-bot", endpoint=live_server.url, api_key=key, set_global=False)

    @observe(kind="TOOL")
    def lookup(order_id: str) -> str:
        return f"order {order_id}: shipped"

    @observe(kind="AGENT")
    def answer(question: str) -> str:
        return lookup("A-17")

    try:
        assert answer("where is my order?") == "order A-17: shipped"
        assert flush(10)
    finally:
        shutdown()
    spans = {s.name: s for s in live_server.store.list_spans("support-bot")}
    assert set(spans) == {"answer", "lookup"}
    assert spans["lookup"].kind == "TOOL"
    assert spans["lookup"].parent_span_id == spans["answer"].span_id
    assert spans["answer"].input == "where is my order?"


def test_keys_cli_create_list_revoke(tmp_path: Path) -> None:
    db = str(tmp_path / "keys.db")
    runner = CliRunner()
    created = runner.invoke(app, ["keys", "create", "--project", "shop", "--db", db])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("tj_")
    keys = SQLiteKeyStore(db)
    record = keys.verify(secret)
    assert isinstance(record, ApiKey) and record.project == "shop"

    listed = runner.invoke(app, ["keys", "list", "--db", db])
    assert listed.exit_code == 0
    assert record.prefix in listed.stdout and secret not in listed.stdout

    revoked = runner.invoke(app, ["keys", "revoke", record.id, "--db", db])
    assert revoked.exit_code == 0, revoked.output
    assert keys.verify(secret) is None
    assert not keys.has_active()
    missing = runner.invoke(app, ["keys", "revoke", "tj_nothing", "--db", db])
    assert missing.exit_code == 1
    assert "no API key" in missing.output


def test_serve_refuses_a_public_host_without_keys(tmp_path: Path) -> None:
    db = str(tmp_path / "open.db")
    result = CliRunner().invoke(app, ["serve", "--db", db, "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "without API keys" in result.output
