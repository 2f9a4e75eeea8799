"""One account's rows in the Delta tables of a ``filesystem`` destination, read, removed or marked outside a
dlt load (the deletion pass), with ``deltalake``: the same operations as ``warehouse_rows`` offers a SQL
destination.

This leans on dlt behaviour that ``tests/dlt_compat/test_delta_rows.py`` pins down:

* dlt writes a Delta table at ``<bucket_url>/<dataset>/<table>`` and opens it with the filesystem client's
  ``load_open_table("delta", table)`` (``DestinationUndefinedEntity`` when it is not there yet), with the
  storage options dlt builds from the destination's credentials: a bucket works as a local folder does;
* nested tables (``invoices__line_items``) carry ``_dlt_root_id`` = their root row's ``_dlt_id`` (the source
  sets ``root_key=True``), so a root row's nested rows are found without dlt;
* a column dlt does not know (``_harvest_deleted_at``, added here with ``alter.add_columns``) survives dlt's
  later Delta writes (they append with ``schema_mode="merge"``), and the ``delete-insert`` merge of
  ``delta_merge`` writes NULL there in a row it reloads: a record that comes back is unmarked.

Each change is its own Delta commit (Delta has no multi-table transaction): nested rows go first, then
their root rows, so a pass killed half way and run again still finds the roots and finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.utils import get_nested_tables

from ..settings import SOFT_DELETED_COLUMN
from . import ROW_ID

DELTA = "delta"
FILESYSTEM_TYPE = "dlt.destinations.filesystem"
ROOT_ID = "_dlt_root_id"


def delta_destination(pipeline: dlt.Pipeline) -> bool:
    """Whether this pipeline writes Delta tables on the filesystem destination (its schema says so)."""
    try:
        if pipeline.destination is None or pipeline.destination.destination_type != FILESYSTEM_TYPE:
            return False
        if not pipeline.default_schema_name:
            return False
        return any(t.get("table_format") == DELTA for t in pipeline.default_schema.tables.values())
    except Exception:
        return False


def _open(client: Any, table: str) -> Any:
    """The Delta table ``table`` (dlt's location and storage options), or None when it does not exist."""
    from dlt.common.destination.exceptions import DestinationUndefinedEntity, OpenTableFormatNotSupported

    try:
        return client.load_open_table(DELTA, table)
    except (DestinationUndefinedEntity, OpenTableFormatNotSupported):
        return None


def _columns(delta: Any) -> set[str]:
    return {field.name for field in delta.schema().fields}


def existing_tables(pipeline: dlt.Pipeline, tables: Iterable[str]) -> dict[str, set[str]]:
    """The Delta tables of ``tables`` the destination holds, with their column names."""
    found: dict[str, set[str]] = {}
    with pipeline.destination_client() as client:
        for name in tables:
            delta = _open(client, name)
            if delta is not None:
                found[name] = _columns(delta)
    return found


def _account(account_id: int) -> Any:
    return pc.field("account_id") == int(account_id)


def _matching(delta: Any, account_id: int, column: str, ids: list[int]) -> Any:
    """The filter: the account's rows whose ``column`` is one of ``ids``."""
    field = delta.to_pyarrow_dataset().schema.field(column)
    return _account(account_id) & pc.field(column).isin(pa.array(ids, pa.int64()).cast(field.type))


def read_rows(pipeline: dlt.Pipeline, table: str, account_id: int, columns: tuple[str, ...]) -> list[tuple]:
    """``columns`` of the account's rows in ``table`` (which must exist)."""
    with pipeline.destination_client() as client:
        delta = _open(client, table)
        if delta is None:
            return []
        data = delta.to_pyarrow_dataset().to_table(columns=list(columns), filter=_account(account_id))
    return list(zip(*(data.column(c).to_pylist() for c in columns), strict=True))


def delete_rows(pipeline: dlt.Pipeline, table: str, account_id: int, column: str, values: Iterable[int]) -> int:
    """Remove the account's rows of ``table`` whose ``column`` is one of ``values``, and their nested rows
    (nested tables first); the number of root rows removed."""
    ids = sorted({int(v) for v in values})
    if not ids:
        return 0
    nested = [t["name"] for t in get_nested_tables(pipeline.default_schema.tables, table)[1:]] \
        if table in pipeline.default_schema.tables else []
    with pipeline.destination_client() as client:
        root = _open(client, table)
        if root is None:
            return 0
        row_ids = root.to_pyarrow_dataset().to_table(
            columns=[ROW_ID], filter=_matching(root, account_id, column, ids))[ROW_ID].combine_chunks()
        if len(row_ids) == 0:
            return 0
        for name in nested:
            _delete_where(_open(client, name), ROOT_ID, row_ids)
        _delete_where(root, ROW_ID, row_ids)
    return len(row_ids)


def _delete_where(delta: Any, column: str, row_ids: pa.Array) -> None:
    """Delete the rows of ``delta`` whose ``column`` is one of ``row_ids`` (one commit; none: no commit)."""
    if delta is None or column not in _columns(delta):
        return
    source = pa.table({column: pc.unique(row_ids)})
    (delta.merge(source=source, predicate=f"target.{column} = source.{column}", source_alias="source",
                 target_alias="target", streamed_exec=False)
     .when_matched_delete().execute())


def mark_rows(pipeline: dlt.Pipeline, table: str, account_id: int, column: str, values: Iterable[int],
              now: str) -> int:
    """Set ``_harvest_deleted_at`` = ``now`` on the account's unmarked rows of ``table`` whose ``column`` is
    one of ``values`` (the column is added first when missing); the number of rows newly marked."""
    ids = sorted({int(v) for v in values})
    if not ids:
        return 0
    return _mark(pipeline, table, lambda delta: _matching(delta, account_id, column, ids), now)


def mark_row_ids(pipeline: dlt.Pipeline, table: str, account_id: int, row_ids: Iterable[str], now: str) -> int:
    """``mark_rows`` for the rows whose ``_dlt_id`` is one of ``row_ids`` (a child whose own id is not unique
    in its table, under one parent of many); the number of rows newly marked."""
    ids = sorted({str(r) for r in row_ids})
    if not ids:
        return 0
    # the account's rows, then the ids in memory: a dataset filter on ``_dlt_id`` fails once a merge has
    # rewritten some files (dlt's as ``string``, deltalake's as ``string_view``: no kernel compares them)
    return _mark(pipeline, table, lambda delta: _account(account_id), now, ids)


def _mark(pipeline: dlt.Pipeline, table: str, matching: Callable[[Any], Any], now: str,
          row_ids: list[str] | None = None) -> int:
    """Mark the unmarked rows ``matching(delta)`` selects, of ``row_ids`` only when given (the column added first
    when missing), in one commit."""
    add_soft_column(pipeline, table)
    with pipeline.destination_client() as client:
        delta = _open(client, table)
        if delta is None:
            return 0
        found = delta.to_pyarrow_dataset().to_table(columns=[ROW_ID, SOFT_DELETED_COLUMN], filter=matching(delta))
        if row_ids is not None:
            found = found.filter(pc.is_in(found[ROW_ID].cast(pa.string()), value_set=pa.array(row_ids, pa.string())))
        # unmarked rows, filtered in memory: a pyarrow dataset filter on a column its older files lack (added
        # by ``add_soft_column``) matches no row there, where it reads as NULL
        row_ids = found.filter(pc.is_null(found[SOFT_DELETED_COLUMN]))[ROW_ID].combine_chunks()
        if len(row_ids) == 0:
            return 0
        moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
        source = pa.table({ROW_ID: row_ids,
                           "at": pa.array([moment] * len(row_ids), pa.timestamp("us", tz="UTC"))})
        (delta.merge(source=source, predicate=f"target.{ROW_ID} = source.{ROW_ID}", source_alias="source",
                     target_alias="target", streamed_exec=False)
         .when_matched_update({SOFT_DELETED_COLUMN: "source.at"}).execute())
    return len(row_ids)


def add_soft_column(pipeline: dlt.Pipeline, table: str) -> None:
    """Add ``_harvest_deleted_at`` (a nullable timestamp) to the Delta table when it lacks it (dlt's schema is
    not told, as on SQL)."""
    from deltalake import Field
    from deltalake.schema import PrimitiveType

    with pipeline.destination_client() as client:
        delta = _open(client, table)
        if delta is None or SOFT_DELETED_COLUMN in _columns(delta):
            return
        delta.alter.add_columns(Field(SOFT_DELETED_COLUMN, PrimitiveType("timestamp"), nullable=True))


__all__: list[Any] = ["add_soft_column", "delete_rows", "delta_destination", "existing_tables", "mark_row_ids",
                      "mark_rows", "read_rows"]
