"""What ``dlt_compat.warehouse_rows`` assumes of dlt 1.31, checked on DuckDB (and PostgreSQL when configured):
nested rows carry their root's ``_dlt_id`` in ``_dlt_root_id`` (``root_key=True``), the destination client
reflects tables, and a column dlt does not know survives its loads, NULL again in a row a merge reloads."""

from __future__ import annotations

import os
from pathlib import Path

import dlt
import pytest

from harvest_source.dlt_compat import warehouse_rows
from harvest_source.dlt_compat.warehouse_rows import (
    delete_rows,
    existing_tables,
    mark_rows,
    read_rows,
    sql_destination,
)
from harvest_source.settings import SOFT_DELETED_COLUMN
from tests.dlt_compat.row_cases import NOW, A, B, check_marks_by_dlt_id_in_one_account

DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")
DESTINATIONS = ["duckdb", *(["postgres"] if DSN else [])]


@pytest.fixture(params=DESTINATIONS)
def pipeline(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "duckdb":
        dest, dataset = dlt.destinations.duckdb(str(tmp_path / "rows.duckdb")), "harvest_data"
    else:
        dest, dataset = dlt.destinations.postgres(DSN), f"test_rows_{os.getpid()}_{tmp_path.name[-10:]}".lower()
    p = dlt.pipeline("rows_test", destination=dest, dataset_name=dataset, pipelines_dir=str(tmp_path / "p"))
    yield p
    if request.param == "postgres":
        with p.sql_client() as client:
            client.drop_dataset()


@dlt.source(root_key=True)
def invoices(rows: list[dict]):
    yield dlt.resource(rows, name="invoices", primary_key=("account_id", "id"),
                       write_disposition={"disposition": "merge", "strategy": "delete-insert"})


def _invoice(account: int, i: int, note: str = "") -> dict:
    return {"account_id": account, "id": i, "note": note, "line_items": [{"n": 1}, {"n": 2}]}


def _line_items(pipeline: dlt.Pipeline) -> int:
    with pipeline.sql_client() as sql:
        return sql.execute_sql(f"SELECT count(*) FROM {sql.make_qualified_table_name('invoices__line_items')}")[0][0]


def test_a_root_row_goes_with_its_nested_rows_in_its_account_only(pipeline: dlt.Pipeline) -> None:
    pipeline.run(invoices([_invoice(a, i) for a in (A, B) for i in (1, 2)]))
    assert set(existing_tables(pipeline, ["invoices", "invoices__line_items", "absent"])) == {
        "invoices", "invoices__line_items"}
    assert delete_rows(pipeline, "invoices", A, "id", [2, 99]) == 1
    assert sorted(read_rows(pipeline, "invoices", A, ("id",))) == [(1,)]
    assert len(read_rows(pipeline, "invoices", B, ("id",))) == 2
    assert _line_items(pipeline) == 6  # invoice A/2's two line items went with it


def test_a_mark_survives_loads_and_a_reloaded_row_is_unmarked(pipeline: dlt.Pipeline) -> None:
    pipeline.run(invoices([_invoice(a, i) for a in (A, B) for i in (1, 2)]))
    assert mark_rows(pipeline, "invoices", A, "id", [1, 2], NOW) == 2
    assert mark_rows(pipeline, "invoices", A, "id", [1, 2], NOW) == 0  # marked already
    pipeline.run(invoices([_invoice(A, 2, "back"), _invoice(B, 3)]))  # A/2 comes back; B/3 is new
    with pipeline.sql_client() as sql:
        rows = sql.execute_sql(f"SELECT account_id, id, {SOFT_DELETED_COLUMN} IS NOT NULL "
                               f"FROM {sql.make_qualified_table_name('invoices')}")
    assert sorted(rows) == [(A, 1, True), (A, 2, False), (B, 1, False), (B, 2, False), (B, 3, False)]
    assert SOFT_DELETED_COLUMN not in pipeline.default_schema.tables["invoices"]["columns"]
    assert _line_items(pipeline) == 10  # marking touches no nested row


def test_only_sql_databases_count_as_sql_destinations(tmp_path: Path) -> None:
    """The filesystem destination has a ``sql_client`` as well (DuckDB views over its files): not one."""
    duck = dlt.pipeline("rows_duck", destination=dlt.destinations.duckdb(str(tmp_path / "d.duckdb")),
                        dataset_name="harvest_data", pipelines_dir=str(tmp_path / "p"))
    assert sql_destination(duck)
    files = dlt.pipeline("rows_files", destination=dlt.destinations.filesystem(str(tmp_path / "files")),
                         dataset_name="harvest_data", pipelines_dir=str(tmp_path / "p"))
    assert not sql_destination(files)


def test_rows_are_marked_by_their_dlt_id_in_their_account_only(pipeline: dlt.Pipeline) -> None:
    rows = [_invoice(a, i) for a in (A, B) for i in (1, 2)]
    check_marks_by_dlt_id_in_one_account(pipeline, warehouse_rows, source=invoices(rows))
