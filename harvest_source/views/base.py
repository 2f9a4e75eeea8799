"""What every analyst view is made of: its name, the tables it reads, its SELECT, and the SQL snippets
the views share.

The SQL runs unchanged on DuckDB (and MotherDuck) and PostgreSQL: plain joins and aggregates, ``EXTRACT``,
``date - integer`` and ``date - date`` arithmetic, ``CURRENT_DATE``, ``CAST`` to ``DECIMAL``/``INTEGER``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class View:
    name: str
    requires: tuple[str, ...]  # tables that must exist in the dataset
    select: str  # the SELECT, with {table} placeholders for qualified table names


USER_NAME = "u.first_name || ' ' || u.last_name"
BILLABLE_AMOUNT = "CASE WHEN {alias}.billable THEN {alias}.hours * COALESCE({alias}.billable_rate, 0) ELSE 0 END"
MONTH_START = "{d} - CAST(EXTRACT(DAY FROM {d}) AS INTEGER) + 1"  # the first day of d's month
MONEY = "DECIMAL(38, 9)"
