"""Errors and recovery as a new user meets them (issue 17, section 4, the runner's items): the real cause
named once, a failed run not taken for a killed one, the rows a recovery loaded in the summary, and
SIGINT stopping a run whatever the parent process ignored."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from reliability.support import cli_env, driver_cmd, run_cli

from harvest_source import harvest_source
from harvest_source.destination import make_pipeline
from harvest_source.dlt_compat.storage import unfinished_extract_folders
from harvest_source.errors import CREDENTIALS_HINT, HarvestConfigError
from harvest_source.run_types import EXIT_FAILED, EXIT_OK, RunSettings
from harvest_source.simulator import run_simulator
from harvest_source.summary import explain, format_summary

HANG_GUARD_S = 300


def cli_env_stub(tmp_path: Path) -> dict[str, str]:
    """The command line's environment without any simulator: its own dlt home, no Harvest settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "HARVEST__"))}
    env.update({"DLT_DATA_DIR": str(tmp_path / "home"), "RUNTIME__DLTHUB_TELEMETRY": "false"})
    return env


# -- 1. a missing destination setting is named as that ---------------------------------------------------
def test_a_missing_destination_setting_is_named_not_the_harvest_token(loader_for):
    with run_simulator("tiny", seed=5) as sim:
        result = loader_for(sim).run(destination="filesystem")
    assert result.exit_code == EXIT_FAILED
    assert "missing destination setting(s) bucket_url" in result.error, result.error
    assert "DESTINATION__FILESYSTEM__BUCKET_URL" in result.error
    assert "ACCESS_TOKEN" not in result.error and "Harvest" not in result.error


def test_the_demo_with_a_bucketless_filesystem_names_the_bucket(tmp_path):
    env = cli_env_stub(tmp_path)
    proc = run_cli(["--demo", "--destination", "filesystem"], env, cwd=tmp_path)
    assert proc.returncode == EXIT_FAILED
    assert "DESTINATION__FILESYSTEM__BUCKET_URL" in proc.stderr, proc.stderr[-2000:]
    assert "SOURCES__HARVEST__ACCESS_TOKEN" not in proc.stderr


def test_a_missing_harvest_setting_through_dlt_still_names_the_harvest_variables():
    from dlt.common.configuration.exceptions import ConfigFieldMissingException

    with pytest.raises(ConfigFieldMissingException) as missing:
        harvest_source()
    message = explain(missing.value)
    assert message.startswith("missing Harvest setting(s) account_id"), message
    assert "SOURCES__HARVEST__ACCOUNT_ID" in message and "--demo" in message
    # the credentials are one of two (access_token, or an OAuth app): checked by the source, same message
    with pytest.raises(HarvestConfigError) as missing_token:
        harvest_source(account_id="1")
    message = explain(missing_token.value)
    assert message.startswith("missing Harvest setting(s) access_token"), message
    assert "SOURCES__HARVEST__ACCESS_TOKEN" in message and "client_id" in message and "--demo" in message


# -- 2. one clean message --------------------------------------------------------------------------------
def test_missing_credentials_are_explained_once(tmp_path):
    proc = run_cli([], cli_env_stub(tmp_path), cwd=tmp_path)
    assert proc.returncode == EXIT_FAILED
    assert proc.stderr.count("put them in .dlt/secrets.toml") == 1, proc.stderr
    assert proc.stderr.count("SOURCES__HARVEST__ACCESS_TOKEN") == 1, proc.stderr
    assert "missing Harvest setting(s) access_token, account_id" in proc.stderr
    assert ".." not in proc.stderr and "Hint:" not in proc.stderr


def test_a_401_is_one_message_with_its_hint_once_and_no_double_period(loader_for):
    with run_simulator("tiny", seed=5, token="the-real-admin-token") as sim:
        result = loader_for(sim, token="not-the-token").run()
    assert result.exit_code == EXIT_FAILED
    summary = format_summary(result)
    assert "(401)" in result.error and "for other reasons" in result.error, result.error
    assert summary.count(CREDENTIALS_HINT) == 1, summary
    assert ".." not in summary and "Hint:" not in summary
    assert "what to do: " + CREDENTIALS_HINT in summary


# -- 3. a failed run is not taken for a killed one --------------------------------------------------------
def test_after_a_401_the_next_run_does_not_warn_about_a_killed_run(loader_for, caplog):
    with run_simulator("tiny", seed=5, token="the-real-admin-token") as sim:
        failing = loader_for(sim, token="not-the-token")
        assert failing.run().exit_code == EXIT_FAILED
        pipeline = make_pipeline(RunSettings(duckdb_file=failing.file, pipeline_name=failing.pipeline_name,
                                             pipelines_dir=str(failing.folder / "pipelines")))
        assert unfinished_extract_folders(pipeline) == []  # the failed extract removed its temporary folder
        with caplog.at_level(logging.WARNING, logger="harvest_source"):
            result = loader_for(sim).run()
    assert result.exit_code == EXIT_OK, result.error
    warned = [r.getMessage() for r in caplog.records if r.name == "harvest_source"]
    assert not any("killed run" in message for message in warned), warned


# -- 4. the rows a recovery loaded are in the summary ------------------------------------------------------
@pytest.mark.parametrize("left", ["extracted", "normalized"])
def test_the_summary_lists_the_rows_the_recovered_package_loaded(loader_for, left):
    """An earlier run extracted (and maybe normalized) a package and never loaded it: the next run loads it
    first, and its summary says how many rows of which table came from that package."""
    with run_simulator("tiny", seed=5) as sim:
        loader = loader_for(sim)
        pipeline = make_pipeline(RunSettings(duckdb_file=loader.file, pipeline_name=loader.pipeline_name,
                                             pipelines_dir=str(loader.folder / "pipelines")))
        pipeline.extract(harvest_source(access_token=sim.admin_token, account_id=str(sim.account_id),
                                        base_url=sim.base_url, rate_limit_window_s=0.001))
        if left == "normalized":
            pipeline.normalize()
        result = loader.run()
        entries = sim.counts()["time_entries"]
    assert result.exit_code == EXIT_OK, result.error
    assert result.recovered["time_entries"] == entries == loader.count("time_entries")
    assert not any(table.startswith("_dlt") for table in result.recovered)
    summary = format_summary(result)
    assert "finished a load an earlier run left pending" in summary
    assert re.search(rf"^\s+time_entries\s+{entries:,}$", summary, re.M), summary


# -- 5. SIGINT stops a run whose parent ignores SIGINT ------------------------------------------------------
def _ignore_sigint() -> None:  # runs in the child before exec: as under `nohup ... &` or some CI runners
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("how", ["sigint@request:20", "outside"])
def test_sigint_stops_the_run_even_when_the_parent_ignores_it(loader_for, tmp_path, how):
    outside = how == "outside"
    with run_simulator("tiny", seed=5, latency_ms=40 if outside else 0) as sim:
        home = tmp_path / "home"
        home.mkdir()
        loader = loader_for(sim, name="ignored")
        loader.folder, loader.file = home, str(home / "ignored.duckdb")
        cmd = driver_cmd("none" if outside else how, "--duckdb-file", loader.file, "--pipeline-name", loader.name)
        proc = subprocess.Popen(cmd, env=cli_env(sim, home), cwd=home, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, preexec_fn=_ignore_sigint)
        if outside:
            while sim.stats()["total"] < 15 and proc.poll() is None:
                time.sleep(0.01)
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=HANG_GUARD_S)
        assert proc.returncode == EXIT_FAILED, err[-3000:]
        assert "interrupted by a signal" in err and "Traceback" not in err, err[-3000:]
        assert loader.run().exit_code == EXIT_OK  # and the next run completes what it left
