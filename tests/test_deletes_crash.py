"""A run killed (SIGKILL) during its deletion pass loses and duplicates nothing: the command line runs in a
subprocess (``tests/reliability/crash_driver.py``) that kills itself before the pass lists a table, or
after its second table write committed; the next ``--sweep`` run then leaves the tables equal to a fresh
full load, with no key twice. The pass runs after the load, so the killed run's rows are all loaded."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from reliability.support import cli_env, differences, driver_cmd, duplicate_keys
from test_deletes_sweep import delete_one_of_each_kind

from harvest_source.simulator import run_simulator

REPO = Path(__file__).resolve().parents[1]


class Folder:
    """One command-line dataset (a DuckDB file and a dlt home) in ``folder``."""

    def __init__(self, sim: Any, folder: Path) -> None:
        folder.mkdir()
        self.sim, self.folder, self.file = sim, folder, str(folder / "harvest.duckdb")

    def run(self, kill_point: str = "none", *args: str) -> subprocess.CompletedProcess:
        env = cli_env(self.sim, self.folder / "home")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))  # this checkout
        return subprocess.run(driver_cmd(kill_point, "--duckdb-file", self.file, "--no-progress", *args),
                              env=env, cwd=self.folder, capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("kill_point", ["sweep_listing:3", "deletion_write:2"])
def test_a_kill_during_the_deletion_pass_loses_and_duplicates_nothing(tmp_path: Path, kill_point: str) -> None:
    with run_simulator(scale="tiny", seed=5) as sim:
        swept = Folder(sim, tmp_path / "swept")
        first = swept.run()
        assert first.returncode == 0, first.stderr[-2000:]
        delete_one_of_each_kind(sim)

        killed = swept.run(kill_point, "--sweep")
        assert killed.returncode == -signal.SIGKILL and "KILL-HOOK-FIRED" in killed.stderr, killed.stderr[-2000:]
        again = swept.run("none", "--sweep")
        assert again.returncode == 0, again.stderr[-2000:]
        assert "deleted: " in again.stdout  # the pass finished what the killed one left

        fresh = Folder(sim, tmp_path / "fresh")
        assert fresh.run().returncode == 0
        assert differences(swept, fresh) == []
        assert duplicate_keys(swept.file) == {}
