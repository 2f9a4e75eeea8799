"""First loads append: a table that is empty at the destination gets its rows inserted once, not merged.

Why: dlt's merge copies every row into a staging table and then copies it again into the real one
(with a delete and a de-duplication). For a table that is absent or empty there is nothing to
delete, and the only duplicates possible are records the listing itself repeated. Measured on
210,024 time entries into DuckDB: 0.6 s for the insert, against 1.3 s for staging + merge.

It happens inside the source, at extract time, so ``dlt.pipeline(...).run(harvest_source())`` loads
exactly what the command line loads. A plain list's resource is declared ``merge`` (``rules``); when it
starts, ``FirstLoads`` asks the pipeline that runs it (``dlt.current.pipeline()``) which of the source's
appendable tables its destination proves empty, once per load package, and ``first_load_pages`` gives the
first item of an empty table the hints that make the table ``append`` for this load (dlt applies a hint
given with an item to the table: ``dlt_compat.resources.append_hints``).

What keeps it exact:

* a table counts as empty only if the destination says so (the table is absent, or ``count(*)`` is
  0); anything the check cannot establish keeps the merge, and so does a resource read outside a
  pipeline run;
* a listing can repeat a record when it shifts between two page requests (a record created or
  moved ahead of the page being read). ``RepeatGuard`` watches the primary keys of a resource's
  pages: at the first repeated key it switches the table back to merge for the rest of the run
  (again a hint given with an item, so the whole load of that table is a merge, which keeps the
  newest version by ``updated_at``);
* a record with a list (a nested table, which an append would commit apart from its root: see
  ``_nests``) also makes the table merge for the run;
* a load killed half way leaves committed rows behind; the next run finds the table not empty and
  merges (``runner._finish_pending`` has aborted the package and rewound its cursors, so the rows
  are read again and replace what is there).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dlt
import pyarrow as pa

from .dlt_compat.empty_tables import empty_tables  # a module global: benchmarks/ab.py switches it
from .dlt_compat.resources import append_hints, current_load_id
from .rules import MERGE

log = logging.getLogger("harvest_source")


class FirstLoads:
    """Which of a source's appendable tables are empty at the destination, asked once per load package.

    One object per source: its resources start in dlt's thread pool, and the first to ask checks every
    selected appendable table in one go (one destination connection, as the runner did before).
    """

    def __init__(self, tables: Sequence[str], account_id: int | None = None) -> None:
        self.tables = tuple(tables)
        self.account_id = account_id  # empty of this account's rows: other accounts share the tables
        self._lock = threading.Lock()
        self._load_id: str | None = None
        self._empty: frozenset[str] = frozenset()

    def empty(self, table: str) -> bool:
        """Whether ``table`` is proven empty at the destination of the pipeline extracting it now."""
        load_id = current_load_id()
        if load_id is None:  # iterated outside a pipeline run: nothing to append to
            return False
        with self._lock:
            if load_id != self._load_id:
                selected = dlt.current.source().selected_resources
                names = [t for t in self.tables if t in selected]
                self._empty = frozenset(empty_tables(dlt.current.pipeline(), names, self.account_id))
                self._load_id = load_id
            return table in self._empty


def first_load_pages(
    items: Iterable[Any], table: str, key: str, merge_columns: dict[str, Any], first_loads: FirstLoads
) -> Iterator[Any]:
    """A plain list's items; into an empty table the first one carries ``append`` (see the module doc)."""
    if not first_loads.empty(table):
        yield from items  # the declared merge
        return
    guard = RepeatGuard(table, key, merge_columns)
    guarded = guard(items)
    first = next(guarded, None)
    if first is None:
        return
    if not guard.repeated:  # else the guard marked this very item to merge
        first = dlt.mark.with_hints(first, append_hints(merge_columns))
    yield first
    yield from guarded


class RepeatGuard:
    """Passes a resource's items through; the table merges at the first primary key seen twice, or at
    the first record that carries a list (see ``_nests``)."""

    def __init__(self, table: str, key: str, merge_columns: dict[str, Any] | None = None) -> None:
        self.table, self.key = table, key
        # column hints the merge needs back (``dedup_sort``), which the append took off
        self.merge_columns = merge_columns or {}
        self._seen: set[Any] = set()
        self.repeated = False

    def __call__(self, items: Iterable[Any]) -> Iterator[Any]:
        for item in items:
            if self.repeated:
                yield item
                continue
            keys = self._keys(item)
            if keys is not None and (self._seen.intersection(keys) or len(set(keys)) < len(keys)):
                yield self._merge(item, "the listing repeated a record (it shifted between pages)")
                continue
            if _nests(item):
                yield self._merge(item, "a record carries a list, which dlt loads as a nested table")
                continue
            if keys:
                self._seen.update(keys)
            yield item

    def _merge(self, item: Any, reason: str) -> Any:
        self.repeated = True
        self._seen.clear()
        log.info("%s: %s; loading the table with merge", self.table, reason)
        hints = dlt.mark.make_hints(write_disposition=MERGE, columns=self.merge_columns or None)
        return dlt.mark.with_hints(item, hints)

    def _keys(self, item: Any) -> list[Any] | None:
        if isinstance(item, pa.Table):
            return item.column(self.key).to_pylist() if self.key in item.column_names else None
        if isinstance(item, list):
            return [row.get(self.key) for row in item if isinstance(row, dict)]
        return None


def _nests(item: Any) -> bool:
    """Whether a page would make dlt write a nested table (a list anywhere in a record).

    An appended nested table is a load job of its own, so a load killed between the two jobs can
    commit the nested rows without their root rows; the next run finds the root empty, appends again,
    and the first nested rows stay behind as orphans (the crash test showed it for appended families).
    A merge goes through the staging dataset and copies a root and its nested tables in one job. No
    plain table has a list today (the arrow path sends any page with one down the row path); this
    covers a field Harvest adds later.
    """
    if isinstance(item, pa.Table):
        return any(pa.types.is_list(f.type) or pa.types.is_large_list(f.type) for f in item.schema)
    if isinstance(item, list):
        for row in item:
            if type(row) is dict and _has_list(row):
                return True
    return False


def _has_list(record: dict[str, Any]) -> bool:
    # plain loops and exact type checks: this sees every value of a row-path page (0.5 s per 210k rows)
    for value in record.values():
        kind = type(value)
        if kind is list or (kind is dict and _has_list(value)):
            return True
    return False
