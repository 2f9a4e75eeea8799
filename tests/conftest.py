"""Shared fixtures: every test gets its own dlt home, working folder and DuckDB file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from harvest_source.run_types import account_pipeline_name
from harvest_source.runner import RunResult, RunSettings, run_load
from harvest_source.settings import TOKEN_DIR_ENV
from harvest_source.simulator.clock import NOW_ENV, PINNED_NOW

# Every simulator a test starts (in process or as a subprocess) generates the account of this fixed "now",
# so its records, and what tests assert about them, are the same whatever day the suite runs. A test that
# wants today passes ``now=`` to the simulator.
os.environ[NOW_ENV] = PINNED_NOW

SYSTEM_COLUMNS = ("_dlt_load_id", "_dlt_id", "_dlt_parent_id", "_dlt_root_id")


@pytest.fixture(autouse=True)
def isolated_dlt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test reads ~/.dlt, /var/dlt, the repo's .dlt/ or a real Harvest setting."""
    for name in list(os.environ):
        if name.startswith(("SOURCES__", "DESTINATION__", "HARVEST__")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt_home"))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.setenv(TOKEN_DIR_ENV, str(tmp_path / "oauth_tokens"))  # never the user's ~/.config
    # report periods around the simulator's pinned now, not today's date, for every source a test builds
    monkeypatch.setenv("SOURCES__HARVEST__REPORTS_TODAY", PINNED_NOW[:10])
    # the sweeps' schedule at one moment too: a test whose runs straddle the hour would otherwise see the
    # rotating sweep re-read a slice of parents (tests that move time pass their own ``sweep_now``)
    monkeypatch.setenv("SOURCES__HARVEST__SWEEP_NOW", PINNED_NOW)
    monkeypatch.chdir(tmp_path)
    yield


class Loader:
    """Runs the connector against a simulator into one DuckDB file and reads it back."""

    def __init__(self, sim: Any, folder: Path, token: Any = None, name: str = "harvest") -> None:
        self.sim, self.folder, self.name = sim, folder, name
        self.token = token or getattr(sim, "admin_token", None) or "admin-token"
        self.file = str(folder / f"{name}.duckdb")

    @property
    def pipeline_name(self) -> str:
        """The account's dlt pipeline (one per account): its working folder under ``folder / "pipelines"``."""
        return account_pipeline_name(self.name, self.sim.account_id)

    def run(self, **settings: Any) -> RunResult:
        # the simulator does not rate-limit unless asked: do not pace at Harvest's real speed
        # report periods around the simulator's pinned now, not today's date
        source_options = {"rate_limit_window_s": 0.001, "reports_today": PINNED_NOW[:10],
                          **settings.pop("source_options", {})}
        run_settings = RunSettings(
            duckdb_file=self.file, pipeline_name=self.name, pipelines_dir=str(self.folder / "pipelines"),
            source_options=source_options, **settings,
        )
        return run_load(run_settings, self.token, str(self.sim.account_id), self.sim.base_url)

    def query(self, sql: str) -> list[tuple]:
        with duckdb.connect(self.file, read_only=True) as con:
            con.execute("SET search_path = 'harvest_data'")
            return con.execute(sql).fetchall()

    def tables(self) -> list[str]:
        with duckdb.connect(self.file, read_only=True) as con:
            rows = con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'harvest_data' "
                "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]

    def count(self, table: str) -> int:
        return self.query(f"SELECT count(*) FROM {table}")[0][0]

    def rows(self, table: str) -> list[tuple]:
        """The table's business columns, sorted: comparable across two loads."""
        with duckdb.connect(self.file, read_only=True) as con:
            cols = [
                r[0] for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'harvest_data' "
                    "AND table_name = ? ORDER BY column_name", [table],
                ).fetchall() if r[0] not in SYSTEM_COLUMNS
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            return sorted(con.execute(f"SELECT {select} FROM harvest_data.{table}").fetchall(), key=repr)

    def columns(self, table: str) -> dict[str, str]:
        with duckdb.connect(self.file, read_only=True) as con:
            return dict(con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'harvest_data' AND table_name = ?", [table],
            ).fetchall())


@pytest.fixture
def loader_for(tmp_path: Path):
    """Make a Loader for a simulator: ``loader_for(sim, name="fresh")``."""

    def make(sim: Any, name: str = "harvest", token: Any = None) -> Loader:
        return Loader(sim, tmp_path, token=token, name=name)

    return make
