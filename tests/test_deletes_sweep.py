"""The deletion sweep in real loads, over real HTTP to the simulator, on DuckDB (and PostgreSQL when
HARVEST_TEST_POSTGRES_DSN is set): after records of every kind are deleted in Harvest, a run with ``--sweep``
leaves the tables equal to a fresh full load (soft: equal once the marked rows are left out).

Kinds deleted: top-level rows (a time entry, a contact, a user assignment), a deleted parent with its
children (an invoice with payments and messages, a user with rates and assignments), one child of a parent
that keeps others (a payment), and every child of a parent that stays (all of an invoice's messages, all
of an estimate's messages). Report tables are left out of the comparison: a report period is re-read only
while it is recent (``report_tables``), whatever deletes do.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest

from harvest_source.runner import EXIT_OK, EXIT_PARTIAL, RunResult, RunSettings, format_summary, run_load
from harvest_source.settings import SOFT_DELETED_COLUMN, STAGING_DATASET_LAYOUT
from harvest_source.simulator import run_simulator
from harvest_source.simulator.clock import PINNED_NOW

DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")
FAST = {"rate_limit_window_s": 0.001, "reports_today": PINNED_NOW[:10]}
DESTINATIONS = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


class Warehouse:
    """One dataset (a DuckDB file, or a PostgreSQL schema) loaded by ``run`` and read back by ``rows``."""

    def __init__(self, kind: str, folder: Path, name: str) -> None:
        self.kind, self.folder, self.name = kind, folder, name
        self.file = str(folder / f"{name}.duckdb")
        self.dataset = "harvest_data" if kind == "duckdb" else f"deletes_{name}_{uuid.uuid4().hex[:8]}"

    def run(self, sim: Any, token: str | None = None, **settings: Any) -> RunResult:
        options = {**FAST, **settings.pop("source_options", {})}
        run_settings = RunSettings(destination=self.kind, duckdb_file=self.file, dataset=self.dataset,
                                   pipeline_name=self.name, pipelines_dir=str(self.folder / "pipelines"),
                                   source_options=options, **settings)
        return run_load(run_settings, token or sim.admin_token, str(sim.account_id), sim.base_url)

    def query(self, sql: str) -> list[tuple]:
        if self.kind == "duckdb":
            with duckdb.connect(self.file, read_only=True) as con:
                return con.execute(sql).fetchall()
        import psycopg2

        with psycopg2.connect(DSN) as con, con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []

    def columns(self) -> dict[str, list[str]]:
        rows = self.query("SELECT table_name, column_name FROM information_schema.columns "
                          f"WHERE table_schema = '{self.dataset}' AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'")
        out: dict[str, list[str]] = {}
        for table, column in rows:
            out.setdefault(table, []).append(column)
        return out

    def rows(self, table: str, columns: list[str], live_only: bool) -> Counter:
        """The table's business columns; ``live_only``: without soft-deleted rows (and their nested rows)."""
        select = ", ".join(f'"{c}"' for c in sorted(columns) if not c.startswith(("_dlt_", "_harvest_")))
        where = ""
        root = table.split("__")[0]
        if live_only and SOFT_DELETED_COLUMN in self.columns().get(root, []):
            q = f'"{self.dataset}"."{root}"'
            where = (f" WHERE {SOFT_DELETED_COLUMN} IS NULL" if root == table else
                     f" WHERE _dlt_root_id NOT IN (SELECT _dlt_id FROM {q} WHERE {SOFT_DELETED_COLUMN} IS NOT NULL)")
        return Counter(tuple(_plain(v) for v in r)
                       for r in self.query(f'SELECT {select} FROM "{self.dataset}"."{table}"{where}'))

    def marked(self, table: str) -> int:
        if SOFT_DELETED_COLUMN not in self.columns().get(table, []):
            return 0
        where = f"{SOFT_DELETED_COLUMN} IS NOT NULL"
        return self.query(f'SELECT count(*) FROM "{self.dataset}"."{table}" WHERE {where}')[0][0]

    def drop(self) -> None:
        if self.kind == "postgres":
            for schema in (self.dataset, STAGING_DATASET_LAYOUT % self.dataset):
                self.query(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _plain(value: Any) -> Any:
    """DuckDB and PostgreSQL hand back the same value in different types (a Decimal's scale, tz objects)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "normalize"):
        return str(value.normalize())
    return value


@pytest.fixture(params=DESTINATIONS)
def warehouses(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    kind = request.param
    if kind == "postgres":
        if not DSN:
            pytest.skip("HARVEST_TEST_POSTGRES_DSN is not set")
        monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", DSN)
    made: list[Warehouse] = []

    def make(name: str) -> Warehouse:
        made.append(Warehouse(kind, tmp_path, name))
        return made[-1]

    yield make
    for warehouse in made:
        warehouse.drop()


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=5) as simulator:
        yield simulator


def _with_children(sim: Any, parents: str, children: str, at_least: int) -> list[int]:
    return [p["id"] for p in sim.records(parents) if len(sim.records(children, p["id"])) >= at_least]


def delete_one_of_each_kind(sim: Any) -> dict[str, Any]:
    """Deletes in Harvest, one of every kind the sweep must catch; returns what went."""
    gone: dict[str, Any] = {}
    # top-level rows
    gone["time_entries"] = sim.records("time_entries")[-1]["id"]
    gone["contacts"] = sim.records("contacts")[0]["id"]
    gone["user_assignments"] = sim.records("user_assignments")[0]["id"]  # its project assignment goes too
    # a deleted parent, with its children
    with_both = [i for i in _with_children(sim, "invoices", "invoice_payments", 1)
                 if sim.records("invoice_messages", i)]
    gone["invoices"] = with_both[0]
    rated = [u["id"] for u in sim.records("users") if sim.records("billable_rates", u["id"])
             and "administrator" not in u.get("access_roles", [])]
    gone["users"] = rated[0]
    # one child of a parent keeping others
    paid = [i for i in _with_children(sim, "invoices", "invoice_payments", 2) if i != gone["invoices"]]
    gone["invoice_payments"] = sim.records("invoice_payments", paid[0])[0]["id"]
    # every child of a parent that stays
    told = [i for i in _with_children(sim, "invoices", "invoice_messages", 1) if i != gone["invoices"]]
    gone["invoice_messages_of"] = told[0]
    estimated = _with_children(sim, "estimates", "estimate_messages", 1)
    gone["estimate_messages_of"] = estimated[0]
    for key in ("time_entries", "contacts", "user_assignments", "invoices", "users", "invoice_payments"):
        sim.mutate("delete", key=key, id=gone[key])
    for message in sim.records("invoice_messages", gone["invoice_messages_of"]):
        sim.mutate("delete", key="invoice_messages", id=message["id"])
    for message in sim.records("estimate_messages", gone["estimate_messages_of"]):
        sim.mutate("delete", key="estimate_messages", id=message["id"])
    return gone


def assert_equal_to_fresh(swept: Warehouse, fresh: Warehouse, live_only: bool) -> None:
    tables = {t: c for t, c in fresh.columns().items() if not t.startswith("reports_")}
    swept_tables = {t: c for t, c in swept.columns().items() if not t.startswith("reports_")}
    assert set(tables) <= set(swept_tables), set(tables) ^ set(swept_tables)
    for table, columns in tables.items():
        left, right = swept.rows(table, columns, live_only), fresh.rows(table, columns, live_only)
        assert left == right, (f"{table}: only after the sweep {list((left - right).elements())[:2]}, "
                               f"only in the fresh load {list((right - left).elements())[:2]}")
    for table in set(swept_tables) - set(tables):  # a table the fresh load has no rows for: empty (or all marked)
        assert not swept.rows(table, swept_tables[table], live_only), table


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_after_a_sweep_the_tables_equal_a_fresh_load(sim: Any, warehouses: Any, mode: str) -> None:
    swept, fresh = warehouses("swept"), warehouses("fresh")
    options = {"source_options": {"deletes": mode}}
    first = swept.run(sim, **options)
    assert first.exit_code == EXIT_OK, first.error
    gone = delete_one_of_each_kind(sim)

    result = swept.run(sim, force_sweep=True, **options)
    assert result.exit_code == EXIT_OK, result.error
    assert fresh.run(sim).exit_code == EXIT_OK
    assert_equal_to_fresh(swept, fresh, live_only=(mode == "soft"))

    # the summary counts them per table
    for table in ("time_entries", "contacts", "user_assignments", "invoices", "users", "invoice_messages",
                  "estimate_messages", "billable_rates"):
        assert result.deleted.get(table, 0) >= 1, (table, result.deleted)
    verb = "marked deleted" if mode == "soft" else "deleted"
    assert f"{verb}: time_entries 1" in format_summary(result)
    if mode == "soft":
        assert swept.marked("time_entries") == 1 and swept.marked("invoices") == 1
        ids = [r[0] for r in swept.query(f'SELECT id FROM "{swept.dataset}".time_entries '
                                         f"WHERE {SOFT_DELETED_COLUMN} IS NOT NULL")]
        assert ids == [gone["time_entries"]]
    else:
        assert not swept.query(f'SELECT id FROM "{swept.dataset}".time_entries WHERE id = {gone["time_entries"]}')

    # nothing more to do: the next sweep finds nothing, and keeps the marks
    again = swept.run(sim, force_sweep=True, **options)
    assert again.exit_code == EXIT_OK and again.deleted == {}, again.deleted
    assert_equal_to_fresh(swept, fresh, live_only=(mode == "soft"))


def test_off_deletes_nothing_and_a_sweep_runs_only_when_due(sim: Any, warehouses: Any) -> None:
    warehouse = warehouses("swept")
    sim.reset_stats()
    assert warehouse.run(sim).exit_code == EXIT_OK
    # the first run's sweep is due, but every row was just read from Harvest: it costs no request
    by_path = sim.stats()["by_path"]
    assert by_path.get("/v2/time_entries") == 1 and by_path.get("/v2/clients") == 1, by_path
    assert "/v2/users/me" not in by_path
    entry = sim.records("time_entries")[0]["id"]
    sim.mutate("delete", key="time_entries", id=entry)
    sim.reset_stats()
    not_due = warehouse.run(sim)  # hard by default, but the sweep is not due (24 h)
    assert not_due.deleted == {} and "users/me" not in str(sim.stats())
    off = warehouse.run(sim, force_sweep=True, source_options={"deletes": "off"})
    assert off.exit_code == EXIT_OK and off.deleted == {} and off.deletion_warnings == {}
    assert warehouse.query(f'SELECT count(*) FROM "{warehouse.dataset}".time_entries WHERE id = {entry}') == [(1,)]
    forced = warehouse.run(sim, force_sweep=True)
    assert forced.deleted == {"time_entries": 1}
    assert warehouse.query(f'SELECT count(*) FROM "{warehouse.dataset}".time_entries WHERE id = {entry}') == [(0,)]


def test_a_member_token_never_sweeps_time_entries_or_expenses(warehouses: Any) -> None:
    """A member sees only their own time: the sweep skips those tables with a warning in the summary."""
    with run_simulator(scale="tiny", seed=5, member_token="member-token") as sim:
        warehouse = warehouses("member")
        first = warehouse.run(sim, token="member-token")
        assert first.exit_code in (EXIT_OK, EXIT_PARTIAL), first.error
        table = f'"{warehouse.dataset}".time_entries'
        before = warehouse.query(f"SELECT count(*) FROM {table}")
        own = [e["id"] for e in sim.records("time_entries") if e["user"]["id"] == sim.member_user_id]
        sim.mutate("delete", key="time_entries", id=own[0])
        result = warehouse.run(sim, token="member-token", force_sweep=True)
        assert "time_entries" not in result.deleted and "expenses" not in result.deleted
        assert "administrator" in result.deletion_warnings["time_entries"]
        assert "WARNING: deletions in time_entries" in format_summary(result)
        assert warehouse.query(f"SELECT count(*) FROM {table}") == before
