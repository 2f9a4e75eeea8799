"""The destination's side of verify: row counts and monthly sums, read through the pipeline's sql_client.

Only SELECTs, in SQL that DuckDB and PostgreSQL both run (``EXTRACT``, ``CASE``, ``DATE 'YYYY-MM-DD'``,
``GROUP BY`` ordinals). Rows soft-deleted by the connector (``SOFT_DELETED_COLUMN``, when the table has
it) are left out of counts and sums: Harvest no longer has them. One dataset holds many accounts: only the
verified account's rows count (``account_id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from ..rules import ACCOUNT
from ..settings import SOFT_DELETED_COLUMN
from .checks import Breakdown, Figures, Key

# (year, month) -> subject key -> figures
MonthSums = dict[tuple[int, int], dict[Key, Figures]]


class Warehouse:
    """Reads one dataset through an open dlt sql_client (``with pipeline.sql_client() as client``)."""

    def __init__(self, client: Any, account_id: str | int | None = None) -> None:
        self.client = client
        self.account_id = None if account_id is None else int(account_id)  # one account's rows of many
        self._columns = self._read_columns()

    def _read_columns(self) -> dict[str, set[str]]:
        rows = self.client.execute_sql(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s",
            self.client.dataset_name,
        )
        columns: dict[str, set[str]] = {}
        for table, column in rows or []:
            columns.setdefault(table, set()).add(column)
        return columns

    @property
    def tables(self) -> list[str]:
        return sorted(t for t in self._columns if not t.startswith("_dlt"))

    def has(self, table: str) -> bool:
        return table in self._columns

    def _live(self, table: str) -> str:
        """The WHERE condition that keeps the account's rows Harvest still has."""
        columns = self._columns.get(table, ())
        live = f"{SOFT_DELETED_COLUMN} IS NULL" if SOFT_DELETED_COLUMN in columns else "1 = 1"
        if self.account_id is not None and ACCOUNT in columns:
            live += f" AND {ACCOUNT} = {self.account_id}"
        return live

    def count(self, table: str) -> int:
        name = self.client.make_qualified_table_name(table)
        return int(self.client.execute_sql(f"SELECT count(*) FROM {name} WHERE {self._live(table)}")[0][0])

    def monthly(self, breakdown: Breakdown, since: dt.date, until: dt.date) -> MonthSums:
        """Every part's sums per month, subject and currency, added together."""
        out: MonthSums = {}
        for part in breakdown.parts:
            if not self.has(part.table):
                continue
            metrics = ", ".join(f"SUM({expr})" for _, expr in part.metrics)
            currency = "client__currency" if "client__currency" in self._columns[part.table] else "NULL"
            sql = (
                f"SELECT EXTRACT(YEAR FROM spent_date), EXTRACT(MONTH FROM spent_date), {breakdown.column}, "
                f"{currency}, {metrics} FROM {self.client.make_qualified_table_name(part.table)} "
                f"WHERE spent_date >= DATE '{since.isoformat()}' AND spent_date <= DATE '{until.isoformat()}' "
                f"AND {self._live(part.table)} GROUP BY 1, 2, 3, 4"
            )
            names = [m for m, _ in part.metrics]
            _add(out, self.client.execute_sql(sql) or [], names)
        return out


def _add(out: MonthSums, rows: Iterable[tuple], names: list[str]) -> None:
    for year, month, subject, currency, *values in rows:
        figures = out.setdefault((int(year), int(month)), {}).setdefault(
            (None if subject is None else int(subject), currency), {})
        for name, value in zip(names, values, strict=True):
            figures[name] = figures.get(name, Decimal(0)) + _decimal(value)


def _decimal(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))
