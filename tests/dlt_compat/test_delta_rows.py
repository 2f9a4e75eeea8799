"""What ``dlt_compat.delta_rows`` assumes of dlt 1.31 and deltalake, on a local folder: dlt writes a Delta table
at ``<bucket_url>/<dataset>/<table>`` and opens it there with ``load_open_table``; nested rows carry their
root's ``_dlt_id`` in ``_dlt_root_id``; a column dlt does not know survives its Delta loads, NULL again in a
row the ``delete-insert`` merge reloads."""

from __future__ import annotations

from pathlib import Path

import dlt
import pytest

deltalake = pytest.importorskip("deltalake", reason="the delta extra is not installed")

from harvest_source.destination import make_destination  # noqa: E402
from harvest_source.dlt_compat import delta_rows  # noqa: E402
from harvest_source.dlt_compat.delta_rows import (  # noqa: E402
    delete_rows,
    delta_destination,
    existing_tables,
    mark_rows,
    read_rows,
)
from harvest_source.dlt_compat.row_backend import row_backend  # noqa: E402
from harvest_source.run_types import RunSettings  # noqa: E402
from harvest_source.settings import SOFT_DELETED_COLUMN  # noqa: E402
from tests.dlt_compat.row_cases import NOW, A, B, check_marks_by_dlt_id_in_one_account  # noqa: E402

DATASET = "harvest_data"


@dlt.source(root_key=True)
def invoices(rows: list[dict]):
    yield dlt.resource(rows, name="invoices", primary_key=("account_id", "id"), table_format="delta",
                       write_disposition={"disposition": "merge", "strategy": "delete-insert"})


def _invoice(account: int, i: int, note: str = "") -> dict:
    return {"account_id": account, "id": i, "note": note, "line_items": [{"n": 1}, {"n": 2}]}


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "lake"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", folder.as_uri())
    return folder


@pytest.fixture
def pipeline(lake: Path, tmp_path: Path) -> dlt.Pipeline:
    destination = make_destination(RunSettings(destination="filesystem", table_format="delta"))
    return dlt.pipeline("delta_rows_test", destination=destination, dataset_name=DATASET,
                        pipelines_dir=str(tmp_path / "p"))


def _delta(lake: Path, table: str):
    return deltalake.DeltaTable(str(lake / DATASET / table))


def test_dlt_writes_delta_tables_at_bucket_dataset_table(pipeline: dlt.Pipeline, lake: Path) -> None:
    pipeline.run(invoices([_invoice(A, 1)]), loader_file_format="parquet")
    for table in ("invoices", "invoices__line_items"):
        assert (lake / DATASET / table / "_delta_log").is_dir(), table
        assert deltalake.DeltaTable.is_deltatable(str(lake / DATASET / table)), table
    with pipeline.destination_client() as client:
        opened = client.load_open_table("delta", "invoices__line_items")
        assert opened.table_uri.rstrip("/") == (lake / DATASET / "invoices__line_items").as_uri()
        assert client.get_open_table_location("delta", "invoices").rstrip("/") == (lake / DATASET / "invoices").as_uri()
    line_items = _delta(lake, "invoices__line_items").to_pyarrow_table()
    roots = _delta(lake, "invoices").to_pyarrow_table()
    assert set(line_items.column("_dlt_root_id").to_pylist()) == set(roots.column("_dlt_id").to_pylist())


def test_a_root_row_goes_with_its_nested_rows_in_its_account_only(pipeline: dlt.Pipeline, lake: Path) -> None:
    pipeline.run(invoices([_invoice(a, i) for a in (A, B) for i in (1, 2)]), loader_file_format="parquet")
    assert delta_destination(pipeline) and row_backend(pipeline) is not None
    assert row_backend(pipeline).__name__.endswith("delta_rows")
    assert set(existing_tables(pipeline, ["invoices", "invoices__line_items", "absent"])) == {
        "invoices", "invoices__line_items"}
    assert delete_rows(pipeline, "invoices", A, "id", [2, 99]) == 1
    assert sorted(read_rows(pipeline, "invoices", A, ("id",))) == [(1,)]
    assert len(read_rows(pipeline, "invoices", B, ("id",))) == 2
    assert _delta(lake, "invoices__line_items").to_pyarrow_table().num_rows == 6  # A/2's two went with it
    assert delete_rows(pipeline, "invoices", A, "id", [2]) == 0  # gone already: no commit, nothing counted


def test_a_mark_survives_loads_and_a_reloaded_row_is_unmarked(pipeline: dlt.Pipeline, lake: Path) -> None:
    pipeline.run(invoices([_invoice(a, i) for a in (A, B) for i in (1, 2)]), loader_file_format="parquet")
    assert mark_rows(pipeline, "invoices", A, "id", [1, 2], NOW) == 2
    assert mark_rows(pipeline, "invoices", A, "id", [1, 2], NOW) == 0  # marked already
    marked = read_rows(pipeline, "invoices", A, ("id", SOFT_DELETED_COLUMN))
    assert all(at is not None and at.isoformat().startswith("2026-12-06T12:00:00") for _, at in marked)
    info = pipeline.run(invoices([_invoice(A, 2, "back"), _invoice(B, 3)]), loader_file_format="parquet")
    assert not info.has_failed_jobs
    data = _delta(lake, "invoices").to_pyarrow_table()
    rows = zip(data.column("account_id").to_pylist(), data.column("id").to_pylist(),
               data.column(SOFT_DELETED_COLUMN).to_pylist(), strict=True)
    assert sorted((a, i, at is not None) for a, i, at in rows) == [
        (A, 1, True), (A, 2, False), (B, 1, False), (B, 2, False), (B, 3, False)]
    assert SOFT_DELETED_COLUMN not in pipeline.default_schema.tables["invoices"]["columns"]
    assert _delta(lake, "invoices__line_items").to_pyarrow_table().num_rows == 10  # marking touches no nested row


def test_plain_parquet_files_have_no_row_backend(tmp_path: Path) -> None:
    files = dlt.pipeline("rows_files", destination=dlt.destinations.filesystem(str(tmp_path / "files")),
                         dataset_name=DATASET, pipelines_dir=str(tmp_path / "p"))
    files.run([{"id": 1}], table_name="plain", loader_file_format="parquet")
    assert not delta_destination(files) and row_backend(files) is None


def test_rows_are_marked_by_their_dlt_id_in_their_account_only(pipeline: dlt.Pipeline, lake: Path) -> None:
    rows = [_invoice(a, i) for a in (A, B) for i in (1, 2)]
    check_marks_by_dlt_id_in_one_account(pipeline, delta_rows, source=invoices(rows), loader_file_format="parquet")
