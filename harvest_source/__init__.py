"""harvest_source: Harvest API v2 as an incremental dlt source.

``harvest_source()`` reads its settings from dlt config (section ``sources.harvest``),
builds one ``HarvestClient`` and turns the endpoint catalog into resources. It does no
I/O itself: requests start when the pipeline extracts. Every data decision is made here,
at extract time (first loads append: ``first_load``), so ``dlt.pipeline(...).run(harvest_source())``
loads what the command line loads.
"""

from __future__ import annotations

from collections.abc import Sequence

import dlt
import httpx
import pendulum
from dlt.sources import DltResource

from .catalog import ENDPOINTS, TABLES
from .client import HarvestClient, rate_limits
from .deletion_pass import DeletionPlan
from .deletions import parse_deletes
from .errors import HarvestConfigError, HarvestError
from .listing_window import iso
from .oauth_settings import OAuthSettings
from .report import RunReport
from .report_tables import check_period, parse_day
from .resources import Options, build_resources
from .settings import (
    DEFAULT_BACKOFF_BASE_S,
    DEFAULT_BACKOFF_CAP_S,
    DEFAULT_BASE_URL,
    DEFAULT_CONCURRENCY,
    DEFAULT_DELETES,
    DEFAULT_ID_URL,
    DEFAULT_LOOKBACK_SECONDS,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RETRY_WAIT_S,
    DEFAULT_RATE_LIMIT_WINDOW_S,
    DEFAULT_REPORTS_PERIOD,
    DEFAULT_SWEEP_INTERVAL_HOURS,
    DEFAULT_TIMEOUT_S,
    DEFAULT_USER_AGENT,
    DEFAULT_VERIFY_DAYS,
)

__all__ = ["ENDPOINTS", "TABLES", "HarvestClient", "HarvestError", "RunReport", "harvest_source",
           "parse_start_date"]


def parse_start_date(value: str | None, name: str = "start_date") -> str | None:
    """``YYYY-MM-DD`` (or a full ISO timestamp) as Harvest's ``updated_since`` format."""
    if value in (None, ""):
        return None
    try:
        moment = pendulum.parse(str(value), tz="UTC")
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        moment = None
    if not isinstance(moment, pendulum.DateTime | pendulum.Date):
        raise HarvestConfigError(
            f"{name} {value!r} is not a date: use YYYY-MM-DD, e.g. 2024-01-31",
            hint=f"set sources.harvest.{name}" + (" / --start-date" if name == "start_date" else "") + " to YYYY-MM-DD",
        )
    if isinstance(moment, pendulum.Date) and not isinstance(moment, pendulum.DateTime):
        moment = pendulum.datetime(moment.year, moment.month, moment.day, tz="UTC")
    return iso(moment)


def _positive(value: float | str, name: str) -> float:
    """A number of days or hours that must be above zero (a rotation cycle)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not number > 0:
        raise HarvestConfigError(f"{name} {value!r} is not a positive number",
                                 hint=f"set sources.harvest.{name} to a number above 0 (default: 7 days)")
    return number


def check_resources(names: Sequence[str]) -> list[str]:
    """Validate table names the user asked for; the error lists the valid ones."""
    unknown = [n for n in names if n not in TABLES]
    if unknown:
        raise HarvestConfigError(
            f"unknown resource(s): {', '.join(unknown)}. Valid resources: {', '.join(TABLES)}",
            hint="fix --resources",
        )
    return list(names)


@dlt.source(name="harvest", section="harvest", max_table_nesting=2, root_key=True)
def harvest_source(
    access_token: str | None = dlt.secrets.value,
    account_id: str = dlt.secrets.value,
    client_id: str | None = dlt.secrets.value,
    client_secret: str | None = dlt.secrets.value,
    refresh_token: str | None = dlt.secrets.value,
    id_url: str = DEFAULT_ID_URL,
    token_dir: str | None = None,
    base_url: str = DEFAULT_BASE_URL,
    user_agent: str = DEFAULT_USER_AGENT,
    start_date: str | None = None,
    lookback_seconds: float = DEFAULT_LOOKBACK_SECONDS,
    sweep_interval_hours: float = DEFAULT_SWEEP_INTERVAL_HOURS,
    verify_days: float = DEFAULT_VERIFY_DAYS,
    sweep_now: str | None = None,
    force_sweep: bool = False,
    strict: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    rate_limit_window_s: float = DEFAULT_RATE_LIMIT_WINDOW_S,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
    backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S,
    arrow: bool = True,
    reports_period: str = DEFAULT_REPORTS_PERIOD,
    reports_start_date: str | None = None,
    reports_today: str | None = None,
    deletes: str = DEFAULT_DELETES,
    report: RunReport | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[DltResource]:
    """Every Harvest list endpoint as a dlt resource (tables named like Harvest's records keys).

    ``report`` (a ``RunReport``, one per run: its stop signal ends the client's requests once the run
    fails) receives skipped resources and the client's request stats;
    Credentials: ``access_token`` (a Personal Access Token), or an OAuth app's ``client_id`` and
    ``client_secret`` with a ``refresh_token`` (or the one ``harvest-dlt --authorize`` stored in
    ``token_dir``): access tokens are then obtained from ``id_url`` and refreshed as they expire.
    ``transport`` (an ``httpx`` transport) is for tests. ``arrow`` (default on) decodes the pages of
    flat tables (time entries, expenses, ...) straight into arrow tables: same tables, far less CPU.
    ``start_date`` bounds the dated facts only (time, expenses, invoices, estimates, their children, report
    periods); dimensions load whole. Reports (``report_tables``): ``reports_period`` month|year, history from
    ``reports_start_date`` (default: ``start_date``, else three months back), ``reports_today`` (tests,
    backfills) the day whose period is current. The reports bucket's window scales with
    ``rate_limit_window_s`` (900 s at Harvest's 15 s).
    Children whose parent did not change are re-read by a rotation (``rotation``): a live parent's within
    ``sweep_interval_hours``, every other one's within ``verify_days``; ``sweep_now`` (tests, benchmarks)
    is the moment that schedule takes as now.
    ``deletes`` hard (default) | soft | off: what the deletion pass after the load (``deletion_pass``, run by
    the runner) does with rows Harvest no longer returns; a bad value fails here, before any request.
    """
    report = report if report is not None else RunReport()
    mode = parse_deletes(deletes)
    oauth = None
    if not access_token and (client_id or client_secret):
        oauth = OAuthSettings.from_values(client_id, client_secret, refresh_token, id_url, token_dir)
    elif access_token is None:  # dlt cannot say "one of two": the either/or is checked here
        raise HarvestConfigError(
            "missing Harvest setting(s) access_token",
            hint="set SOURCES__HARVEST__ACCESS_TOKEN (or .dlt/secrets.toml [sources.harvest]), or an OAuth app's "
                 "client_id and client_secret (README: Connecting with OAuth2), or try --demo",
        )
    general, reports = rate_limits(float(rate_limit_window_s))
    client = HarvestClient(
        access_token, account_id, base_url, oauth=oauth, user_agent=user_agent, transport=transport,
        timeout_s=float(timeout_s), max_attempts=int(max_attempts), max_retry_wait_s=float(max_retry_wait_s),
        backoff_base_s=float(backoff_base_s), backoff_cap_s=float(backoff_cap_s),
        rate_limit=general, reports_rate_limit=reports,
        max_connections=max(16, int(concurrency) * 2),
        stop=report.stop,
    )
    report.client_stats = client.stats
    report.deletions = None if mode == "off" else DeletionPlan(
        mode, client, start=parse_start_date(start_date), force_sweep=bool(force_sweep),
        sweep_interval_h=float(sweep_interval_hours))
    options = Options(
        start=parse_start_date(start_date),
        lookback_s=float(lookback_seconds),
        sweep_interval_h=float(sweep_interval_hours),
        force_sweep=bool(force_sweep),
        strict=bool(strict),
        concurrency=max(1, int(concurrency)),
        arrow=bool(arrow),
        reports_period=check_period(str(reports_period)),
        reports_start=parse_day(reports_start_date, "reports_start_date"),
        reports_today=parse_day(reports_today, "reports_today"),
        verify_days=_positive(verify_days, "verify_days"),
        sweep_now=parse_start_date(sweep_now, "sweep_now"),
    )
    return build_resources(client, report, options)
