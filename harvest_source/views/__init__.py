"""Analyst views, created in the dataset next to the tables after each load.

The SQL is written once and runs unchanged on DuckDB (and MotherDuck) and PostgreSQL (``base.py``). Every
view joins on ids and reads names from the entity tables (``clients``, ``projects``, ``tasks``, ``users``),
never the names embedded in time entries and expenses, which are as Harvest sent them at the record's last
update and go stale after a rename. Their definitions are in ``people.py`` and ``money.py``; README "Query
your data" repeats them for analysts.

One dataset holds several accounts and Harvest's ids are unique within an account only, so every view
starts with ``account_id``, every join matches ``account_id`` as well as the id, and every aggregate groups
by it. Rows the connector marked deleted (``SOFT_DELETED_COLUMN``, in tables that have it) are left out:
such a table is read through ``(SELECT * ... WHERE <column> IS NULL)``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from ..settings import SOFT_DELETED_COLUMN
from .base import View
from .money import V_INVOICE_AGING, V_INVOICE_PAYMENTS, V_PROJECT_BUDGET, V_UNINVOICED
from .people import V_CONTRACTOR_PAYOUTS, V_TIME_ENTRIES, V_UTILIZATION_WEEKLY

log = logging.getLogger("harvest_source")

# destinations whose SQL dialect these views are written (and tested) for
SUPPORTED_DESTINATIONS = ("duckdb", "motherduck", "postgres")

VIEWS: tuple[View, ...] = (
    V_TIME_ENTRIES, V_UTILIZATION_WEEKLY, V_UNINVOICED, V_INVOICE_AGING, V_INVOICE_PAYMENTS, V_PROJECT_BUDGET,
    V_CONTRACTOR_PAYOUTS,
)
VIEW_NAMES: tuple[str, ...] = tuple(v.name for v in VIEWS)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _table_source(dataset: str, table: str, soft_deleted: Collection[str]) -> str:
    """What the view reads for ``table``: the table, or only its live rows when it has the soft-delete column."""
    qualified = f"{_quote(dataset)}.{_quote(table)}"
    if table not in soft_deleted:
        return qualified
    return f"(SELECT * FROM {qualified} WHERE {_quote(SOFT_DELETED_COLUMN)} IS NULL)"


def view_sql(view: View, dataset: str, soft_deleted: Collection[str] = ()) -> str:
    """The ``CREATE OR REPLACE VIEW`` statement for ``view`` in ``dataset`` (tables qualified by the dataset).

    ``soft_deleted``: the tables that have ``SOFT_DELETED_COLUMN``; the view reads their live rows only.
    """
    tables = {t: _table_source(dataset, t, soft_deleted) for t in view.requires}
    return f"CREATE OR REPLACE VIEW {_quote(dataset)}.{_quote(view.name)} AS{view.select.format(**tables)}"


def _destination_name(pipeline: Any) -> str:
    destination = getattr(pipeline, "destination", None)
    kind = getattr(destination, "destination_type", "") or ""
    return str(kind).rsplit(".", 1)[-1]


def _existing_tables(client: Any, dataset: str) -> set[str]:
    rows = client.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        f"AND table_schema = {_literal(dataset)} AND table_type = 'BASE TABLE'"
    )
    return {r[0] for r in rows or []}


def _soft_deleted_tables(client: Any, dataset: str) -> set[str]:
    """The dataset's tables that have the soft-delete column (a dataset loaded before it has none)."""
    rows = client.execute_sql(
        "SELECT table_name FROM information_schema.columns WHERE table_catalog = current_database() "
        f"AND table_schema = {_literal(dataset)} AND column_name = {_literal(SOFT_DELETED_COLUMN)}"
    )
    return {r[0] for r in rows or []}


def create_views(pipeline: Any, not_created: dict[str, str] | None = None) -> list[str]:
    """Create (or replace) the analyst views in ``pipeline``'s dataset; return the names created.

    Runs on DuckDB, MotherDuck and PostgreSQL; other destinations are left alone (returns ``[]``). A view
    whose source tables are not in the dataset (e.g. only some resources were loaded, or the token may
    not read them) is skipped, and so is one the database refuses (logged as a warning); neither fails
    the call: both are logged as warnings and, when ``not_created`` is given, written there (view -> why)
    for the run's summary. Tables with ``SOFT_DELETED_COLUMN`` (looked up in the database on every call)
    are read without their deleted rows. PostgreSQL's ``CREATE OR REPLACE VIEW`` cannot change a view's
    columns (as adding ``account_id`` did), so when that is refused the old view is dropped and created anew
    in one transaction.
    """
    kind = _destination_name(pipeline)
    if kind not in SUPPORTED_DESTINATIONS:
        log.info("Analyst views are created on %s only; not on %s", ", ".join(SUPPORTED_DESTINATIONS), kind)
        return []
    dataset = pipeline.dataset_name
    created: list[str] = []
    failed = not_created if not_created is not None else {}
    with pipeline.sql_client() as client:
        existing = _existing_tables(client, dataset)
        soft_deleted = _soft_deleted_tables(client, dataset)
        for view in VIEWS:
            missing = [t for t in view.requires if t not in existing]
            if missing:
                failed[view.name] = f"table(s) {', '.join(missing)} not loaded"
                log.warning("View %s not created: %s", view.name, failed[view.name])
                continue
            statement = view_sql(view, dataset, soft_deleted)
            try:
                client.execute_sql(statement)
            except Exception as first_error:  # PostgreSQL: the view's columns changed
                try:
                    with client.begin_transaction():
                        client.execute_sql(f"DROP VIEW IF EXISTS {_quote(dataset)}.{_quote(view.name)}")
                        client.execute_sql(statement)
                except Exception as error:
                    failed[view.name] = f"{error} (first attempt: {first_error})"
                    log.warning("View %s not created: %s", view.name, failed[view.name])
                    continue
            created.append(view.name)
    return created


def drop_views(pipeline: Any) -> list[str]:
    """Drop the analyst views from ``pipeline``'s dataset; return the names that existed.

    Call it before a full refresh on PostgreSQL: dlt drops the tables with ``DROP TABLE`` (no
    ``CASCADE``), which PostgreSQL refuses while views depend on them. DuckDB does not track view
    dependencies, so there it is optional. ``create_views`` after the load puts the views back.
    """
    kind = _destination_name(pipeline)
    if kind not in SUPPORTED_DESTINATIONS:
        return []
    dataset = pipeline.dataset_name
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return []
        rows = client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
            f"AND table_schema = {_literal(dataset)} AND table_type = 'VIEW'"
        )
        present = {r[0] for r in rows or []}
        dropped = [name for name in VIEW_NAMES if name in present]
        for name in dropped:
            client.execute_sql(f"DROP VIEW IF EXISTS {_quote(dataset)}.{_quote(name)}")
    return dropped
