"""Harvest's Reports API as tables: one resource per dated report, read period by period.

A report answers totals for one ``from``/``to`` window (reference 4.3: both inclusive, at most a year) and
its rows carry no dates (5.23), so every row gets the period it was asked for (``period_start``,
``period_end``) and is keyed by (period, subject id, currency). Harvest's totals change after the fact
(past time edited, invoiced), so every run re-reads the current and the previous period; older periods
are read once, after they ended. A re-read period replaces that period's rows: the tables merge
(delete-insert) with the period as merge key (``rules.merge_key``).

The reports bucket allows 100 requests per 15 minutes. A run never waits on it: it sends only the
requests the bucket has free when the first report is read (``ReportBudget``), and the periods that do
not fit are carried to the next run (the periods done are kept in the resource state; the run's
``RunReport`` counts the pending ones for the summary). ``reports_project_budget`` has no dates: it is a
plain list replaced whole each run (one slot of the budget is kept for it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import dlt
import pendulum
from dlt.sources import DltResource

from .catalog import Endpoint
from .client import HarvestClient
from .errors import HarvestConfigError, HarvestPermissionError
from .rules import resource_hints
from .settings import (
    DEFAULT_REPORTS_HISTORY_MONTHS,
    PER_PAGE,
    REPORT_PERIODS,
    REPORTS_REREAD_PERIODS,
    REPORTS_RESERVED_SLOTS,
    REPORTS_STATE_DONE,
    REPORTS_STATE_PERIOD,
)
from .skips import RunGuard

if TYPE_CHECKING:
    from .resources import Options

Period = tuple[date, date]


class ReportBudget:
    """The report requests this run may send without waiting, shared by the report resources.

    Fixed when the first report request is about to go: the reports bucket's free slots then, less the
    ones kept for ``reports_project_budget``. Thread-safe (report resources extract in parallel)."""

    def __init__(self, client: HarvestClient, path: str = "reports/") -> None:
        self._client, self._path = client, path
        self._left: int | None = None
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one request; False when the budget is spent (the caller carries its period)."""
        with self._lock:
            if self._left is None:
                self._left = max(0, self._client.free_slots(self._path) - REPORTS_RESERVED_SLOTS)
            if self._left <= 0:
                return False
            self._left -= 1
            return True


def check_period(kind: str) -> str:
    if kind not in REPORT_PERIODS:
        raise HarvestConfigError(f"reports_period {kind!r} is not one of {', '.join(REPORT_PERIODS)}",
                                 hint="set sources.harvest.reports_period to month or year")
    return kind


def parse_day(value: str | date | None, name: str) -> date | None:
    """``YYYY-MM-DD`` (or a date) as a date; None stays None."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return pendulum.parse(str(value)).date()  # type: ignore[union-attr]
    except (ValueError, AttributeError, pendulum.parsing.exceptions.ParserError) as error:
        raise HarvestConfigError(f"{name} {value!r} is not a date: use YYYY-MM-DD",
                                 hint=f"set sources.harvest.{name} to YYYY-MM-DD") from error


def period_of(day: date, kind: str) -> Period:
    """The calendar month (or year) holding ``day``: first and last day, both inclusive."""
    if kind == "year":
        return date(day.year, 1, 1), date(day.year, 12, 31)
    start = day.replace(day=1)
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following - timedelta(days=1)


def periods(first: date, today: date, kind: str) -> list[Period]:
    """Every period from the one holding ``first`` to the one holding ``today``, newest first."""
    out: list[Period] = []
    current = period_of(today, kind)
    while current[1] >= first:
        out.append(current)
        current = period_of(current[0] - timedelta(days=1), kind)
    return out


def history_start(options: Options, today: date) -> date:
    """``reports_start_date``, else ``start_date``, else the months before today (settings)."""
    if options.reports_start is not None:
        return options.reports_start
    if options.start:
        return pendulum.parse(options.start).date()  # type: ignore[union-attr]
    return (pendulum.date(today.year, today.month, 1).subtract(months=DEFAULT_REPORTS_HISTORY_MONTHS))


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")  # the docs' and Airbyte's format (reference 4.3)


def report_resource(endpoint: Endpoint, client: HarvestClient, guard: RunGuard, budget: ReportBudget,
                    options: Options) -> DltResource:
    """The report's table: the periods this run reads (re-read + not yet done), each replacing its rows."""

    def read_period(period: Period) -> list[dict[str, Any]] | None:
        """The period's rows, or None when the budget ran out before its last page (nothing kept)."""
        if not budget.take():
            return None
        start, end = (d.isoformat() for d in period)
        rows: list[dict[str, Any]] = []
        pages = client.iter_pages(endpoint.path, "results", {"from": _ymd(period[0]), "to": _ymd(period[1])})
        try:
            for page in pages:
                for record in page:  # no currency without rate permission (4.3): "" keeps the key whole
                    rows.append({"period_start": start, "period_end": end, **record,
                                 "currency": record.get("currency") or ""})
                if len(page) < PER_PAGE:
                    break  # the last page: no further request
                if not budget.take():
                    return None
        finally:
            pages.close()
        return rows

    def read() -> Iterator[list[dict[str, Any]]]:
        today = options.reports_today or pendulum.now("UTC").date()
        state = dlt.current.source_state().setdefault("resources", {}).setdefault(endpoint.table, {})
        if state.get(REPORTS_STATE_PERIOD) != options.reports_period:  # months done say nothing about years
            state[REPORTS_STATE_PERIOD], state[REPORTS_STATE_DONE] = options.reports_period, []
        done = set(state[REPORTS_STATE_DONE])
        every = periods(history_start(options, today), today, options.reports_period)
        work = every[:REPORTS_REREAD_PERIODS] + [p for p in every[REPORTS_REREAD_PERIODS:]
                                                 if p[0].isoformat() not in done]
        read_count = 0
        with guard.fails_the_run():
            try:
                for period in work:
                    rows = read_period(period)
                    if rows is None:
                        break
                    read_count += 1
                    if rows:
                        yield rows
                    if period[1] < today:  # read after it ended: an older period need not be read again
                        done.add(period[0].isoformat())
                        state[REPORTS_STATE_DONE] = sorted(done)
            except HarvestPermissionError as error:
                guard.skip([endpoint.table], error, endpoint.permission)
                return
        guard.report.pending(endpoint.table, len(work) - read_count)

    return dlt.resource(read, parallelized=True, **resource_hints(endpoint))()
