"""Schema drift: what Harvest changed in the data a run loaded, for the run's summary.

New columns and values of a new type show in dlt's schema (``describe_schema_changes``). A field Harvest
stops sending does not: in the destination it is just a null, so ``FieldWatch`` looks at the records.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import dlt

from . import TABLES
from .settings import MISSING_MIN_ARROW_ROWS, MISSING_SAMPLE_ROWS
from .table_format import delta_column_fill

log = logging.getLogger("harvest_source")


def schema_columns(pipeline: dlt.Pipeline) -> dict[str, dict[str, str]]:
    """{table: {column: data type}} of the pipeline's schema ({} before the first run)."""
    if not pipeline.default_schema_name:
        return {}
    return {
        name: {c: col.get("data_type", "") for c, col in table.get("columns", {}).items() if not c.startswith("_dlt")}
        for name, table in pipeline.default_schema.tables.items()
        if not name.startswith("_dlt")
    }


def describe_schema_changes(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
    """What Harvest's data changed in our tables: new columns and values of a new type."""
    changes = []
    for table, columns in after.items():
        if table not in before:
            continue
        for column, data_type in columns.items():
            if column in before[table]:
                continue
            base, _, variant = column.partition("__v_")
            if variant:
                changes.append(f"{table}.{base}: a value of type {variant} arrived (kept in column {column})")
            else:
                changes.append(f"{table}: new column {column} ({data_type})")
    return changes


class FieldWatch:
    """Notices a field Harvest stops sending: in the destination it is just a null, so the run looks at
    the records themselves. Before the run it samples which columns earlier rows filled; while
    extracting it notes which fields the records carried; afterwards it names the columns that at least
    half the earlier rows filled and no record of this run carried. Records read as dicts tell a missing
    key from a null. Flat tables read as arrow pages only tell empty from filled, so there a column counts
    as gone only when every sampled earlier row had it and none of at least ``MISSING_MIN_ARROW_ROWS`` new
    rows did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.before: dict[str, tuple[int, dict[str, int]]] = {}  # table -> (rows sampled, filled per column)
        self.keys: dict[str, set[str]] = {}  # dict records: flattened keys they carried
        self.null_objects: dict[str, set[str]] = {}  # dict records: nested objects that were null
        self.filled: dict[str, set[str]] = {}  # arrow pages: columns with a value
        self.dict_rows: dict[str, int] = {}
        self.arrow_rows: dict[str, int] = {}

    def sample(self, pipeline: dlt.Pipeline, columns: dict[str, dict[str, str]]) -> None:
        if not any(table in TABLES for table in columns):  # a first run: nothing earlier to sample
            return
        watched = {table: [c for c in types if "__v_" not in c] for table, types in columns.items()
                   if table in TABLES}  # nested tables: their records are not watched
        try:
            delta = delta_column_fill(pipeline, {t: names for t, names in watched.items() if names},
                                      MISSING_SAMPLE_ROWS)
            if delta is not None:
                self.before.update(delta)
                return
            with pipeline.sql_client() as client:
                for table, names in watched.items():
                    if not names:
                        continue
                    escaped = [client.escape_column_name(c) for c in names]
                    try:
                        row = client.execute_sql(
                            f"SELECT COUNT(*), {', '.join(f'COUNT({c})' for c in escaped)} FROM (SELECT "
                            f"{', '.join(escaped)} FROM {client.make_qualified_table_name(table)} "
                            f"LIMIT {MISSING_SAMPLE_ROWS}) AS earlier"
                        )[0]
                    except Exception:  # a table the destination does not have (yet)
                        continue
                    self.before[table] = (row[0], dict(zip(names, row[1:], strict=True)))
        except Exception:  # a summary nicety: it must never fail the run
            log.debug("could not sample the destination's columns", exc_info=True)

    def watch(self, source: Any) -> None:
        for name, resource in source.selected_resources.items():
            if name in TABLES:
                resource.add_metrics(self._observer(name))

    def _observer(self, table: str) -> Any:
        def observe(items: Any, meta: Any, metrics: Any) -> None:
            keys: set[str] = set()
            nulls: set[str] = set()
            filled: set[str] = set()
            dict_rows = arrow_rows = 0
            for item in items if isinstance(items, list) else [items]:
                if isinstance(item, dict):
                    dict_rows += 1
                    _flat_keys(item, "", keys, nulls)
                elif hasattr(item, "column_names") and hasattr(item, "num_rows"):  # an arrow table
                    arrow_rows += item.num_rows
                    filled.update(n for n in item.column_names if item.column(n).null_count < item.num_rows)
            with self._lock:
                self.keys.setdefault(table, set()).update(keys)
                self.null_objects.setdefault(table, set()).update(nulls)
                self.filled.setdefault(table, set()).update(filled)
                self.dict_rows[table] = self.dict_rows.get(table, 0) + dict_rows
                self.arrow_rows[table] = self.arrow_rows.get(table, 0) + arrow_rows

        return observe

    def _carried(self, table: str, column: str) -> bool:
        if column in self.keys.get(table, ()) or column in self.filled.get(table, ()):
            return True
        parts = column.split("__")  # client__id is carried when the record had "client": null
        return any("__".join(parts[:i]) in self.null_objects.get(table, ()) for i in range(1, len(parts)))

    def gone(self) -> list[str]:
        found = []
        for table, (sampled, filled_before) in sorted(self.before.items()):
            as_dicts, as_arrow = self.dict_rows.get(table, 0), self.arrow_rows.get(table, 0)
            if not sampled or (not as_dicts and as_arrow < MISSING_MIN_ARROW_ROWS):
                continue
            for column, had in filled_before.items():
                usual = had == sampled if not as_dicts else had * 2 >= sampled  # not a rare field
                if not had or not usual or self._carried(table, column):
                    continue
                found.append(f"{table}.{column}: no record of this run ({as_dicts + as_arrow:,}) carried it, "
                             "earlier rows did (a field Harvest no longer sends? its new rows hold nulls)")
        return found


def _flat_keys(record: dict[str, Any], prefix: str, keys: set[str], nulls: set[str]) -> None:
    """The record's fields as dlt names its columns (``client__id``); null objects noted apart."""
    for key, value in record.items():
        name = prefix + key
        keys.add(name)
        if isinstance(value, dict):
            _flat_keys(value, name + "__", keys, nulls)
        elif value is None:
            nulls.add(name)
