"""The command line as a user runs it: exit codes, messages, and no secret in any output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from harvest_source.simulator import run_simulator

REPO = Path(__file__).resolve().parents[1]
CLI = str(REPO / "pipelines" / "harvest_pipeline.py")
SECRET = "sekret-token-4242-do-not-print"


def _cli(*args: str, env: dict[str, str] | None = None, cwd: Path) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, CLI, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)


def _account_env(sim, token: str) -> dict[str, str]:
    return {
        "SOURCES__HARVEST__ACCESS_TOKEN": token,
        "SOURCES__HARVEST__ACCOUNT_ID": str(sim.account_id),
        "SOURCES__HARVEST__BASE_URL": sim.base_url,
        "SOURCES__HARVEST__RATE_LIMIT_WINDOW_S": "0.001",
    }


def test_bad_token_fails_clearly_and_never_prints_the_token(tmp_path):
    with run_simulator(scale="tiny", seed=1, token="the-real-admin-token") as sim:
        proc = _cli(env=_account_env(sim, SECRET), cwd=tmp_path)
        requests = sim.stats()["total"]
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1
    assert "401" in output and "access token" in output.lower()
    assert "SOURCES__HARVEST__ACCESS_TOKEN" in output  # says which setting to fix
    assert SECRET not in output
    assert requests < 40  # it stops, it does not hammer Harvest with a bad token
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            assert SECRET.encode() not in path.read_bytes(), path


def test_missing_settings_say_what_to_set(tmp_path):
    proc = _cli(cwd=tmp_path)
    assert proc.returncode == 1
    assert "SOURCES__HARVEST__ACCESS_TOKEN" in proc.stderr and "--demo" in proc.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--resources", "time_entries,timesheets"], "Valid resources: company, clients"),
        (["--start-date", "31/01/2024"], "YYYY-MM-DD"),
    ],
)
def test_bad_input_is_refused_before_any_request(tmp_path, args, expected):
    with run_simulator(scale="tiny", seed=1) as sim:
        proc = _cli(*args, env=_account_env(sim, "any-token"), cwd=tmp_path)
        requests = sim.stats()["total"]
    assert proc.returncode == 1
    assert expected in proc.stderr
    assert requests == 0


def test_unreachable_base_url_fails_with_a_message(tmp_path):
    env = {"SOURCES__HARVEST__ACCESS_TOKEN": "t", "SOURCES__HARVEST__ACCOUNT_ID": "1",
           "SOURCES__HARVEST__BASE_URL": "http://127.0.0.1:9/v2"}
    proc = _cli("--resources", "company", env={**env, "SOURCES__HARVEST__MAX_ATTEMPTS": "2"}, cwd=tmp_path)
    assert proc.returncode == 1
    assert "127.0.0.1" in proc.stderr


def test_demo_runs_twice_and_survives_a_deleted_duckdb_file(tmp_path):
    first = _cli("--demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "time_entries" in first.stdout and "status: OK" in first.stdout
    db = tmp_path / "harvest.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        entries = con.execute("SELECT count(*) FROM harvest_data.time_entries").fetchone()[0]
    assert entries > 10_000

    second = _cli("--demo", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = second.stdout.split("Harvest load summary")[1]
    assert not re.search(r"^\s+time_entries\s", summary, re.M)  # nothing new to load

    db.unlink()
    third = _cli("--demo", cwd=tmp_path)
    assert third.returncode == 0, third.stderr[-3000:]
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM harvest_data.time_entries").fetchone()[0] == entries


def test_a_signal_inside_dlt_context_handling_still_reads_as_an_interruption():
    """Ctrl-C can land while dlt restores a context; dlt then raises its own error from the interrupt."""
    from harvest_source.runner import INTERRUPTED, _explain, _root_cause

    try:
        try:
            raise KeyboardInterrupt
        finally:
            raise RuntimeError("context mangled")  # what dlt's container raises in that case
    except RuntimeError as error:
        assert _explain(_root_cause(error)) == INTERRUPTED
    assert _explain(_root_cause(RuntimeError("plain"))).startswith("RuntimeError")
