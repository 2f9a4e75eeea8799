"""Deletion tombstones in dlt's delete-insert merge, on DuckDB (and PostgreSQL when configured): a tombstone
removes its row; a parent's tombstone removes all its children (a parent whose last child went, or a
deleted parent); soft marks keep the row; another account's rows with the same ids are never touched."""

from __future__ import annotations

import os
from pathlib import Path

import dlt
import pytest

from harvest_source.deletions import SOFT_HINTS, TOMBSTONE_HINTS, mark, tombstone

NOW = "2026-12-06T12:00:00Z"
DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")
DESTINATIONS = ["duckdb", *(["postgres"] if DSN else [])]
A, B = 111, 222


def _pipeline(tmp_path: Path, destination: str) -> dlt.Pipeline:
    if destination == "duckdb":
        dest = dlt.destinations.duckdb(str(tmp_path / "deletes.duckdb"))
        dataset = "harvest_data"
    else:
        dest = dlt.destinations.postgres(DSN)
        dataset = f"test_deletes_{os.getpid()}_{tmp_path.name[-12:]}".lower().replace("-", "_")
    return dlt.pipeline("deletes_test", destination=dest, dataset_name=dataset,
                        pipelines_dir=str(tmp_path / "pipelines"))


def _time_entries(rows: list[dict], extra: dict | None = None):
    columns = {"updated_at": {"data_type": "timestamp", "dedup_sort": "desc", "nullable": True}, **(extra or {})}
    return dlt.resource(rows, name="time_entries", write_disposition={"disposition": "merge",
                        "strategy": "delete-insert"}, primary_key=("account_id", "id"), columns=columns)


def _payments(rows: list[dict], extra: dict | None = None):
    columns = {"updated_at": {"data_type": "timestamp", "dedup_sort": "desc", "nullable": True}, **(extra or {})}
    return dlt.resource(rows, name="invoice_payments", write_disposition={"disposition": "merge",
                        "strategy": "delete-insert"}, primary_key=("account_id", "id"),
                        merge_key=["account_id", "invoice_id"], columns=columns)


def _rows(pipeline: dlt.Pipeline, table: str, where: str = "") -> list[tuple]:
    with pipeline.sql_client() as client:
        name = client.make_qualified_table_name(table)
        return sorted(client.execute_sql(f"SELECT account_id, id FROM {name} {where}"))


def _entry(account: int, i: int) -> dict:
    return {"account_id": account, "id": i, "hours": 1.5, "updated_at": "2026-12-01T00:00:00Z"}


def _payment(account: int, invoice: int, i: int) -> dict:
    return {"account_id": account, "invoice_id": invoice, "id": i, "amount": 10, "updated_at": "2026-12-01T00:00:00Z"}


@pytest.fixture(params=DESTINATIONS)
def pipeline(request: pytest.FixtureRequest, tmp_path: Path):
    p = _pipeline(tmp_path, request.param)
    yield p
    if request.param == "postgres":
        with p.sql_client() as client:
            client.drop_dataset()


def test_a_tombstone_removes_its_row_in_its_account_only(pipeline: dlt.Pipeline) -> None:
    pipeline.run(_time_entries([_entry(a, i) for a in (A, B) for i in (1, 2, 3)]))
    # account A's entry 2 is gone from Harvest; account B's entry 2 (same id) is not
    pipeline.run(_time_entries([tombstone(A, {"id": 2}, NOW)], TOMBSTONE_HINTS))
    assert _rows(pipeline, "time_entries") == [(A, 1), (A, 3), (B, 1), (B, 2), (B, 3)]


def test_a_parent_tombstone_removes_all_its_children(pipeline: dlt.Pipeline) -> None:
    """Invoice 10 lost its last payment and invoice 11 was deleted: a tombstone keyed by the parent (its
    id the parent's negated, so tombstones never share a key) removes every child of that parent."""
    rows = [_payment(a, inv, i) for a in (A, B) for inv, i in ((10, 1), (10, 2), (11, 3), (12, 4))]
    pipeline.run(_payments(rows))
    pipeline.run(_payments([tombstone(A, {"invoice_id": 10, "id": -10}, NOW),
                            tombstone(A, {"invoice_id": 11, "id": -11}, NOW)], TOMBSTONE_HINTS))
    assert _rows(pipeline, "invoice_payments") == [(A, 4), (B, 1), (B, 2), (B, 3), (B, 4)]


def test_a_tombstone_wins_over_an_older_copy_in_the_same_load(pipeline: dlt.Pipeline) -> None:
    pipeline.run(_time_entries([_entry(A, 1), _entry(A, 2)]))
    pipeline.run(_time_entries([_entry(A, 2), tombstone(A, {"id": 2}, NOW)], TOMBSTONE_HINTS))
    assert _rows(pipeline, "time_entries") == [(A, 1)]


def test_a_soft_mark_keeps_the_row(pipeline: dlt.Pipeline) -> None:
    pipeline.run(_time_entries([_entry(a, i) for a in (A, B) for i in (1, 2)]))
    pipeline.run(_time_entries([mark(_entry(A, 2), NOW)], SOFT_HINTS))
    assert _rows(pipeline, "time_entries") == [(A, 1), (A, 2), (B, 1), (B, 2)]
    assert _rows(pipeline, "time_entries", "WHERE _harvest_deleted_at IS NOT NULL") == [(A, 2)]
    assert _rows(pipeline, "time_entries", "WHERE _harvest_deleted_at IS NULL") == [(A, 1), (B, 1), (B, 2)]
