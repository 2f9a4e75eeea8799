"""The source is the product: a plain ``dlt.pipeline(...).run(harvest_source())``, as dlt users compose it,
loads the same tables as the command line's ``runner.run_load``, full and then incremental."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest

from harvest_source import harvest_source
from harvest_source.rules import appendable_tables
from harvest_source.runner import EXIT_OK
from harvest_source.settings import DATASET_NAME
from harvest_source.simulator import run_simulator


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=23) as simulator:
        yield simulator


def _plain_run(sim, file: str, pipelines_dir: Path) -> dlt.Pipeline:
    pipeline = dlt.pipeline(
        pipeline_name="plain", destination=dlt.destinations.duckdb(file), dataset_name=DATASET_NAME,
        pipelines_dir=str(pipelines_dir),
    )
    source = harvest_source(access_token=sim.admin_token, account_id=str(sim.account_id), base_url=sim.base_url,
                            rate_limit_window_s=0.001)
    pipeline.run(source)
    return pipeline


def _assert_same_tables(cli, plain) -> None:
    assert cli.tables() == plain.tables()
    for table in cli.tables():
        assert cli.rows(table) == plain.rows(table), f"{table} differs"


def test_a_plain_dlt_pipeline_loads_the_same_tables_as_the_cli_full_then_incremental(sim, loader_for, tmp_path):
    cli, plain = loader_for(sim, name="cli"), loader_for(sim, name="plain")

    assert cli.run().exit_code == EXIT_OK
    pipeline = _plain_run(sim, plain.file, tmp_path / "plain_pipelines")
    _assert_same_tables(cli, plain)
    # the first load appended inside the source, without the runner
    dispositions = {t: s.get("write_disposition") for t, s in pipeline.default_schema.tables.items()}
    assert all(dispositions[t] == "append" for t in appendable_tables()), dispositions
    assert dispositions["invoices"] == "merge"

    changed = sim.mutate_random(0.1, seed=5)
    assert sum(len(ids) for ids in changed.values()) > 10
    assert cli.run().exit_code == EXIT_OK
    pipeline = _plain_run(sim, plain.file, tmp_path / "plain_pipelines")
    _assert_same_tables(cli, plain)
    for table in appendable_tables():
        assert plain.query(f"SELECT count(*) - count(DISTINCT id) FROM {table}") == [(0,)], table
