"""Every rule derived from a catalog row, in one place.

The catalog (``catalog.py``) declares what Harvest serves: a row's kind, its request parameters, keys
and column types. What a run does with a row follows from that and is computed here only: whether it
is read whole or changed-since, its write disposition and keys, the ``dedup_sort`` a merge needs, the
dlt column and nested-table hints, and whether it may take the arrow path or append on a first load.
The resource builders, the README's table (``catalog_table``) and the tests ask these functions and
never re-derive a rule from a row's fields.
"""

from __future__ import annotations

from typing import Any

import dlt

from .catalog import BIGINT, ENDPOINTS, FROM_TO, UPDATED_SINCE, Endpoint, Kind, children_of
from .dlt_compat.merge_keys import without_merge_key
from .settings import EPOCH

# dlt's default merge strategy, written out: ``upsert`` fails when one load carries an id twice
MERGE: dict[str, str] = {"disposition": "merge", "strategy": "delete-insert"}
CURSOR = "updated_at"  # the column behind ``updated_since``
REPORT_PERIOD = ("period_start", "period_end")  # the columns a report row's period is written to
ACCOUNT = "account_id"  # every row's Harvest account: one dataset holds many accounts (``account_column``)

_TIMESTAMP = {"data_type": "timestamp", "nullable": True}


def incremental(endpoint: Endpoint) -> bool:
    """It sends ``updated_since``: a dlt cursor on ``updated_at`` keeps the bound between runs."""
    return UPDATED_SINCE in endpoint.params


def replaced_whole(endpoint: Endpoint) -> bool:
    """Account-wide rows without ``updated_since`` are re-read whole and replace the account's rows (a merge
    whose merge key is ``account_id``: the other accounts' rows in the same table stay).

    Children are never replaced whole: a run reads the children of some parents only (``listing_window``);
    nor are reports: a run re-reads some periods only (``report_tables``).
    """
    return endpoint.kind not in (Kind.CHILD, Kind.REPORT) and not incremental(endpoint)


def merges(endpoint: Endpoint) -> bool:
    """Every table merges (delete-insert) on its key within the account: many accounts share a table, so
    even a table read whole replaces only its own account's rows (``merge_key``)."""
    return True


def write_disposition(endpoint: Endpoint) -> dict[str, str]:
    return dict(MERGE)


def primary_key(endpoint: Endpoint) -> tuple[str, ...]:
    """The destination key: the account, then Harvest's key (ids are unique within an account only)."""
    return (ACCOUNT, *endpoint.primary_key)


def merge_key(endpoint: Endpoint) -> list[str] | None:
    """The rows a loaded row replaces beyond its own key, always within its account.

    A child's parent id: a parent's children are re-read whole and replace that parent's old ones (not in
    soft-delete mode, ``keeps_stale_children``: there the deletion pass marks the ones no longer returned).
    A report's period (``period_start``, ``period_end``): a re-read period replaces every row of that
    period (delete-insert deletes the destination rows whose merge key a loaded row carries), so a
    subject that has left the period (its time moved or was deleted) leaves the table too.
    A table read whole (``replaced_whole``): the account itself, so the account's old rows all go.
    """
    if endpoint.kind is Kind.CHILD and endpoint.fan_out is not None:
        return [ACCOUNT, endpoint.fan_out.parent_key]
    if endpoint.kind is Kind.REPORT:
        return [ACCOUNT, *REPORT_PERIOD]
    if replaced_whole(endpoint):
        return [ACCOUNT]
    return None


def harvest_report(endpoint: Endpoint) -> bool:
    """One of Harvest's Reports API tables: Harvest's own sums, not records (``verify`` compares with them)."""
    return endpoint.path.startswith("reports/")


def report_windowed(endpoint: Endpoint) -> bool:
    """Read per period (``from``/``to``), not in one listing."""
    return endpoint.kind is Kind.REPORT and FROM_TO in endpoint.params


def bounded_by_start_date(endpoint: Endpoint) -> bool:
    """``start_date`` bounds dated facts only (time, expenses, invoices, estimates, their children, report
    periods); dimensions (users, projects, clients, ...) always load whole, whatever ``start_date`` says."""
    return endpoint.dated


def start_bound(endpoint: Endpoint, start: str | None) -> str | None:
    """The ``start_date`` bound this row's first load uses (None: everything)."""
    return start if bounded_by_start_date(endpoint) else None


def dedup_sort(endpoint: Endpoint) -> str | None:
    """delete-insert keeps the newest version (by ``updated_at``) when one load carries an id twice."""
    return "desc" if endpoint.timestamps and merges(endpoint) else None


def cursor_column(endpoint: Endpoint) -> str | None:
    """The incremental cursor's column (kept as text until after dlt's incremental on the arrow path)."""
    return CURSOR if incremental(endpoint) else None


def deletion_swept(endpoint: Endpoint) -> bool:
    """A deletion sweep lists its ids: an account-wide list read by change (``updated_since``), so a
    deleted record would otherwise stay. Tables read whole already drop what Harvest no longer returns;
    children are judged through their parents (``deletion_pass``)."""
    return endpoint.kind is Kind.LIST and incremental(endpoint)


def has_children(endpoint: Endpoint) -> bool:
    """A fan-out parent: its listing also feeds child tables."""
    return bool(children_of(endpoint.table))


def arrow_eligible(endpoint: Endpoint) -> bool:
    """Account-wide lists whose records have no arrays: the arrow path can reproduce their table exactly.

    Fan-out parents and children stay on the row path (their pages feed transformers as dicts), and so do
    small tables replaced whole each run (the project budget report): nothing to gain there.
    """
    return (endpoint.kind is Kind.LIST and not endpoint.nested and not has_children(endpoint)
            and not replaced_whole(endpoint))


def first_load_appendable(endpoint: Endpoint) -> bool:
    """Plain merged lists keyed by one column: their first load may append (see ``first_load``)."""
    return (
        endpoint.kind is Kind.LIST
        and not has_children(endpoint)
        and len(endpoint.primary_key) == 1
        and not replaced_whole(endpoint)
    )


def appendable_tables() -> list[str]:
    return [e.table for e in ENDPOINTS if first_load_appendable(e)]


def _column(data_type: str) -> dict[str, Any]:
    return {"data_type": data_type, "nullable": True}


def table_columns(endpoint: Endpoint) -> dict[str, dict[str, Any]]:
    """Column hints of the endpoint's root table: types, keys, parent id and dedup order."""
    columns: dict[str, dict[str, Any]] = {ACCOUNT: {"data_type": BIGINT, "nullable": False}}
    columns.update((name, _column(kind)) for name, kind in endpoint.columns.items())
    for key in endpoint.primary_key:  # ids unless the row types the key (a report's period, currency)
        columns[key] = {"data_type": endpoint.columns.get(key, BIGINT), "nullable": False}
    if endpoint.fan_out:
        columns[endpoint.fan_out.parent_key] = {"data_type": "bigint", "nullable": False}
    if endpoint.timestamps:
        columns["created_at"] = dict(_TIMESTAMP)
        columns[CURSOR] = dict(_TIMESTAMP)
        order = dedup_sort(endpoint)
        if order:
            columns[CURSOR]["dedup_sort"] = order
    return columns


def merge_only_columns(endpoint: Endpoint) -> dict[str, dict[str, Any]]:
    """The column hints only a merge uses (``dedup_sort``): off on an appended first load, back on a merge."""
    return {n: {"name": n, "dedup_sort": c["dedup_sort"]} for n, c in table_columns(endpoint).items()
            if c.get("dedup_sort")}


def nested_hints(endpoint: Endpoint) -> dict[str, Any] | None:
    """Types for child tables made from arrays (line items, task assignments, role user ids)."""
    if not endpoint.nested:
        return None
    return {
        field: dlt.mark.make_nested_hints(columns={n: _column(k) for n, k in types.items()})
        for field, types in endpoint.nested.items()
    }


def keeps_stale_children(endpoint: Endpoint, deletes: str | None) -> bool:
    """Soft deletes: a child table merges on its primary key only, so a child a parent's re-read no longer
    returns stays, for the deletion pass to mark (``deletion_pass``). Hard (and off): the parent's re-read
    replaces its children (``merge_key``)."""
    return deletes == "soft" and endpoint.kind is Kind.CHILD and endpoint.fan_out is not None


def resource_hints(endpoint: Endpoint, deletes: str | None = None) -> dict[str, Any]:
    """The keyword hints of the endpoint's dlt resource (``dlt.resource(..., **hints)``); ``deletes``: the
    source's mode (hard | soft | off), which only a child table's merge key depends on."""
    hints: dict[str, Any] = {
        "name": endpoint.table,
        "columns": table_columns(endpoint),
        "nested_hints": nested_hints(endpoint),
        "write_disposition": write_disposition(endpoint),
    }
    hints["primary_key"] = list(primary_key(endpoint))
    key = merge_key(endpoint)
    if key and keeps_stale_children(endpoint, deletes):
        # taken off explicitly: a dataset loaded in hard mode keeps its merge key otherwise (``merge_keys``)
        hints["columns"] = without_merge_key(hints["columns"], key)
    elif key:
        hints["merge_key"] = key
    return hints


def request_params(endpoint: Endpoint, since: str | None) -> dict[str, str] | None:
    """The query of a listing that asks for records changed since ``since`` (None or EPOCH: all of them)."""
    if not incremental(endpoint) or not since or since == EPOCH:
        return None
    return {UPDATED_SINCE: since}
