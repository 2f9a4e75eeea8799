"""Which tables a pipeline's destination proves absent or empty, through dlt's destination client.

``first_load`` appends only into tables this answers for. It uses the SQL job client's table reflection
(``get_storage_tables``, ``is_storage_initialized``, ``sql_client``), which dlt does not document for
users: ``tests/test_dlt_compat_resources.py`` checks it on DuckDB. Anything it cannot establish is
answered with [] (merge, as always), never a guess.
"""

from __future__ import annotations

import logging

import dlt

log = logging.getLogger("harvest_source")


def empty_tables(pipeline: dlt.Pipeline, tables: list[str], account_id: int | None = None) -> list[str]:
    """The tables the destination proves absent or empty; [] when it cannot be asked (never a guess).

    ``account_id``: empty of that account's rows (other accounts may fill the table: one dataset holds
    many). A table without the ``account_id`` column is not proven empty."""
    if not tables:
        return []
    try:
        with pipeline.destination_client() as client:
            if not hasattr(client, "get_storage_tables") or not hasattr(client, "sql_client"):
                return []  # not a SQL destination (e.g. files): dlt's merge there appends anyway
            if not client.is_storage_initialized():
                return list(tables)
            existing = {name for name, columns in client.get_storage_tables(tables) if columns}
            empty = [t for t in tables if t not in existing]
            sql = client.sql_client
            for name in sorted(existing):
                where = "" if account_id is None else f" WHERE account_id = {int(account_id)}"
                rows = sql.execute_sql(f"SELECT count(*) FROM {sql.make_qualified_table_name(name)}{where}")
                if rows and rows[0][0] == 0:
                    empty.append(name)
            return sorted(empty)
    except Exception:  # the destination could not tell: merge, as always
        log.debug("could not check which tables are empty; merging all", exc_info=True)
        return []


def tables_lacking_column(pipeline: dlt.Pipeline, tables: list[str], column: str) -> list[str]:
    """The tables that exist at the destination without ``column`` ([] when it cannot be asked)."""
    try:
        with pipeline.destination_client() as client:
            if not hasattr(client, "get_storage_tables") or not client.is_storage_initialized():
                return []
            return sorted(name for name, columns in client.get_storage_tables(tables)
                          if columns and column not in columns)
    except Exception:  # the destination could not tell: the load itself will say what is wrong
        log.debug("could not read the destination's tables", exc_info=True)
        return []


def has_stored_state(pipeline: dlt.Pipeline) -> bool | None:
    """Whether the destination keeps a state of this pipeline (None: it cannot tell)."""
    try:
        with pipeline.destination_client() as client:
            if not client.is_storage_initialized():
                return False
            if not hasattr(client, "get_stored_state"):
                return None
            return client.get_stored_state(pipeline.pipeline_name) is not None
    except Exception:
        log.debug("could not read the destination's pipeline state", exc_info=True)
        return None
