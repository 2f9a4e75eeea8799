"""The runner's contracts with its callers (issue 12): a caller's own RunReport is the run's report (the
command line polls it for live progress), and RunSettings.progress reaches dlt as given."""

from __future__ import annotations

from dlt.common.runtime.collector import LogCollector

from harvest_source.destination import make_pipeline, progress_collector
from harvest_source.report import RunReport
from harvest_source.run_types import EXIT_OK, RunSettings
from harvest_source.runner import run_load
from harvest_source.simulator import run_simulator


def test_progress_true_is_dlts_log_a_collector_passes_through_false_is_none(tmp_path):
    collector = LogCollector(log_period=3600)
    assert progress_collector(True) == "log"
    assert progress_collector(False) is None
    assert progress_collector(collector) is collector
    pipeline = make_pipeline(RunSettings(duckdb_file=str(tmp_path / "p.duckdb"), pipelines_dir=str(tmp_path / "p"),
                                         progress=collector))
    assert pipeline.collector is collector


def test_run_load_fills_the_callers_report(tmp_path):
    report = RunReport()
    with run_simulator("tiny", seed=5) as sim:
        settings = RunSettings(duckdb_file=str(tmp_path / "r.duckdb"), pipelines_dir=str(tmp_path / "pipelines"),
                               source_options={"rate_limit_window_s": 0.001})
        result = run_load(settings, sim.admin_token, str(sim.account_id), sim.base_url, report=report)
    assert result.exit_code == EXIT_OK, result.error
    outcome = report.outcome()
    assert outcome.requests == result.requests > 0
    assert report.stop.is_set()  # the run is over: its report says so too


def test_the_run_caps_duckdbs_memory_and_names_a_bad_size(tmp_path):
    """The load step is a run's memory peak; capped, DuckDB spills instead (benchmarks: 1,094 -> 787 MB at 2M rows)."""
    import pytest

    from harvest_source.destination import open_duckdb
    from harvest_source.errors import HarvestConfigError

    connection = open_duckdb(RunSettings(duckdb_file=str(tmp_path / "m.duckdb"), duckdb_memory_limit="300MB"))
    try:
        cursor = connection.cursor()  # the cap is the database's: every account's cursor has it
        assert cursor.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("286.1 MiB", "300.0 MB")
    finally:
        connection.close()
    uncapped = open_duckdb(RunSettings(duckdb_file=str(tmp_path / "u.duckdb"), duckdb_memory_limit=None))
    try:
        assert uncapped.execute("SELECT current_setting('memory_limit')").fetchone()[0] not in ("286.1 MiB", "300.0 MB")
    finally:
        uncapped.close()
    with pytest.raises(HarvestConfigError, match="not a size") as caught:
        open_duckdb(RunSettings(duckdb_file=str(tmp_path / "b.duckdb"), duckdb_memory_limit="lots"))
    assert "512MB" in caught.value.hint
    assert not (tmp_path / "b.duckdb").exists()  # refused before the file is touched
