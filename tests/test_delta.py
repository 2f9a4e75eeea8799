"""Delta tables on the filesystem destination (``--table-format delta``): merges and deletes on a lake.

Several simulated accounts load over real HTTP into a local folder as Delta tables and into DuckDB; after
the full load and after changes (updates, child rows deleted, lists shrunk, a user deleted) loaded
incrementally, every Delta table read back with ``deltalake`` holds the DuckDB table's rows. A small dlt
resource checks what the connector's tables rely on from the merge itself: the ``hard_delete`` hint,
merge keys, nested rows and a record repeated within one load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest

from harvest_source.destination import make_destination, make_pipeline
from harvest_source.drift import FieldWatch, schema_columns
from harvest_source.errors import HarvestConfigError
from harvest_source.run_types import EXIT_OK, RunSettings, account_pipeline_name
from harvest_source.runner import run_load
from harvest_source.simulator import run_simulator
from harvest_source.table_format import check_table_format
from tests.test_warehouses import FAST, assert_same_rows, business_columns, select

deltalake = pytest.importorskip("deltalake", reason="the delta extra is not installed")

DATASET = "harvest_data"


def read_delta(folder: Path, table: str) -> Any:
    """A Delta table's current rows, as an Arrow table (the deltalake package: no DuckDB extension needed)."""
    return deltalake.DeltaTable(str(folder / DATASET / table)).to_pyarrow_table()


class Lake:
    """Several accounts loaded into one DuckDB file and into one folder of Delta tables."""

    def __init__(self, sim: Any, folder: Path) -> None:
        self.sim, self.folder = sim, folder
        self.lake = folder / "lake"
        self.duck_file = str(folder / "duck.duckdb")
        self.accounts = ",".join(str(a) for a in sim.account_ids)

    def settings(self, delta: bool) -> RunSettings:
        # deletes off on both sides: this compares dlt's merges (the deletion pass on Delta tables is
        # tests/test_delta_deletes.py's)
        common = dict(dataset=DATASET, source_options={**FAST, "id_url": self.sim.id_url, "deletes": "off"})
        if delta:
            return RunSettings(destination="filesystem", table_format="delta", pipeline_name="lake",
                               pipelines_dir=str(self.folder / "lake_pipelines"), **common)
        return RunSettings(duckdb_file=self.duck_file, pipelines_dir=str(self.folder / "duck_pipelines"), **common)

    def load(self) -> None:
        for delta in (False, True):
            result = run_load(self.settings(delta), self.sim.admin_token, self.accounts, self.sim.base_url)
            assert result.exit_code == EXIT_OK, (delta, result.error, [a.error for a in result.accounts])

    def duck_tables(self) -> list[str]:
        with duckdb.connect(self.duck_file, read_only=True) as con:
            rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                               "AND table_type = 'BASE TABLE' AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'",
                               [DATASET]).fetchall()
        return sorted(r[0] for r in rows)

    def assert_equal(self) -> dict[str, int]:
        """Every DuckDB table's rows, on its data columns, equal the Delta table's; rows per table."""
        tables = self.duck_tables()
        folders = sorted(p.name for p in (self.lake / DATASET).iterdir()
                         if p.is_dir() and not p.name.startswith("_") and p.name != "init")
        assert folders == tables
        counts = {}
        with duckdb.connect(self.duck_file, read_only=True) as duck, duckdb.connect() as con:
            for table in tables:
                columns = business_columns({r[0]: r[1] for r in duck.execute(
                    f"DESCRIBE {DATASET}.{table}").fetchall()})
                delta_rows = read_delta(self.lake, table)  # noqa: F841 (read by name below)
                assert business_columns(dict.fromkeys(delta_rows.column_names)) == columns, table
                expected = duck.execute(select(columns, f"{DATASET}.{table}")).fetchall()
                assert_same_rows(table, expected, con.execute(select(columns, "delta_rows")).fetchall())
                counts[table] = len(expected)
        return counts


@pytest.fixture
def sim2():
    with run_simulator(scale="tiny", seed=31, accounts=2) as sim:
        yield sim


def _change(sim: Any, account_id: int) -> None:
    """Updates, creations, child rows deleted, a list shrunk and one emptied, a user deleted."""
    acct = sim.account(account_id)
    entries = acct.records("time_entries")
    acct.mutate("update", key="time_entries", id=entries[0]["id"], fields={"notes": f"changed in {account_id}"})
    acct.mutate("create", key="time_entries")
    acct.mutate("update", key="clients", id=acct.records("clients")[0]["id"], fields={"name": "Renamed Ltd"})
    invoices = [i for i in acct.records("invoices") if len(i["line_items"]) >= 2]
    acct.mutate("update", key="invoices", id=invoices[0]["id"], fields={"line_items": invoices[0]["line_items"][:1]})
    acct.mutate("update", key="invoices", id=invoices[1]["id"], fields={"line_items": []})
    paid = [i for i in acct.records("invoices") if acct.records("invoice_payments", parent_id=i["id"])]
    payment = acct.records("invoice_payments", parent_id=paid[0]["id"])[0]
    acct.mutate("delete", key="invoice_payments", id=payment["id"])  # the invoice is bumped, re-read
    opened = next(i for i in acct.records("invoices") if i["state"] == "open")
    acct.mutate("add_payment", invoice_id=opened["id"], amount=3.25)
    acct.mutate("add_invoice_message", invoice_id=opened["id"], reminder=False)
    users = acct.records("users")
    acct.mutate("change_rate", user_id=users[0]["id"], which="billable", amount=123.5)
    acct.mutate("delete", key="users", id=users[-1]["id"])  # roles lose the user: a table read whole
    acct.mutate("delete", key="time_entries", id=entries[-1]["id"])  # not seen without a sweep, on either side


def test_delta_tables_equal_duckdb_after_full_and_incremental_loads_of_two_accounts(sim2, tmp_path, monkeypatch):
    lake = Lake(sim2, tmp_path)
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", lake.lake.as_uri())
    lake.load()
    full = lake.assert_equal()
    assert full["time_entries"] > 0 and full["invoices__line_items"] > 0 and full["invoice_payments"] > 0
    _assert_drift_sample_reads_delta_without_duckdb(lake, sim2.account_ids[0], monkeypatch)
    for account_id in sim2.account_ids:
        _change(sim2, account_id)
    lake.load()
    after = lake.assert_equal()
    assert after["invoices__line_items"] < full["invoices__line_items"]  # shrunk lists left the nested table
    assert after["time_entries"] == full["time_entries"] + 2  # one created per account (deletes need a sweep)
    assert set(read_delta(lake.lake, "company").column("account_id").to_pylist()) == set(sim2.account_ids)


def _assert_drift_sample_reads_delta_without_duckdb(lake: Lake, account_id: int, monkeypatch: Any) -> None:
    """The drift watch samples earlier rows with deltalake: dlt's SQL client reads Delta through DuckDB's
    ``delta`` extension, downloaded on first use (offline, every failed download cost seconds per table)."""
    pipeline = make_pipeline(lake.settings(True), name=account_pipeline_name("lake", account_id))  # as the runner

    def no_sql_client(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the drift sample went through DuckDB")

    watch = FieldWatch()
    with monkeypatch.context() as patched:
        patched.setattr(dlt.Pipeline, "sql_client", no_sql_client)
        watch.sample(pipeline, schema_columns(pipeline))
    rows, filled = watch.before["time_entries"]
    assert rows > 0 and filled["id"] == rows and filled["hours"] == rows


# -- the merge itself, on a small resource ------------------------------------------------------------------
def _pipeline(tmp_path: Path, name: str = "delta_merge") -> dlt.Pipeline:
    destination = make_destination(RunSettings(destination="filesystem", table_format="delta"))
    return dlt.pipeline(pipeline_name=name, destination=destination, dataset_name=DATASET,
                        pipelines_dir=str(tmp_path / "pipelines"))


@dlt.resource(name="items", table_format="delta", primary_key=["account_id", "id"], merge_key=["account_id", "parent"],
              write_disposition={"disposition": "merge", "strategy": "delete-insert"},
              columns={"updated_at": {"dedup_sort": "desc"}, "deleted": {"hard_delete": True, "data_type": "bool"}})
def items(rows: list[dict[str, Any]]) -> Any:
    yield rows


def _rows(folder: Path, table: str, *columns: str) -> list[tuple]:
    data = read_delta(folder, table)
    return sorted(zip(*(data.column(c).to_pylist() for c in columns), strict=True))


def test_delta_merge_replaces_by_key_and_merge_key_deletes_marked_rows_and_their_nested_rows(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", lake.as_uri())
    pipeline = _pipeline(tmp_path)
    first = [
        {"account_id": 1, "id": 1, "parent": 10, "updated_at": 1, "tags": ["a", "b"]},
        {"account_id": 1, "id": 2, "parent": 10, "updated_at": 1, "tags": ["c"]},
        {"account_id": 1, "id": 3, "parent": 20, "updated_at": 1, "tags": ["d"]},
        {"account_id": 2, "id": 1, "parent": 10, "updated_at": 1, "tags": ["e"]},  # another account, same keys
    ]
    pipeline.run(items(first), loader_file_format="parquet")
    assert _rows(lake, "items", "account_id", "id") == [(1, 1), (1, 2), (1, 3), (2, 1)]
    second = [
        # parent 10 of account 1 read again: only id 1 is left, its list shrunk; id 2 goes (merge key)
        {"account_id": 1, "id": 1, "parent": 10, "updated_at": 2, "tags": ["a"]},
        {"account_id": 1, "id": 1, "parent": 10, "updated_at": 1, "tags": ["old"]},  # repeated, older: dropped
        {"account_id": 1, "id": 3, "parent": 30, "updated_at": 2, "deleted": True},  # the hard_delete hint
    ]
    info = pipeline.run(items(second), loader_file_format="parquet")
    assert not info.has_failed_jobs
    assert _rows(lake, "items", "account_id", "id", "updated_at") == [(1, 1, 2), (2, 1, 1)]
    assert _rows(lake, "items__tags", "value") == [("a",), ("e",)]  # no orphan, no stale element


def test_delta_needs_the_filesystem_destination_and_plain_parquet_stays_the_default(tmp_path):
    assert check_table_format(None) == "parquet"
    with pytest.raises(HarvestConfigError, match="filesystem"):
        make_destination(RunSettings(destination="duckdb", duckdb_file=str(tmp_path / "x.duckdb"),
                                     table_format="delta"))
    with pytest.raises(HarvestConfigError, match="unknown table format"):
        check_table_format("iceberg")
    plain = make_pipeline(RunSettings(destination="filesystem", pipelines_dir=str(tmp_path / "p")))
    caps = plain.destination.capabilities()
    assert "delete-insert" not in caps.supported_merge_strategies  # plain files: dlt appends, as documented
