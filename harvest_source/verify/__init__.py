"""``harvest-dlt --verify``: prove the destination equals Harvest, without loading or changing anything.

Checks, one output line each: every top-level table's row count against Harvest's ``total_entries``;
per month since ``since`` and per client, project and user, the hours, billable hours and billable amount
of ``time_entries`` against Harvest's time reports, expense totals against the expense reports, and the
uninvoiced figures against the uninvoiced report (rounding rule: ``checks``). Exit code 0 when every
check matches, ``EXIT_DIFFERS`` (3) when one differs, 1 when it could not check (401, an outage, no
destination). A check the token may not read (403) is SKIP and does not change the exit code.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..client import HarvestClient, rate_limits
from ..destination import describe_destination, make_pipeline
from ..errors import HarvestConfigError, HarvestPermissionError
from ..oauth_settings import OAuthSettings
from ..run_types import RunSettings
from ..settings import DEFAULT_RATE_LIMIT_WINDOW_S, EXIT_DIFFERS
from . import harvest_side
from .checks import BREAKDOWNS, DIFF, SKIP, Check, Month, default_since, differences, months
from .output import EXIT_CODES, RULE, count_check, format_checks, missing_table_check, sum_check
from .warehouse import Warehouse

__all__ = ["EXIT_DIFFERS", "VerifyResult", "default_since", "format_result", "run_verify"]


@dataclass
class VerifyResult:
    checks: list[Check] = field(default_factory=list)
    since: dt.date | None = None
    until: dt.date | None = None
    destination: str = ""
    requests: int = 0  # HTTP requests sent, retries included
    report_requests: int = 0  # of which to the reports bucket
    wall_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return EXIT_DIFFERS if any(c.status == DIFF for c in self.checks) else 0


def make_client(settings: RunSettings, token: str | OAuthSettings, account_id: str, base_url: str,
                transport: httpx.BaseTransport | None = None) -> HarvestClient:
    """The loader's client, credentials (a token or an OAuth app) and pacing; ``source_options`` may
    shorten the windows (tests, the demo)."""
    options = settings.source_options
    general, reports = rate_limits(float(options.get("rate_limit_window_s", DEFAULT_RATE_LIMIT_WINDOW_S)))
    if "reports_rate_limit_window_s" in options:  # a test's knob: the reports window alone
        reports = (reports[0], float(options["reports_rate_limit_window_s"]))
    oauth = token if isinstance(token, OAuthSettings) else None
    return HarvestClient("" if oauth else token, account_id, base_url, transport=transport, oauth=oauth,
                         rate_limit=general, reports_rate_limit=reports)


def run_verify(settings: RunSettings, token: str | OAuthSettings, account_id: str, base_url: str, *,
               since: dt.date | None = None, until: dt.date | None = None,
               transport: httpx.BaseTransport | None = None) -> VerifyResult:
    """Every check; raises ``HarvestError`` when Harvest cannot be read, and the destination's own error
    when it cannot be (the command turns both into exit code 1)."""
    started = time.monotonic()
    until = until or dt.date.today()
    since = since or default_since(until)
    result = VerifyResult(since=since, until=until, destination=describe_destination(settings))
    if settings.destination == "duckdb" and not Path(settings.duckdb_file).is_file():
        raise HarvestConfigError(f"no DuckDB file {settings.duckdb_file}: nothing to verify",
                                 hint="load first (harvest-dlt), or point --duckdb-file at the loaded file")
    pipeline = make_pipeline(settings)
    with make_client(settings, token, account_id, base_url, transport) as client, pipeline.sql_client() as sql:
        warehouse = Warehouse(sql, account_id)
        if not warehouse.tables:
            raise HarvestConfigError(f"dataset {settings.dataset} holds no tables: nothing to verify",
                                     hint="load first (harvest-dlt), or name the loaded dataset with --dataset")
        result.checks += _counts(client, warehouse)
        before = client.stats.requests
        result.checks += _sums(client, warehouse, months(since, until))
        result.report_requests = client.stats.requests - before
        result.requests = client.stats.requests
    result.wall_s = time.monotonic() - started
    return result


def _counts(client: HarvestClient, warehouse: Warehouse) -> list[Check]:
    checks = []
    for endpoint in harvest_side.TOP_LEVEL:
        try:
            theirs = harvest_side.total_entries(client, endpoint)
        except HarvestPermissionError:
            checks.append(Check(f"rows {endpoint.table}", SKIP, f"the token may not read it ({endpoint.permission})"))
            continue
        if warehouse.has(endpoint.table):
            checks.append(count_check(endpoint.table, warehouse.count(endpoint.table), theirs))
        elif theirs:
            checks.append(missing_table_check(endpoint.table, theirs))
        else:
            checks.append(Check(f"rows {endpoint.table}", "OK", "empty in Harvest, not in the destination"))
    return checks


def _sums(client: HarvestClient, warehouse: Warehouse, periods: list[Month]) -> list[Check]:
    if not periods:
        return []
    checks = []
    for breakdown in BREAKDOWNS:
        mine = warehouse.monthly(breakdown, periods[0].start, periods[-1].end)
        for month in periods:
            try:
                theirs, names = harvest_side.report(client, breakdown, month)
            except HarvestPermissionError:
                checks.append(Check(f"{breakdown.label} {month.label}", SKIP,
                                    "the token may not read this report"))
                continue
            ours = mine.get((month.start.year, month.start.month), {})
            diffs = differences(ours, theirs, breakdown.metrics)
            checks.append(sum_check(breakdown, month, len(set(ours) | set(theirs)), diffs, names))
    return checks


def format_result(result: VerifyResult, account_id: Any) -> str:
    """The whole output: what was compared, the checks, the rule, the verdict and verify's own cost."""
    differ = sum(c.status == DIFF for c in result.checks)
    verdict = "every check matches" if not differ else f"{differ} of {len(result.checks)} checks differ"
    return "\n".join([
        f"verify: {result.destination} against Harvest account {account_id}, months {result.since} to "
        f"{result.until} (nothing is loaded or changed)",
        format_checks(result.checks),
        RULE,
        f"result: {verdict} (exit {result.exit_code}); {EXIT_CODES}",
        f"cost: {result.requests} requests ({result.report_requests} to the reports bucket, 100 per 15 min), "
        f"{result.wall_s:.1f} s",
    ])
