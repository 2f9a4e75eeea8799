"""Dagster (``pipelines/harvest_dagster.py``): one partition per Harvest account, over real HTTP to a simulator
serving several accounts, materialized in process. Each partition loads its own account with the command
line's runner; an account that fails (or loads only partly) fails its own partition, loudly, and no other.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import dlt
import duckdb
import pytest

from harvest_source.run_types import account_pipeline_name
from harvest_source.simulator import run_simulator
from pipelines.harvest_dagster import (
    DYNAMIC_PARTITIONS,
    HarvestLoadConfig,
    build_definitions,
    table_key,
)

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")
# tables every tiny account fills, as tests/test_accounts.py checks them
FILLED = ("clients", "projects", "tasks", "time_entries", "users", "invoices", "company", "roles")
NODE = "harvest_tables"


@pytest.fixture
def sim3():
    with run_simulator(scale="tiny", seed=3, accounts=3, member_token="member-token") as sim:
        yield sim


def configure(monkeypatch: pytest.MonkeyPatch, sim: Any, account_setting: str, token: str | None = None) -> None:
    """The settings a deployment gives the command line, as environment variables."""
    for name, value in {"ACCESS_TOKEN": token or sim.admin_token, "ACCOUNT_ID": account_setting,
                        "BASE_URL": sim.base_url, "ID_URL": sim.id_url, "RATE_LIMIT_WINDOW_S": "0.001"}.items():
        monkeypatch.setenv(f"SOURCES__HARVEST__{name}", value)


def materialize(defs: dg.Definitions, account_id: int | str, **kwargs: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(list(defs.assets), partition_key=str(account_id), raise_on_error=False, **kwargs)


def per_account(table: str, file: str = "harvest.duckdb") -> dict[int, int]:
    with duckdb.connect(file, read_only=True) as con:
        return dict(con.execute(f"SELECT account_id, count(*) FROM harvest_data.{table} GROUP BY 1").fetchall())


def failure(result: dg.ExecuteInProcessResult) -> str:
    data = result.failure_data_for_node(NODE)
    assert data is not None and data.error is not None
    return data.error.message


def materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    return {m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items()}
            for m in result.asset_materializations_for_node(NODE)}


def test_two_partitions_load_their_own_accounts_into_one_dataset(sim3, monkeypatch):
    first, second, third = sim3.account_ids
    configure(monkeypatch, sim3, f"{first},{second},{third}")
    defs = build_definitions()
    job = defs.resolve_job_def("harvest_job")
    assert job.partitions_def.get_partition_keys() == [str(first), str(second), str(third)]

    for account_id in (first, second):
        result = materialize(defs, account_id)
        assert result.success, failure(result)
        rows = materialized(result)
        assert rows["time_entries"]["rows_loaded"] == sim3.account(account_id).counts()["time_entries"]
        assert rows["time_entries"]["account_id"] == str(account_id)
        # the account's own dlt pipeline, as the command line names it
        pipeline = dlt.attach(account_pipeline_name("harvest", account_id))
        assert pipeline.state["sources"]["harvest"]["resources"]["time_entries"]["incremental"]

    for table in FILLED:  # the default destination: harvest.duckdb in the working folder
        counts = per_account(table)
        for account_id in (first, second):
            expected = 1 if table == "company" else sim3.account(account_id).counts()[table]
            assert counts.get(account_id) == expected, (table, account_id)
        assert third not in counts, table

    # a second run of a partition is incremental: nothing changed, nothing new
    again = materialize(defs, first)
    assert again.success, failure(again)
    assert per_account("time_entries")[first] == sim3.account(first).counts()["time_entries"]


def test_a_failing_account_fails_its_partition_only(sim3, monkeypatch):
    first, second, third = sim3.account_ids
    configure(monkeypatch, sim3, f"{first},{second},{third}")
    defs = build_definitions()
    sim3.set_account_state(second, "revoked")

    failed = materialize(defs, second)
    assert not failed.success
    message = failure(failed)  # the command line's summary, in the run's failure
    assert f"Harvest account {second}: FAILED (exit 1)" in message and "401" in message
    assert "status: FAILED" in message
    assert materialized(failed) == {}

    loaded = materialize(defs, first)
    assert loaded.success, failure(loaded)
    counts = per_account("time_entries")
    assert counts == {first: sim3.account(first).counts()["time_entries"]}


def test_a_partial_load_fails_the_partition_with_what_did_load_materialized(sim3, monkeypatch):
    # a member's token may not read the admin-only tables: the command line exits 2, the partition fails
    first = sim3.account_ids[0]
    configure(monkeypatch, sim3, str(first), token="member-token")
    result = materialize(build_definitions(), first)
    assert not result.success
    message = failure(result)
    assert f"Harvest account {first}: PARTIAL (exit 2)" in message and "skipped " in message
    rows = materialized(result)
    assert "time_entries" in rows and "invoices" not in rows  # skipped (403) tables are not materialized


def test_run_config_takes_the_command_line_flags(sim3, monkeypatch):
    first = sim3.account_ids[0]
    configure(monkeypatch, sim3, str(first))
    config = HarvestLoadConfig(duckdb_file="other.duckdb", dataset="harvest_data", pipeline_name="agency")
    result = materialize(build_definitions(), first, run_config=dg.RunConfig(ops={NODE: config}),
                         selection=[table_key("users"), table_key("projects")])
    assert result.success, failure(result)
    assert set(materialized(result)) == {"users", "projects"}
    assert per_account("users", "other.duckdb") == {first: sim3.account(first).counts()["users"]}
    assert dlt.attach(account_pipeline_name("agency", first)).default_schema.get_table("projects")


def test_the_hourly_schedule_runs_every_account_once_per_tick(sim3, monkeypatch):
    configure(monkeypatch, sim3, ",".join(str(i) for i in sim3.account_ids))
    defs = build_definitions()
    schedule = defs.resolve_schedule_def("harvest_schedule")
    assert schedule.cron_schedule == "0 * * * *"
    tick = dt.datetime(2024, 12, 2, 17, tzinfo=dt.UTC)
    with dg.DagsterInstance.ephemeral() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick,
                                            repository_def=defs.get_repository_def())
        requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == [str(i) for i in sim3.account_ids]
    assert len({r.run_key for r in requests}) == 3


def test_all_gets_dynamic_partitions_from_the_accounts_listing(sim3, monkeypatch):
    configure(monkeypatch, sim3, "all")
    defs = build_definitions()
    sensor = defs.resolve_sensor_def("harvest_accounts_sensor")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions(DYNAMIC_PARTITIONS, ["999", str(sim3.account_ids[0])])
        result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        added, deleted = result.dynamic_partitions_requests
        # the Harvest accounts the token reaches (the Forecast account is left out); one no longer listed goes
        assert list(added.partition_keys) == [str(i) for i in sim3.account_ids[1:]]
        assert list(deleted.partition_keys) == ["999"]
        assert [r.partition_key for r in result.run_requests] == [str(i) for i in sim3.account_ids[1:]]
        # a discovered account's partition loads like a static one
        instance.add_dynamic_partitions(DYNAMIC_PARTITIONS, list(added.partition_keys))
        loaded = materialize(defs, sim3.account_ids[1], instance=instance)
        assert loaded.success, failure(loaded)
    assert per_account("users") == {sim3.account_ids[1]: sim3.account(sim3.account_ids[1]).counts()["users"]}


def test_a_bad_account_setting_is_refused_when_the_definitions_load(monkeypatch):
    monkeypatch.setenv("SOURCES__HARVEST__ACCOUNT_ID", "12a")
    with pytest.raises(Exception, match="account_id '12a' is not a Harvest account id"):
        build_definitions()


# one partition, materialized by a process of its own (as a run launcher starts each run)
MATERIALIZE_ONE = """
import sys
sys.path.insert(0, {root!r})
import dagster as dg
from pipelines.harvest_dagster import HarvestLoadConfig, defs
config = HarvestLoadConfig(destination="postgres", dataset={dataset!r})
result = dg.materialize(list(defs.assets), partition_key=sys.argv[1], raise_on_error=False,
                        run_config=dg.RunConfig(ops={{"harvest_tables": config}}))
sys.exit(0 if result.success else 1)
"""


@pytest.mark.postgres
def test_two_partitions_load_into_postgres_at_once_from_separate_processes(sim3, monkeypatch):
    if not DSN:
        pytest.skip("HARVEST_TEST_POSTGRES_DSN is not set (CI starts a server with .ci/postgres.sh)")
    import psycopg2

    first, second, third = sim3.account_ids
    configure(monkeypatch, sim3, ",".join(str(i) for i in sim3.account_ids))
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", DSN)
    dataset = f"harvest_dagster_{uuid.uuid4().hex[:8]}"
    script = MATERIALIZE_ONE.format(root=str(ROOT), dataset=dataset)
    con = psycopg2.connect(DSN)
    con.autocommit = True
    try:
        # a dataset's first load creates its tables: two runs creating them at once collide in PostgreSQL's
        # catalog (one fails, and loads on its next run), so one account goes first, as the README says
        assert subprocess.run([sys.executable, "-c", script, str(third)], capture_output=True).returncode == 0
        runs = [subprocess.Popen([sys.executable, "-c", script, str(account)], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True) for account in (first, second)]
        outputs = [run.communicate(timeout=300)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
        with con.cursor() as cur:
            for table in ("time_entries", "invoices", "users"):
                cur.execute(f'SELECT account_id, count(*) FROM "{dataset}".{table} GROUP BY 1')
                assert dict(cur.fetchall()) == {a: sim3.account(a).counts()[table] for a in sim3.account_ids}, table
            # each account merged through a staging dataset of its own: dlt empties one before each load
            cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                        (f"_dlt_staging_{dataset}%",))
            assert sorted(r[0] for r in cur.fetchall()) == [f"_dlt_staging_{dataset}_{a}" for a in sim3.account_ids]
    finally:
        with con.cursor() as cur:
            cur.execute("SET client_min_messages = warning")
            cur.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE %s",
                        (f"%{dataset}%",))
            for (schema,) in cur.fetchall():
                cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.close()
