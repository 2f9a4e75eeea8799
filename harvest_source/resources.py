"""Build dlt resources from the endpoint catalog: the wiring, one row at a time.

Three shapes, all read from ``catalog.ENDPOINTS`` (each kind's rules from ``rules``):

* a plain list or single object (``plain``): one resource, ``dlt.sources.incremental`` on ``updated_at``
  sent as ``updated_since`` (or a whole reload for rows without it); a first load may append
  (``first_load``);
* a fan-out parent with its children (``families``): a hidden listing resource whose pages feed the
  parent's own table and a transformer per child, which asks Harvest for the children of the parents
  its ``ListingWindow`` says can have changed, many parents at a time (``gather``).

* a report over a date window (``report_tables``): one resource per report, read period by period within
  the run's reports budget.

Errors go through one ``RunGuard`` (``skips``): a 403 skips, anything else fails the run. Every table's
rows get the account's ``account_id`` (``account_column``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dlt.sources import DltResource

from .account_column import account_number, stamp
from .catalog import ENDPOINTS, Kind, children_of
from .client import HarvestClient
from .families import family_resources
from .first_load import FirstLoads
from .gather import GatherPool
from .plain import plain_resource
from .report import RunReport
from .report_tables import ReportBudget, report_resource
from .rules import appendable_tables, report_windowed
from .settings import DEFAULT_REPORTS_PERIOD, DEFAULT_VERIFY_DAYS
from .skips import RunGuard


@dataclass(frozen=True)
class Options:
    """Run settings the resources need (already validated by the source)."""

    start: str | None  # ISO lower bound for the first run, None = everything
    lookback_s: float
    sweep_interval_h: float
    force_sweep: bool
    strict: bool
    concurrency: int
    arrow: bool = True  # decode flat tables into arrow tables (arrow_pages); False: dicts everywhere
    reports_period: str = DEFAULT_REPORTS_PERIOD  # month | year (report_tables)
    reports_start: date | None = None  # first report period's day; None: start_date, else months back
    reports_today: date | None = None  # the day the current report period holds; None: today (UTC)
    verify_days: float = DEFAULT_VERIFY_DAYS  # a parent that is not live has its children re-read this often
    sweep_now: str | None = None  # the moment the sweeps' schedule takes as now (tests, benchmarks); None: the clock


def build_resources(client: HarvestClient, report: RunReport, options: Options) -> list[DltResource]:
    """Every catalog row as resources sharing one client, error guard, gather pool and first-load check."""
    guard = RunGuard(report, options.strict)
    plan = report.deletions
    pool = GatherPool(client, options.concurrency, guard, on_read=plan.children_read if plan is not None else None)
    first_loads = FirstLoads(appendable_tables(), account_number(client.account_id))
    budget = ReportBudget(client)
    resources: list[DltResource] = []
    for endpoint in ENDPOINTS:
        if endpoint.kind is Kind.CHILD:
            continue  # built with its parent's family
        if report_windowed(endpoint):
            resources.append(report_resource(endpoint, client, guard, budget, options))
            continue
        children = children_of(endpoint.table)
        if children:
            resources.extend(family_resources(endpoint, children, client, guard, pool, options))
        else:
            resources.append(plain_resource(endpoint, client, guard, first_loads, options))
    add_account = stamp(client.account_id)
    for resource in resources:
        if resource.selected:  # a table (the hidden listings feed tables; they are none)
            resource.add_map(add_account)
    return resources
