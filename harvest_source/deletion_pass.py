"""The deletion pass: after an account's load, remove (hard) or mark (soft) the rows Harvest no longer has.

It runs after the load, so the warehouse it compares with already holds everything this run read:

* **top-level tables** read by change (``rules.deletion_swept``): when a sweep is due (every
  ``sweep_interval_hours``, the first run, ``--sweep``), each table's ids are listed whole
  (``sweep_listing``) and compared with the account's rows (``deletions.deleted_ids``: nothing goes on a
  listing that failed, was cut short or got a 403, nor a record Harvest reports changed since the
  warehouse's newest row, nor on a table Harvest narrows for this token);
* **children** (payments, messages, rates, ...): in hard mode a parent re-read this run replaces its children
  already (their merge key is the parent's id); what that cannot do is done here, with no request: the
  children of a parent whose re-read returned none, and the children of a deleted parent. In soft mode child
  tables merge on their own key (``rules.keeps_stale_children``), so a child a re-read parent no longer
  returns stays in the table, and is marked here too (the gather tells ``DeletionPlan.children_read`` which
  ids came back).

The decisions are ``deletions``'; reading and changing rows is ``dlt_compat.warehouse_rows``' (SQL) or
``dlt_compat.delta_rows``' (Delta tables), as ``dlt_compat.row_backend`` picks. Writes take the account's load
turn (``load_turn``), as loads do. The outcome (rows per table, warnings) goes to the run's summary.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

import dlt
import pendulum

from .catalog import ENDPOINTS, Endpoint, children_of
from .client import HarvestClient
from .deletions import deleted_ids, narrowed, orphaned_children
from .dlt_compat import ROW_ID
from .dlt_compat.row_backend import row_backend
from .errors import HarvestError, HarvestRunStopped
from .listing_window import iso, shift
from .rules import deletion_swept, start_bound
from .settings import DELETION_SWEPT_AT_KEY, NARROWED_TABLES, SOFT_DELETED_COLUMN
from .sweep_listing import list_changed, list_ids

log = logging.getLogger("harvest_source")

NARROWED = ("not swept: this token is not an administrator's, and Harvest shows it only some people's rows "
            "here; deleting the rest would delete records that exist")
NO_SQL = ("plain parquet files cannot change a row: not looked for; deletes need a SQL destination (DuckDB, "
          "PostgreSQL, ...) or Delta tables (--table-format delta)")


@dataclass
class DeletionPlan:
    """What the source hands the pass (``harvest_source(deletes=...)``): the mode, its client, its bounds,
    and the parents whose children were re-read and came back empty (filled while the run extracts)."""

    mode: str
    client: HarvestClient
    start: str | None = None  # ``start_date``: a dated table is listed from it (its rows are all newer)
    force_sweep: bool = False
    sweep_interval_h: float = 24.0
    childless: dict[str, set[int]] = field(default_factory=dict)  # child table -> parents read with none
    child_sweeps: list[bool] = field(default_factory=list)  # per child table read this run: did it sweep
    # soft: child table -> parent -> the child ids its re-read returned (the rest are marked after the load)
    children_returned: dict[str, dict[int, set[int]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def child_windows(self, sweeps: Iterable[bool]) -> None:
        """The child tables' listing windows of this run, sweeping or not (``families``)."""
        self.child_sweeps.extend(sweeps)

    def no_children(self, table: str, parent_id: int) -> None:
        """A parent's children were read whole and there were none (called from the gather threads)."""
        with self._lock:
            self.childless.setdefault(table, set()).add(int(parent_id))

    def children_read(self, table: str, parent_id: int, child_ids: Iterable[int]) -> None:
        """A parent's children were read whole; these ids came back (called from the gather threads). Soft
        mode keeps them: its child tables merge on their own key, so the pass marks the ones missing (hard
        mode's merge key already replaced them)."""
        ids = {int(i) for i in child_ids}
        if not ids:
            self.no_children(table, parent_id)
            return
        if self.mode != "soft":
            return
        with self._lock:
            self.children_returned.setdefault(table, {})[int(parent_id)] = ids


@dataclass
class DeletionOutcome:
    """Rows deleted (hard) or marked (soft) per table, and per table why nothing was."""

    mode: str = "off"
    swept: bool = False  # top-level tables were listed this run
    deleted: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, str] = field(default_factory=dict)


def run_deletion_pass(pipeline: dlt.Pipeline, account_id: int | str, plan: DeletionPlan | None,
                      selected: Iterable[str], skipped: Iterable[str],
                      turn: AbstractContextManager[Any] | None = None,
                      this_run: Iterable[str] = ()) -> DeletionOutcome:
    """Find and apply this account's deletions; Harvest errors become warnings, never a failed run.

    ``this_run``: the ids of the loads this run made. A table whose rows (of this account) all come from
    them is not listed: each was in Harvest's answer moments ago (a first load sweeps nothing)."""
    outcome = DeletionOutcome(mode=plan.mode if plan else "off")
    if plan is None or plan.mode == "off":
        return outcome
    account_id = int(str(account_id).strip())
    chosen, left_out = set(selected), set(skipped)
    now = pendulum.now("UTC")
    due = _sweep_due(pipeline, plan, now)
    if not due and not any(plan.childless.values()) and not any(plan.children_returned.values()):
        return outcome
    store = row_backend(pipeline)  # SQL, Delta tables, or nothing that can change a row
    if store is None:
        outcome.warnings["all tables"] = NO_SQL
        return outcome
    apply = _applier(pipeline, store, account_id, plan.mode, iso(now), turn or nullcontext(), outcome)
    gone_parents: dict[str, set[int]] = {}
    loads = set(this_run)
    if due:
        outcome.swept = True
        me: list[Mapping[str, Any] | None] = []  # read once, when a table Harvest may narrow needs listing

        def is_narrowed(table: str) -> bool:
            if table not in NARROWED_TABLES:
                return False
            if not me:
                me.append(_me(plan.client))
            return narrowed(table, me[0])

        for endpoint in ENDPOINTS:
            if not deletion_swept(endpoint) or endpoint.table not in chosen or endpoint.table in left_out:
                continue
            gone = _guarded(outcome, endpoint.table,
                            lambda e=endpoint: _sweep(pipeline, store, account_id, plan, e, loads, is_narrowed))
            if gone is NARROWED:
                outcome.warnings[endpoint.table] = NARROWED
                continue
            if isinstance(gone, str):
                outcome.warnings[endpoint.table] = f"nothing deleted: {gone}"
                continue
            apply(endpoint.table, "id", gone)
            if children_of(endpoint.table):
                gone_parents[endpoint.table] = gone
        pipeline.set_local_state_val(DELETION_SWEPT_AT_KEY, iso(now))
    for parent in sorted({e.fan_out.parent for e in ENDPOINTS if e.fan_out}):
        # a sweep also finds children whose parent an earlier pass deleted (or marked) but did not finish
        gone = gone_parents.get(parent, set())
        orphans = due and parent in chosen and parent not in left_out
        for child in children_of(parent):
            assert child.fan_out is not None
            if child.table in left_out:
                continue
            parents = plan.childless.get(child.table, set()) | gone
            if orphans:
                found = _guarded(outcome, child.table,
                                 lambda c=child, p=parent: _orphaned(pipeline, store, account_id, p, c))
                parents |= found if isinstance(found, set) else set()
            apply(child.table, child.fan_out.parent_key, parents)
            returned = plan.children_returned.get(child.table)
            if returned:  # soft: a child its re-read parent no longer returned (that parent keeps others)
                stale = _guarded(outcome, child.table,
                                 lambda c=child, r=returned: _not_returned(pipeline, store, account_id, c, r))
                if isinstance(stale, set):
                    apply(child.table, ROW_ID, stale)
    return outcome


def _not_returned(pipeline: dlt.Pipeline, store: ModuleType, account_id: int, child: Endpoint,
                  returned: Mapping[int, set[int]]) -> set[str]:
    """The ``_dlt_id`` of ``child``'s unmarked rows under a parent re-read this run whose id that re-read did not
    return (``deletions.orphaned_children``). Rows, not ids: a child's id may repeat under other parents."""
    assert child.fan_out is not None
    present = store.existing_tables(pipeline, [child.table]).get(child.table)
    if not present:
        return set()
    soft = SOFT_DELETED_COLUMN in present
    columns = (child.fan_out.parent_key, "id", ROW_ID, *((SOFT_DELETED_COLUMN,) if soft else ()))
    rows: dict[tuple[int, int], list[str]] = {}
    held: dict[int, set[int]] = {}
    for parent, child_id, row_id, *marked in store.read_rows(pipeline, child.table, account_id, columns):
        if int(parent) not in returned or (marked and marked[0]):
            continue
        held.setdefault(int(parent), set()).add(int(child_id))
        rows.setdefault((int(parent), int(child_id)), []).append(str(row_id))
    gone = orphaned_children(returned, held, returned)
    return {r for parent, ids in gone.items() for i in ids for r in rows[(parent, i)]}


def _orphaned(pipeline: dlt.Pipeline, store: ModuleType, account_id: int, parent: str, child: Endpoint) -> set[int]:
    """Parents ``child``'s rows name that the parent table no longer holds, or holds marked deleted. Asked
    only on sweeps that loaded the parent table, whose rows then cover every parent Harvest has."""
    assert child.fan_out is not None
    present = store.existing_tables(pipeline, [parent, child.table])
    if parent not in present or child.table not in present:
        return set()
    parents = {int(r[0]) for r in store.read_rows(pipeline, parent, account_id, ("id",))}
    if not parents:
        return set()  # the parent table holds nothing of this account: no evidence either way
    named = {int(r[0]) for r in store.read_rows(pipeline, child.table, account_id, (child.fan_out.parent_key,))}
    marked: set[int] = set()
    if SOFT_DELETED_COLUMN in present[parent]:
        marked = {int(i) for i, at in store.read_rows(pipeline, parent, account_id, ("id", SOFT_DELETED_COLUMN)) if at}
    return (named - parents) | (named & marked)


def _sweep_due(pipeline: dlt.Pipeline, plan: DeletionPlan, now: pendulum.DateTime) -> bool:
    """When the child sweep runs (its time is kept in the synced resource state, so a lost working folder
    does not make every run sweep), or forced. A run without child tables (``--resources time_entries``)
    keeps its own time in the pipeline's local state: never run before, or ``sweep_interval_hours`` since."""
    if plan.force_sweep or any(plan.child_sweeps):
        return True
    if plan.child_sweeps:
        return False
    try:
        last = pipeline.get_local_state_val(DELETION_SWEPT_AT_KEY)
    except (KeyError, TypeError):
        return True
    return not last or pendulum.parse(str(last)).add(hours=plan.sweep_interval_h) <= now


def _me(client: HarvestClient) -> Mapping[str, Any] | None:
    """The token's user (``GET /v2/users/me``): its access roles say which listings Harvest narrows."""
    try:
        me = client.get_json("users/me")
    except HarvestRunStopped:
        raise
    except HarvestError as error:
        log.warning("deletion sweep: could not read users/me (%s); time entries and expenses are not swept",
                    error.message)
        return None
    return me if isinstance(me, Mapping) else None


def _sweep(pipeline: dlt.Pipeline, store: ModuleType, account_id: int, plan: DeletionPlan, endpoint: Endpoint,
           this_run: set[str], is_narrowed: Callable[[str], bool]) -> set[int] | str:
    """The ids of ``endpoint``'s table to delete, or why none may be (``NARROWED`` itself when the token's
    listing of it is narrowed)."""
    if endpoint.table not in store.existing_tables(pipeline, [endpoint.table]):
        return set()
    rows = store.read_rows(pipeline, endpoint.table, account_id, ("id", "updated_at", "_dlt_load_id"))
    if all(load in this_run for _, _, load in rows):
        return set()  # nothing of this account, or all of it just read from Harvest: no request spent
    if is_narrowed(endpoint.table):
        return NARROWED
    warehouse = {int(i): _text(u) for i, u, _ in rows}
    listing = list_ids(plan.client, endpoint, start_bound(endpoint, plan.start))
    why = listing.why_incomplete()
    if why is not None:
        return why
    newest = max((u for u in warehouse.values() if u), default=None)
    changed: set[int] | str = set()
    if newest is not None:
        # a record changed since the load (hence during the listing, where it may have moved pages) is kept
        changed = list_changed(plan.client, endpoint, newest)
        if isinstance(changed, str):
            return changed
    return deleted_ids(warehouse, listing, shift(newest, -1) if newest else "9999", changed)


def _text(value: Any) -> str | None:
    """A warehouse ``updated_at`` in Harvest's text format (compares with Harvest's as text)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = pendulum.instance(value) if value.tzinfo else pendulum.instance(value, tz="UTC")
        return iso(moment)
    return iso(pendulum.parse(str(value)))


def _applier(pipeline: dlt.Pipeline, store: ModuleType, account_id: int, mode: str, now: str,
             turn: AbstractContextManager[Any], outcome: DeletionOutcome) -> Callable[[str, str, set[Any]], None]:
    """``apply(table, column, values)``: delete (hard) or mark (soft) the account's rows whose ``column`` is one
    of ``values``; ``column`` ``_dlt_id`` (soft only) names rows themselves, by dlt's row id."""
    def write(table: str, column: str, values: set[Any]) -> int:
        if not values or table not in store.existing_tables(pipeline, [table]):
            return 0
        with turn:
            if mode == "soft" and column == ROW_ID:
                return store.mark_row_ids(pipeline, table, account_id, values, now)
            if mode == "soft":
                return store.mark_rows(pipeline, table, account_id, column, values, now)
            return store.delete_rows(pipeline, table, account_id, column, values)

    def apply(table: str, column: str, values: set[Any]) -> None:
        count = _guarded(outcome, table, lambda: write(table, column, values))
        if isinstance(count, int) and count:
            outcome.deleted[table] = outcome.deleted.get(table, 0) + count

    return apply


def _guarded(outcome: DeletionOutcome, table: str, step: Callable[[], Any]) -> Any:
    """``step()``, or the reason it failed as text (a warning in the summary: the load itself succeeded)."""
    try:
        return step()
    except HarvestRunStopped:
        raise
    except Exception as error:  # a destination error must not turn a loaded run into a failed one
        log.debug("deletion pass: %s failed", table, exc_info=True)
        why = f"deletion pass failed ({type(error).__name__})"
        outcome.warnings.setdefault(table, why)
        return why


__all__ = ["DeletionOutcome", "DeletionPlan", "run_deletion_pass"]
