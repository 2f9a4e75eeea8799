"""One account's rows in a SQL destination, read, removed or marked outside a dlt load (the deletion pass).

This leans on dlt behaviour that ``tests/dlt_compat/test_warehouse_rows.py`` pins down:

* the destination client's ``sql_client`` and ``get_storage_tables`` (undocumented for users, as in
  ``empty_tables``), to find which tables exist and to run plain SQL in one transaction;
* nested tables (``invoices__line_items``) carry ``_dlt_root_id`` = their root row's ``_dlt_id`` (the
  source sets ``root_key=True``), so a root row's nested rows are found without dlt;
* a column dlt does not know (``_harvest_deleted_at``, added here with ``ALTER TABLE``) is left alone by
  dlt's later loads, and a ``delete-insert`` merge that reloads a row writes NULL there: a record that
  comes back is unmarked, a marked row no load touches stays marked.

Destinations that are not SQL databases (files) are told apart by ``sql_destination``: the deletion pass
then skips with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import dlt
from dlt.common.schema.utils import get_nested_tables
from dlt.destinations.job_client_impl import SqlJobClientBase

from ..settings import DELETE_BATCH_IDS, SOFT_DELETED_COLUMN
from . import ROW_ID


def sql_destination(pipeline: dlt.Pipeline) -> bool:
    """Whether rows can be read and changed with SQL in this pipeline's destination: a SQL job client's.
    (The filesystem destination has a ``sql_client`` too, DuckDB views over its files: read-only.)"""
    try:
        with pipeline.destination_client() as client:
            return isinstance(client, SqlJobClientBase)
    except Exception:
        return False


def existing_tables(pipeline: dlt.Pipeline, tables: Iterable[str]) -> dict[str, set[str]]:
    """The tables of ``tables`` the destination holds, with their column names."""
    names = list(tables)
    with pipeline.destination_client() as client:
        if not client.is_storage_initialized():  # type: ignore[attr-defined]
            return {}
        return {name: set(columns) for name, columns in client.get_storage_tables(names)  # type: ignore[attr-defined]
                if columns}


def read_rows(pipeline: dlt.Pipeline, table: str, account_id: int, columns: tuple[str, ...]) -> list[tuple]:
    """``columns`` of the account's rows in ``table`` (which must exist)."""
    with pipeline.sql_client() as sql:
        select = ", ".join(sql.escape_column_name(c) for c in columns)
        return list(sql.execute_sql(
            f"SELECT {select} FROM {sql.make_qualified_table_name(table)} WHERE account_id = {int(account_id)}"
        ) or [])


def delete_rows(pipeline: dlt.Pipeline, table: str, account_id: int, column: str, values: Iterable[int]) -> int:
    """Remove the account's rows of ``table`` whose ``column`` is one of ``values``, and their nested rows,
    in one transaction; the number of root rows removed."""
    ids = sorted({int(v) for v in values})
    if not ids:
        return 0
    nested = [t["name"] for t in get_nested_tables(pipeline.default_schema.tables, table)[1:]] \
        if table in pipeline.default_schema.tables else []
    present = existing_tables(pipeline, nested) if nested else {}
    removed = 0
    with pipeline.sql_client() as sql:
        root = sql.make_qualified_table_name(table)
        col = sql.escape_column_name(column)
        with sql.begin_transaction():
            for part in _slices(ids):
                where = f"account_id = {int(account_id)} AND {col} IN ({', '.join(map(str, part))})"
                removed += int(sql.execute_sql(f"SELECT count(*) FROM {root} WHERE {where}")[0][0])
                for name in nested:
                    if name in present:
                        sql.execute_sql(
                            f"DELETE FROM {sql.make_qualified_table_name(name)} WHERE _dlt_root_id IN "
                            f"(SELECT _dlt_id FROM {root} WHERE {where})")
                sql.execute_sql(f"DELETE FROM {root} WHERE {where}")
    return removed


def mark_rows(pipeline: dlt.Pipeline, table: str, account_id: int, column: str, values: Iterable[int],
              now: str) -> int:
    """Set ``_harvest_deleted_at`` = ``now`` on the account's unmarked rows of ``table`` whose ``column`` is
    one of ``values`` (the column is added first when missing); the number of rows newly marked."""
    ids = sorted({int(v) for v in values})
    return _mark(pipeline, table, account_id, column, [list(map(str, part)) for part in _slices(ids)], now)


def mark_row_ids(pipeline: dlt.Pipeline, table: str, account_id: int, row_ids: Iterable[str], now: str) -> int:
    """``mark_rows`` for the rows whose ``_dlt_id`` is one of ``row_ids`` (a child whose own id is not unique
    in its table, under one parent of many); the number of rows newly marked."""
    ids = sorted({str(r) for r in row_ids})
    literals = ["'" + i.replace("'", "''") + "'" for i in ids]
    return _mark(pipeline, table, account_id, ROW_ID, list(_slices(literals)), now)


def _mark(pipeline: dlt.Pipeline, table: str, account_id: int, column: str, parts: list[list[str]],
          now: str) -> int:
    """Mark the account's unmarked rows whose ``column`` is one of the SQL literals in ``parts``, in one
    transaction (the column added first when missing)."""
    if not parts:
        return 0
    add_soft_column(pipeline, table)
    marked = 0
    with pipeline.sql_client() as sql:
        root = sql.make_qualified_table_name(table)
        col, soft = sql.escape_column_name(column), sql.escape_column_name(SOFT_DELETED_COLUMN)
        moment = now.replace("T", " ").replace("Z", "+00")
        with sql.begin_transaction():
            for part in parts:
                where = f"account_id = {int(account_id)} AND {col} IN ({', '.join(part)}) AND {soft} IS NULL"
                marked += int(sql.execute_sql(f"SELECT count(*) FROM {root} WHERE {where}")[0][0])
                sql.execute_sql(f"UPDATE {root} SET {soft} = CAST('{moment}' AS TIMESTAMP WITH TIME ZONE) "
                                f"WHERE {where}")
    return marked


def add_soft_column(pipeline: dlt.Pipeline, table: str) -> None:
    """Add ``_harvest_deleted_at`` to ``table`` when it lacks it (dlt's schema is not told: see above)."""
    if SOFT_DELETED_COLUMN in existing_tables(pipeline, [table]).get(table, set()):
        return
    with pipeline.sql_client() as sql:
        sql.execute_sql(f"ALTER TABLE {sql.make_qualified_table_name(table)} ADD COLUMN "
                        f"{sql.escape_column_name(SOFT_DELETED_COLUMN)} TIMESTAMP WITH TIME ZONE")


def _slices(ids: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(ids), DELETE_BATCH_IDS):
        yield ids[start:start + DELETE_BATCH_IDS]


__all__: list[Any] = ["add_soft_column", "delete_rows", "existing_tables", "mark_row_ids", "mark_rows",
                      "read_rows", "sql_destination"]
