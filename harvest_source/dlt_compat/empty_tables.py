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


def empty_tables(pipeline: dlt.Pipeline, tables: list[str]) -> list[str]:
    """The tables the destination proves absent or empty; [] when it cannot be asked (never a guess)."""
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
                rows = sql.execute_sql(f"SELECT count(*) FROM {sql.make_qualified_table_name(name)}")
                if rows and rows[0][0] == 0:
                    empty.append(name)
            return sorted(empty)
    except Exception:  # the destination could not tell: merge, as always
        log.debug("could not check which tables are empty; merging all", exc_info=True)
        return []
