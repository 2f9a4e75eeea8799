"""What ``dlt_compat.merge_keys`` assumes of dlt 1.31 (DuckDB): a merge key left out of a later load stays in
the stored schema and keeps replacing rows; ``merge_key: False`` column hints clear it; declaring it again puts
it back. If dlt changes the first, the helper is no longer needed; if it changes the others, it is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest

from harvest_source.dlt_compat.merge_keys import without_merge_key

KEY = ["account_id", "invoice_id"]
COLUMNS = {"account_id": {"data_type": "bigint", "nullable": False},
           "invoice_id": {"data_type": "bigint", "nullable": False}}
PAID = [{"account_id": 1, "id": 1, "invoice_id": 10}, {"account_id": 1, "id": 2, "invoice_id": 10}]


def _resource(**hints: Any) -> Any:
    def payments(rows: list[dict[str, Any]]) -> Any:
        yield rows

    return dlt.resource(payments, name="payments", primary_key=["account_id", "id"],
                        write_disposition={"disposition": "merge", "strategy": "delete-insert"}, **hints)


@pytest.fixture
def pipeline(tmp_path: Path) -> Any:
    p = dlt.pipeline("merge_keys_test", destination=dlt.destinations.duckdb(str(tmp_path / "mk.duckdb")),
                     dataset_name="harvest_data", pipelines_dir=str(tmp_path / "p"))
    p.run(_resource(columns=COLUMNS, merge_key=KEY)(PAID))  # a table loaded with a merge key (hard deletes)
    return p


def _merge_key(p: Any) -> list[str]:
    return [n for n, c in p.default_schema.tables["payments"]["columns"].items() if c.get("merge_key")]


def _ids(p: Any) -> list[int]:
    with p.sql_client() as sql:
        return sorted(r[0] for r in sql.execute_sql("SELECT id FROM payments"))


@pytest.mark.parametrize("left_out", [{}, {"merge_key": []}])
def test_a_merge_key_left_out_stays_and_keeps_replacing(pipeline: Any, left_out: dict[str, Any]) -> None:
    pipeline.run(_resource(columns=COLUMNS, **left_out)(PAID[:1]))
    assert _merge_key(pipeline) == KEY
    assert _ids(pipeline) == [1]  # payment 2 went with the invoice's re-read


def test_merge_key_false_columns_clear_it_and_declaring_it_again_restores_it(pipeline: Any) -> None:
    pipeline.run(_resource(columns=without_merge_key(COLUMNS, KEY))(PAID[:1]))
    assert _merge_key(pipeline) == []
    assert _ids(pipeline) == [1, 2]  # merged on the primary key only: payment 2 stays
    pipeline.run(_resource(columns=without_merge_key(COLUMNS, KEY))([{**PAID[1], "amount": 5}]))
    assert _ids(pipeline) == [1, 2]  # and a reloaded row replaces its own key, no duplicate
    pipeline.run(_resource(columns=COLUMNS, merge_key=KEY)([{"account_id": 1, "id": 3, "invoice_id": 10}]))
    assert _merge_key(pipeline) == KEY
    assert _ids(pipeline) == [3]  # back to replacing per invoice


def test_without_merge_key_keeps_the_other_hints() -> None:
    columns = {"account_id": {"data_type": "bigint", "nullable": False}}
    hints = without_merge_key(columns, KEY)
    assert hints == {"account_id": {"data_type": "bigint", "nullable": False, "merge_key": False},
                     "invoice_id": {"merge_key": False}}
    assert columns == {"account_id": {"data_type": "bigint", "nullable": False}}  # not changed in place
