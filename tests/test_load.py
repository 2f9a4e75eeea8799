"""End to end: the connector against the simulator over real HTTP, into DuckDB."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import duckdb
import pytest

from harvest_source.catalog import BY_TABLE, ENDPOINTS, TABLES, Kind
from harvest_source.runner import EXIT_OK, EXIT_PARTIAL
from harvest_source.simulator import run_simulator

TOP_LEVEL = [e for e in ENDPOINTS if e.fan_out is None]
FAN_OUT_PATH = re.compile(r"^/v2/(invoices|estimates|users)/\d+/")


def _fan_out_requests(stats: dict) -> int:
    return sum(n for path, n in stats["by_path"].items() if FAN_OUT_PATH.match(path))


def _assert_same_tables(a, b) -> None:
    assert a.tables() == b.tables()
    for table in a.tables():
        # report periods before the previous one are read once, after they ended: names in them (a renamed
        # client) stay as they were read, like the names embedded in time entries (report_tables)
        if not table.startswith("reports_"):
            assert a.rows(table) == b.rows(table), f"{table} differs"


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=7) as simulator:
        yield simulator


def test_full_load_matches_the_simulator_counts(sim, loader_for):
    loader = loader_for(sim)
    result = loader.run()
    assert result.exit_code == EXIT_OK, result.error
    expected = sim.counts()
    for table in TABLES:
        if not BY_TABLE[table].path.startswith("reports/"):  # reports: tests/test_report_tables.py
            assert loader.count(table) == expected[table], table
    assert loader.count("invoice_payments") >= 3
    # every fanned-out row carries its parent id, and the ids exist in the parent table
    assert loader.query(
        "SELECT count(*) FROM invoice_payments p LEFT JOIN invoices i ON i.id = p.invoice_id WHERE i.id IS NULL"
    ) == [(0,)]
    assert loader.query("SELECT count(*) FROM billable_rates WHERE user_id IS NULL") == [(0,)]


def test_loaded_packages_leave_no_data_files_in_the_working_folder(sim, loader_for, monkeypatch):
    """A scheduled run must not pile up copies of what it loaded: the shipped .dlt/config.toml sets dlt's
    ``[load] delete_completed_jobs`` (tests run in their own folder, so the setting is given here the way
    an environment variable would give it), and the package's record (its state, for recovery) stays."""
    shipped = tomllib.loads((Path(__file__).resolve().parents[1] / ".dlt" / "config.toml").read_text())
    assert shipped["load"]["delete_completed_jobs"] is True
    monkeypatch.setenv("LOAD__DELETE_COMPLETED_JOBS", "true")
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    loaded = loader.folder / "pipelines" / loader.pipeline_name / "load" / "loaded"
    packages = [p for p in loaded.iterdir() if p.is_dir()]
    assert packages and all((p / "load_package_state.json").is_file() for p in packages)
    assert [f for p in packages for f in (p / "completed_jobs").glob("*") if f.is_file()] == []


def test_no_change_run_adds_nothing_and_asks_once_per_top_level_endpoint(sim, loader_for):
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    before = {t: loader.count(t) for t in TABLES}
    sim.reset_stats()
    result = loader.run()
    assert result.exit_code == EXIT_OK, result.error
    stats = sim.stats()
    assert {t: loader.count(t) for t in TABLES} == before
    assert _fan_out_requests(stats) == 0
    # reports re-read their current and previous period (REPORTS_REREAD_PERIODS): two requests each
    reread = {e.table: 2 if e.kind is Kind.REPORT else 1 for e in TOP_LEVEL}
    assert stats["total"] <= sum(reread.values())
    for endpoint in TOP_LEVEL:
        assert stats["by_path"].get(f"/v2/{endpoint.path}", 0) <= reread[endpoint.table], endpoint.path
    # only the whole-reload tables (company, roles) and the re-read report periods were loaded again
    assert set(result.rows) <= {"company", "roles", "roles__user_ids"} | {t for t in TABLES if t.startswith("reports_")}


@pytest.mark.parametrize("child_bumps_parent", [True, False])
def test_incremental_after_changes_equals_a_fresh_full_load(child_bumps_parent, loader_for):
    with run_simulator(scale="tiny", seed=11, child_bumps_parent=child_bumps_parent) as sim:
        loader = loader_for(sim)
        assert loader.run().exit_code == EXIT_OK
        invoice = sim.records("invoices")[0]
        user = sim.records("users")[0]
        estimate = sim.records("estimates")[0]
        entry = sim.records("time_entries")[0]
        sim.mutate("update", key="time_entries", id=entry["id"], fields={"notes": "changed by the test"})
        sim.mutate("update", key="clients", id=sim.records("clients")[0]["id"], fields={"name": "Renamed Ltd"})
        sim.mutate("create", key="time_entries")
        sim.mutate("create", key="tasks")
        sim.mutate("add_payment", invoice_id=invoice["id"], amount=1)
        sim.mutate("add_invoice_message", invoice_id=invoice["id"], reminder=True)  # never bumps the invoice
        sim.mutate("add_estimate_message", estimate_id=estimate["id"])
        sim.mutate("change_rate", user_id=user["id"], which="billable", amount=123)  # never bumps the user
        sim.mutate("delete", key="invoice_payments", id=sim.records("invoice_payments")[-1]["id"])

        sim.reset_stats()
        assert loader.run().exit_code == EXIT_OK
        incremental_fan_out = _fan_out_requests(sim.stats())
        assert loader.run(force_sweep=True).exit_code == EXIT_OK  # the sweep catches unbumped children

        fresh = loader_for(sim, name="fresh")
        assert fresh.run().exit_code == EXIT_OK
        _assert_same_tables(loader, fresh)
        # the incremental run fanned out over changed parents only, not over all of them
        assert incremental_fan_out < len(sim.records("invoices")) + len(sim.records("users"))


def test_changes_in_the_boundary_second_are_not_lost(sim, loader_for):
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    cursor = max(r["updated_at"] for r in sim.records("tasks"))
    # a new record stamped with exactly the stored cursor second (the same second the last run saw)
    created = sim.mutate("create", key="tasks")
    new_id = created["id"]
    sim.mutate("update", key="tasks", id=new_id, fields={"updated_at": cursor})
    assert loader.run().exit_code == EXIT_OK
    assert loader.query(f"SELECT count(*) FROM tasks WHERE id = {new_id}") == [(1,)]
    assert loader.count("tasks") == sim.counts()["tasks"]


def test_time_entries_columns_have_the_promised_types(sim, loader_for):
    loader = loader_for(sim)
    assert loader.run(resources=["time_entries"]).exit_code == EXIT_OK
    types = loader.columns("time_entries")
    assert types["id"] == "BIGINT"
    assert types["spent_date"] == "DATE"
    assert types["created_at"] == types["updated_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["hours"].startswith("DECIMAL") and types["billable_rate"].startswith("DECIMAL")
    assert types["client__id"] == types["project__id"] == types["user__id"] == "BIGINT"
    assert types["client__name"] == "VARCHAR" and types["started_time"] == "VARCHAR"
    assert types["external_reference__id"] == "VARCHAR"
    assert loader.query("SELECT max(id) > 2147483647 FROM time_entries") == [(True,)]
    exact = {r["id"]: r["hours"] for r in sim.records("time_entries")}
    for entry_id, hours in loader.query("SELECT id, hours FROM time_entries"):
        assert float(hours) == float(exact[entry_id])


def test_member_token_skips_admin_only_tables_and_loads_the_rest(loader_for, caplog):
    with run_simulator(scale="tiny", seed=3, member_token="member-token") as sim:
        loader = loader_for(sim, token="member-token")
        result = loader.run()
    assert result.exit_code == EXIT_PARTIAL
    assert {"clients", "invoices", "invoice_payments", "users", "roles"} <= set(result.skipped)
    assert "time_entries" not in result.skipped and "company" not in result.skipped
    assert loader.count("time_entries") > 0
    assert "needs administrator" in result.skipped["roles"]
    assert any("Skipping clients" in r.getMessage() for r in caplog.records)


def test_selecting_only_a_child_does_not_advance_its_parent_table(sim, loader_for):
    loader = loader_for(sim)
    assert loader.run(resources=["invoice_payments"]).exit_code == EXIT_OK
    assert "invoices" not in loader.tables()
    assert loader.run(resources=["invoices"]).exit_code == EXIT_OK
    assert loader.count("invoices") == sim.counts()["invoices"]


def test_start_date_bounds_the_first_run(sim, loader_for):
    stamps = sorted(r["updated_at"] for r in sim.records("time_entries"))
    middle = stamps[len(stamps) // 2][:10]  # a YYYY-MM-DD inside the data
    loader = loader_for(sim)
    assert loader.run(resources=["time_entries", "invoices"], start_date=middle).exit_code == EXIT_OK
    expected = sum(1 for s in stamps if s >= f"{middle}T00:00:00Z")
    assert 0 < loader.count("time_entries") == expected < len(stamps)
    sent = [r["query"] for r in sim.stats()["requests"] if r["path"] == "/v2/time_entries"]
    assert all(f"updated_since={middle}T00%3A00%3A00Z" in q for q in sent[:1])


def test_strict_mode_turns_a_403_into_a_failure(loader_for):
    with run_simulator(scale="tiny", seed=3, member_token="member-token") as sim:
        result = loader_for(sim, token="member-token").run(strict=True)
    assert result.exit_code == 1
    assert "403" in result.error


def test_the_duckdb_file_is_released_when_a_run_ends_or_fails(sim, loader_for):
    """A run holds one connection to the DuckDB file (see ``runner.open_duckdb``) and closes it on every path:
    afterwards another process or connection, with other settings, can open the file."""
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    with duckdb.connect(loader.file, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM harvest_data.clients").fetchone()[0] > 0
    sim.set_faults([{"kind": "missing_key", "count": 1, "path": "^/v2/contacts$"}])
    failed = loader.run()
    assert failed.exit_code == 1 and "has no 'contacts'" in (failed.error or "")
    with duckdb.connect(loader.file, config={"threads": 1}) as con:
        assert con.execute("SELECT count(*) FROM harvest_data.clients").fetchone()[0] > 0
