"""Property-based API fuzzing: the schemathesis CLI against the live server's OpenAPI schema.

Every check is on (no 5xx, responses match their documented schemas and statuses, auth
is enforced: an API key exists, so requests without it must get 401). Bounded to a fixed
number of examples per operation with a fixed seed: ~45 s alone on the 2-core machine, but
seen near 4 minutes late in a full CI run, hence the generous time limits.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from tests.server.conftest import PROTOBUF, llm_trace, make_request, run_server

from tracejudge.store import open_store
from tracejudge.store.keys import SQLiteKeyStore

EXAMPLES_PER_OPERATION = 60


@pytest.mark.timeout(660)
def test_schemathesis_finds_no_server_errors(tmp_path: Path) -> None:
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    store = open_store(tmp_path / "fuzz.db")
    _, key = SQLiteKeyStore(tmp_path / "fuzz.db").create("shop")
    auth = {"Authorization": f"Bearer {key}"}
    try:
        with run_server(store) as url:
            # Some records to find, so lookups also take their found path.
            spans = [s for t in range(1, 4) for s in llm_trace(t)]
            ok = httpx.post(
                url + "/v1/traces", content=make_request(spans), headers={**PROTOBUF, **auth}
            )
            assert ok.status_code == 200
            result = subprocess.run(
                [
                    st,
                    "--config-file",
                    str(Path(__file__).with_name("schemathesis.toml")),
                    "run",
                    url + "/openapi.json",
                    "--checks",
                    "all",
                    "--max-examples",
                    str(EXAMPLES_PER_OPERATION),
                    "--seed",
                    "20261122",
                    "--generation-database",
                    "none",
                    "--header",
                    f"Authorization: Bearer {key}",
                    "--request-timeout",
                    "30",
                    "--no-color",
                ],
                capture_output=True,
                text=True,
                timeout=600,
            )
    finally:
        store.close()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "Server error" not in result.stdout
