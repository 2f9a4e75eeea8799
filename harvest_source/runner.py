"""One load run, as the command line (and the benchmarks) do it: the runner only orchestrates.

It picks the accounts (``accounts``: an id, a list, or ``all`` from Harvest ID's listing), rebuilds the
dataset on ``--full-refresh``, loads each account with its own pipeline (``account_run``: recovery, drift
watch, the run), several at once, each under its own rate limits, then creates the analyst views
(``views``) once and sums up (``summary``). One account's failure never stops or rolls back another's:
exit 0 when every account loaded everything, 2 when some loaded and others (or some tables) did not, 1
when none did. What the run learned comes back as a ``RunResult`` (one per account in ``accounts`` when
there are several); ``run_load`` never raises for Harvest, config or pipeline errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dlt

from .account_run import credential_options, load_account
from .accounts import ALL, Discovered, discover_accounts, parse_account_setting
from .destination import drop_dataset, make_pipeline, open_duckdb, table_counts
from .errors import HarvestConfigError, HarvestError
from .interrupts import marked_on_signal
from .oauth_settings import OAuthSettings
from .report import RunReport
from .run_types import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, RunResult, RunSettings
from .settings import DEFAULT_BASE_URL, DEFAULT_ID_URL, DEFAULT_USER_AGENT
from .summary import INTERRUPTED, explain, format_summary, reason, root_cause
from .views import create_views

log = logging.getLogger("harvest_source")

# Re-exported: the command line, the benchmarks and the tests import these from the runner.
# (``explain``/``root_cause`` keep their former private names for tests/test_cli.py.)
_explain, _root_cause = explain, root_cause
__all__ = [
    "EXIT_FAILED", "EXIT_OK", "EXIT_PARTIAL", "INTERRUPTED", "MissingCredentials", "RunResult", "RunSettings",
    "credential_options", "format_summary", "make_pipeline", "open_duckdb", "resolve_credentials", "run_load",
    "table_counts",
]


class MissingCredentials(HarvestConfigError):
    """No access token or account id in dlt config. Its text is the message alone: whoever prints it
    adds the hint on its own line (``what to do:``), so the hint is never printed twice."""

    def __str__(self) -> str:
        return self.message


def resolve_credentials() -> tuple[str | OAuthSettings, str, str]:
    """Credentials, account id and base URL from dlt config (secrets.toml or env vars).

    The credentials are ``access_token`` (a Personal Access Token) or, without one, an OAuth app
    (``client_id`` + ``client_secret`` + ``refresh_token``, or the token ``--authorize`` stored)."""
    token = dlt.secrets.get("sources.harvest.access_token")
    account = dlt.secrets.get("sources.harvest.account_id") or dlt.config.get("sources.harvest.account_id")
    base_url = dlt.config.get("sources.harvest.base_url") or DEFAULT_BASE_URL
    client_id = dlt.secrets.get("sources.harvest.client_id")
    credentials: str | OAuthSettings | None = str(token) if token else None
    if not token and client_id:
        credentials = oauth_from_config()
    missing = [name for name, value in (("access_token", credentials), ("account_id", account)) if not value]
    if missing:
        raise MissingCredentials(
            "missing Harvest setting(s) " + ", ".join(missing),
            hint="put them in .dlt/secrets.toml under [sources.harvest] or set "
            + " and ".join(f"SOURCES__HARVEST__{m.upper()}" for m in missing)
            + " (a Personal Access Token from https://id.getharvest.com/developers, or an OAuth app's "
            "client_id, client_secret and refresh_token), or try --demo",
        )
    assert credentials is not None
    return credentials, str(account), str(base_url)


def oauth_from_config(need_token: bool = True) -> OAuthSettings:
    """The OAuth app's settings under ``[sources.harvest]`` (checked: it raises what is missing)."""
    return OAuthSettings.from_values(
        dlt.secrets.get("sources.harvest.client_id"), dlt.secrets.get("sources.harvest.client_secret"),
        dlt.secrets.get("sources.harvest.refresh_token"),
        dlt.config.get("sources.harvest.id_url") or dlt.secrets.get("sources.harvest.id_url"),
        dlt.config.get("sources.harvest.token_dir"), need_token=need_token,
    )


def run_load(
    settings: RunSettings, access_token: str | OAuthSettings, account_id: str, base_url: str,
    report: RunReport | None = None,
) -> RunResult:
    """Load every account ``account_id`` names (an id, ``"1,2"`` or ``"all"``) and report; never raises for
    Harvest, config or pipeline errors.

    ``report``: pass your own to poll ``report.outcome()`` while the run goes (live progress); with several
    accounts it receives the first account's figures."""
    report = report if report is not None else RunReport()
    started = time.monotonic()
    with marked_on_signal(report):
        try:
            chosen = choose_accounts(account_id, access_token, settings)
        except HarvestError as error:
            return RunResult(exit_code=EXIT_FAILED, error=explain(error), duration_s=time.monotonic() - started)
        result = _load(settings, access_token, chosen.harvest, base_url, report)
    result.accounts_skipped = dict(chosen.skipped)
    result.duration_s = time.monotonic() - started
    return result


def choose_accounts(setting: str, credentials: str | OAuthSettings, settings: RunSettings) -> Discovered:
    """The accounts to load: the ids listed, or (``all``) every Harvest account Harvest ID lists."""
    parsed = parse_account_setting(setting)
    if parsed != ALL:
        return Discovered(harvest=list(parsed))
    user_agent = str(settings.source_options.get("user_agent") or DEFAULT_USER_AGENT)
    if isinstance(credentials, OAuthSettings):
        auth = credentials.auth("0", user_agent=user_agent)
        try:
            return discover_accounts(auth.access_token, credentials.id_url, user_agent=user_agent, redact=auth.redact)
        finally:
            auth.close()
    id_url = settings.source_options.get("id_url") or dlt.config.get("sources.harvest.id_url") or DEFAULT_ID_URL
    token = str(credentials)
    return discover_accounts(lambda: token, str(id_url), user_agent=user_agent,
                             redact=lambda text: text.replace(token, "***"))


def _load(settings: RunSettings, credentials: str | OAuthSettings, account_ids: list[str], base_url: str,
          report: RunReport) -> RunResult:
    duckdb_connection = None
    pipelines: list[dlt.Pipeline] = []
    results: list[RunResult] = []
    try:
        duckdb_connection = open_duckdb(settings)
        refresh = None
        if settings.full_refresh and not drop_dataset(settings, duckdb_connection):
            if len(account_ids) > 1:
                raise HarvestConfigError(
                    f"--full-refresh with several accounts needs a SQL destination, not {settings.destination}",
                    hint="delete the dataset's folder (or bucket prefix) and run again without --full-refresh")
            refresh = "drop_sources"  # files: dlt drops the tables of this account's pipeline
        reports = [report, *(RunReport() for _ in account_ids[1:])]
        turn = threading.Lock()
        connections = account_connections(duckdb_connection, len(account_ids))

        def one(index: int) -> tuple[RunResult, dlt.Pipeline | None]:
            return load_account(settings, credentials, account_ids[index], base_url, reports[index],
                                connections[index], turn if len(account_ids) > 1 else None, refresh)

        for result, pipeline in _each(one, len(account_ids), settings.account_concurrency, reports):
            results.append(result)
            if pipeline is not None and result.exit_code != EXIT_FAILED:
                pipelines.append(pipeline)
        combined = results[0] if len(results) == 1 else combine(results)
        if pipelines:
            combined.views = create_views(pipelines[-1], not_created=combined.views_not_created)
        return combined
    except HarvestError as error:
        return RunResult(exit_code=EXIT_FAILED, error=explain(error), accounts=results)
    except Exception as error:
        log.debug("run failed", exc_info=True)
        return RunResult(exit_code=EXIT_FAILED, error=reason(error, report.outcome()), accounts=results)
    except KeyboardInterrupt:
        return RunResult(exit_code=EXIT_FAILED, error=INTERRUPTED, accounts=results)
    finally:
        if duckdb_connection is not None:
            duckdb_connection.close()  # closes the accounts' cursors with it


def account_connections(duckdb_connection: Any, count: int) -> list[Any]:
    """One connection per account to the run's DuckDB database: a cursor of the held one (same database,
    no re-open). Accounts read their counts and schema outside their load turn, and dlt sets up each
    pipeline's connection pool on the connection it is given: one connection shared by several threads
    fails with DuckDB's "connection is busy with another call"."""
    if duckdb_connection is None or count == 1:
        return [duckdb_connection] * count
    return [duckdb_connection.cursor() for _ in range(count)]


def _each(run_one: Callable[[int], tuple[RunResult, dlt.Pipeline | None]], count: int, concurrency: int,
          reports: list[RunReport]) -> list[tuple[RunResult, dlt.Pipeline | None]]:
    """``run_one`` for every account index, ``concurrency`` at a time, in the accounts' order. One account
    runs in this thread (signals, dlt's context); on Ctrl-C every account stops at its next check."""
    if count == 1:
        return [run_one(0)]
    pool = ThreadPoolExecutor(max(1, min(count, concurrency)), thread_name_prefix="harvest-account")
    futures = [pool.submit(run_one, index) for index in range(count)]
    try:
        return [future.result() for future in futures]
    except KeyboardInterrupt:
        for account_report in reports:
            account_report.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def combine(results: list[RunResult]) -> RunResult:
    """The run's figures over every account: rows and requests summed; exit 0 when every account loaded
    everything, 2 when some did (or some tables were skipped), 1 when none loaded."""
    loaded = [r for r in results if r.exit_code != EXIT_FAILED]
    if len(loaded) == len(results):
        exit_code = EXIT_PARTIAL if any(r.exit_code == EXIT_PARTIAL for r in results) else EXIT_OK
    else:
        exit_code = EXIT_PARTIAL if loaded else EXIT_FAILED
    total = RunResult(exit_code=exit_code, accounts=list(results))
    for result in results:
        for table, rows in result.rows.items():
            total.rows[table] = total.rows.get(table, 0) + rows
        for table, rows in result.new_rows.items():
            total.new_rows[table] = total.new_rows.get(table, 0) + rows
        for table, rows in result.recovered.items():
            total.recovered[table] = total.recovered.get(table, 0) + rows
        total.requests += result.requests
        total.retries += result.retries
        total.throttled += result.throttled
        total.reports_pending += result.reports_pending
        for table, rows in result.deleted.items():
            total.deleted[table] = total.deleted.get(table, 0) + rows
        total.deletion_warnings.update({f"{table} (account {result.account_id})": why
                                        for table, why in result.deletion_warnings.items()})
        total.deletes = result.deletes if total.deletes == "off" else total.deletes
        total.skipped.update({f"{table} (account {result.account_id})": why for table, why in result.skipped.items()})
        total.schema_changes += [c for c in result.schema_changes if c not in total.schema_changes]
        total.destination = total.destination or result.destination
    total.rows = dict(sorted(total.rows.items()))
    failed = [r for r in results if r.exit_code == EXIT_FAILED]
    if failed:
        total.error = "\n".join(f"account {r.account_id}: {r.error}" for r in failed)
    return total
