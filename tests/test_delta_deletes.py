"""The deletion sweep on Delta tables (``--table-format delta``), over real HTTP to the simulator: after records
are deleted in Harvest, a run with ``--sweep`` leaves the Delta tables (read back with ``deltalake``) equal to
a fresh full load of the same Harvest into DuckDB; soft: equal once the marked rows (and their nested rows)
are left out. Plain parquet files still cannot change a row: the pass skips them and the summary says so.

Kinds deleted: a top-level row (a time entry), a parent with its children and nested rows (an invoice with
payments, messages and line items), one child of a parent that keeps others (a payment), and every child
of a parent that stays (all of an estimate's messages). Report tables are left out of the comparison, as
in ``test_deletes_sweep``: a report period is re-read only while it is recent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from harvest_source.run_types import EXIT_OK, RunResult, RunSettings
from harvest_source.runner import format_summary, run_load
from harvest_source.settings import SOFT_DELETED_COLUMN
from harvest_source.simulator import run_simulator
from tests.test_deletes_sweep import FAST
from tests.test_warehouses import business_columns, norm_rows, select

deltalake = pytest.importorskip("deltalake", reason="the delta extra is not installed")

DATASET = "harvest_data"


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=5) as simulator:
        yield simulator


def _run(sim: Any, folder: Path, kind: str, mode: str = "hard", **settings: Any) -> RunResult:
    options = {**FAST, "deletes": mode}
    if kind == "duckdb":
        run = RunSettings(duckdb_file=str(folder / "fresh.duckdb"), dataset=DATASET, pipeline_name="fresh",
                          pipelines_dir=str(folder / "fresh_pipelines"), source_options=options, **settings)
    else:
        run = RunSettings(destination="filesystem", table_format=kind if kind == "delta" else None,
                          dataset=DATASET, pipeline_name=kind, pipelines_dir=str(folder / f"{kind}_pipelines"),
                          source_options=options, **settings)
    return run_load(run, sim.admin_token, str(sim.account_id), sim.base_url)


def delete_the_kinds(sim: Any) -> dict[str, Any]:
    """Deletes in Harvest one of each kind the module doc names; returns what went."""
    gone: dict[str, Any] = {"time_entries": sim.records("time_entries")[-1]["id"]}
    invoices = [i for i in sim.records("invoices") if i["line_items"] and sim.records("invoice_payments", i["id"])
                and sim.records("invoice_messages", i["id"])]
    gone["invoices"] = invoices[0]["id"]
    paid = [i["id"] for i in sim.records("invoices")
            if i["id"] != gone["invoices"] and len(sim.records("invoice_payments", i["id"])) >= 2]
    gone["invoice_payments"] = sim.records("invoice_payments", paid[0])[0]["id"]
    told = [e["id"] for e in sim.records("estimates") if sim.records("estimate_messages", e["id"])]
    gone["estimate_messages_of"] = told[0]
    for key in ("time_entries", "invoices", "invoice_payments"):
        sim.mutate("delete", key=key, id=gone[key])
    for message in sim.records("estimate_messages", told[0]):
        sim.mutate("delete", key="estimate_messages", id=message["id"])
    return gone


def _duck_tables(file: Path) -> dict[str, list[str]]:
    with duckdb.connect(str(file), read_only=True) as con:
        rows = con.execute("SELECT c.table_name, c.column_name FROM information_schema.columns c "
                           "JOIN information_schema.tables t USING (table_schema, table_name) "
                           "WHERE c.table_schema = ? AND t.table_type = 'BASE TABLE' "
                           "AND c.table_name NOT LIKE '\\_dlt%' ESCAPE '\\' "
                           "AND c.table_name NOT LIKE 'reports\\_%' ESCAPE '\\'", [DATASET]).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _delta(lake: Path, table: str) -> pa.Table:
    return deltalake.DeltaTable(str(lake / DATASET / table)).to_pyarrow_table()


def _live(lake: Path, table: str) -> pa.Table:
    """The Delta table's rows, without the soft-deleted ones and the nested rows of soft-deleted roots."""
    rows = _delta(lake, table)
    root = _delta(lake, table.split("__")[0])
    if SOFT_DELETED_COLUMN not in root.column_names:
        return rows
    marked = root.filter(pc.is_valid(root[SOFT_DELETED_COLUMN]))["_dlt_id"]
    if table == table.split("__")[0]:
        return rows.filter(pc.is_null(rows[SOFT_DELETED_COLUMN]))
    return rows.filter(pc.invert(pc.is_in(rows["_dlt_root_id"], value_set=marked.combine_chunks())))


def _marked(lake: Path, table: str) -> list[int]:
    rows = _delta(lake, table)
    if SOFT_DELETED_COLUMN not in rows.column_names:
        return []
    return rows.filter(pc.is_valid(rows[SOFT_DELETED_COLUMN]))["id"].to_pylist()


def assert_lake_equals_fresh(lake: Path, fresh: Path) -> dict[str, int]:
    """Every DuckDB table's rows (business columns) equal the live rows of the Delta table; rows per table."""
    tables = _duck_tables(fresh)
    folders = {p.name for p in (lake / DATASET).iterdir()
               if p.is_dir() and not p.name.startswith(("_", "reports_")) and p.name != "init"}
    assert set(tables) <= folders, set(tables) ^ folders
    counts = {}
    with duckdb.connect(str(fresh), read_only=True) as duck, duckdb.connect() as con:
        for table, columns in tables.items():
            wanted = business_columns({c: "" for c in columns if not c.startswith("_harvest_")})
            live = _live(lake, table)  # noqa: F841 (read by name below)
            left = Counter(norm_rows(con.execute(select(wanted, "live")).fetchall()))
            right = Counter(norm_rows(duck.execute(select(wanted, f"{DATASET}.{table}")).fetchall()))
            assert left == right, (f"{table}: only in the swept lake {list((left - right).elements())[:2]}, "
                                   f"only in the fresh load {list((right - left).elements())[:2]}")
            counts[table] = sum(right.values())
    for table in folders - set(tables):  # a table the fresh load has no rows for: empty (or all marked)
        assert _live(lake, table).num_rows == 0, table
    return counts


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_after_a_sweep_the_delta_tables_equal_a_fresh_load(sim: Any, tmp_path: Path, mode: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    lake = tmp_path / "lake"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", lake.as_uri())
    first = _run(sim, tmp_path, "delta", mode)
    assert first.exit_code == EXIT_OK, first.error
    before = {t: _delta(lake, t).num_rows for t in ("invoices__line_items", "estimate_messages")}
    gone = delete_the_kinds(sim)

    result = _run(sim, tmp_path, "delta", mode, force_sweep=True)
    assert result.exit_code == EXIT_OK, result.error
    assert not result.deletion_warnings, result.deletion_warnings
    assert _run(sim, tmp_path, "duckdb").exit_code == EXIT_OK
    counts = assert_lake_equals_fresh(lake, tmp_path / "fresh.duckdb")
    assert counts["invoices__line_items"] > 0 and counts["invoice_payments"] > 0

    for table in ("time_entries", "invoices", "invoice_payments", "invoice_messages", "estimate_messages"):
        assert result.deleted.get(table, 0) >= 1, (table, result.deleted)
    verb = "marked deleted" if mode == "soft" else "deleted"
    assert f"{verb}: time_entries 1" in format_summary(result)
    entries = _delta(lake, "time_entries")["id"].to_pylist()
    if mode == "soft":
        assert _marked(lake, "time_entries") == [gone["time_entries"]] and gone["time_entries"] in entries
        assert _marked(lake, "invoices") == [gone["invoices"]]
        # one payment of an invoice that keeps others: kept and marked (its siblings are not)
        assert gone["invoice_payments"] in _marked(lake, "invoice_payments")
        assert gone["invoice_payments"] in _delta(lake, "invoice_payments")["id"].to_pylist()
        assert _delta(lake, "invoices__line_items").num_rows == before["invoices__line_items"]  # nested rows stay
    else:
        assert gone["time_entries"] not in entries
        assert _delta(lake, "invoices__line_items").num_rows < before["invoices__line_items"]  # went with it
        assert gone["invoices"] not in _delta(lake, "invoice_payments")["invoice_id"].to_pylist()
    assert _delta(lake, "estimate_messages").num_rows < before["estimate_messages"] or mode == "soft"

    # nothing more to do: the next sweep finds nothing, and keeps the marks
    again = _run(sim, tmp_path, "delta", mode, force_sweep=True)
    assert again.exit_code == EXIT_OK and again.deleted == {}, again.deleted
    assert_lake_equals_fresh(lake, tmp_path / "fresh.duckdb")


def test_plain_parquet_is_still_skipped_and_the_summary_says_so(sim: Any, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", (tmp_path / "files").as_uri())
    assert _run(sim, tmp_path, "parquet").exit_code == EXIT_OK
    sim.mutate("delete", key="time_entries", id=sim.records("time_entries")[-1]["id"])
    result = _run(sim, tmp_path, "parquet", force_sweep=True)
    assert result.exit_code == EXIT_OK and result.deleted == {}
    why = result.deletion_warnings["all tables"]
    assert "plain parquet" in why and "--table-format delta" in why
    assert "WARNING: deletions in all tables: plain parquet" in format_summary(result)
