"""One load run, as the command line (and the benchmarks) do it: the runner only orchestrates.

It wraps ``pipeline.run`` with what an unattended scheduled load needs, each job in its own module:
build the pipeline (``destination``), finish or rewind what an earlier run left (``recovery``), refuse to
mix two Harvest accounts in one dataset, run, create the analyst views (``views``), watch for schema
drift (``drift``) and summarise, turning every failure into a message that says what to fix
(``summary``). What the run learned comes back as a ``RunResult`` (figures from the report's frozen
``RunOutcome``); ``run_load`` never raises for Harvest, config or pipeline errors.
"""

from __future__ import annotations

import logging
import time

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from . import check_resources, harvest_source
from .destination import describe_destination, file_format, make_pipeline, open_duckdb, row_counts, table_counts
from .drift import FieldWatch, describe_schema_changes, schema_columns
from .errors import HarvestConfigError, HarvestError
from .interrupts import marked_on_signal
from .oauth_settings import OAuthSettings
from .recovery import discard_failed_extract, finish_pending, forget_orphaned_state, guard_account
from .report import RunReport
from .run_types import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, RunResult, RunSettings
from .settings import ACCOUNT_ID_STATE_KEY, DEFAULT_BASE_URL
from .summary import INTERRUPTED, explain, format_summary, reason, root_cause
from .views import create_views, drop_views

log = logging.getLogger("harvest_source")

# Re-exported: the command line, the benchmarks and the tests import these from the runner.
# (``explain``/``root_cause`` keep their former private names for tests/test_cli.py.)
_explain, _root_cause = explain, root_cause
__all__ = [
    "EXIT_FAILED", "EXIT_OK", "EXIT_PARTIAL", "INTERRUPTED", "MissingCredentials", "RunResult", "RunSettings",
    "format_summary", "make_pipeline", "open_duckdb", "resolve_credentials", "run_load", "table_counts",
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
    """Run one load and report; never raises for Harvest, config or pipeline errors.

    ``report``: pass your own to poll ``report.outcome()`` while the run goes (live progress)."""
    report = report if report is not None else RunReport()
    with marked_on_signal(report):
        return _load(settings, access_token, account_id, base_url, report)


def _load(
    settings: RunSettings, access_token: str | OAuthSettings, account_id: str, base_url: str, report: RunReport
) -> RunResult:
    started = time.monotonic()
    result = RunResult(exit_code=EXIT_FAILED)
    duckdb_connection = pipeline = None
    try:
        resources = check_resources(list(settings.resources)) if settings.resources else None
        # built before anything touches the destination: a bad setting fails here, with no I/O done
        source = harvest_source(
            **credential_options(access_token), account_id=account_id, base_url=base_url,
            start_date=settings.start_date, force_sweep=settings.force_sweep, strict=settings.strict, report=report,
            **settings.source_options,
        )
        if resources:
            source = source.with_resources(*resources)
        duckdb_connection = open_duckdb(settings)
        pipeline = make_pipeline(settings, duckdb_connection)
        result.destination = describe_destination(settings)
        result.recovered = finish_pending(pipeline, lambda: table_counts(pipeline))
        forget_orphaned_state(pipeline)
        guard_account(pipeline, str(account_id).strip(), settings.full_refresh, ACCOUNT_ID_STATE_KEY)
        before = {} if settings.full_refresh else table_counts(pipeline)
        columns_before = {} if settings.full_refresh else schema_columns(pipeline)
        fields = FieldWatch()
        fields.sample(pipeline, columns_before)
        fields.watch(source)
        if settings.full_refresh:
            drop_views(pipeline)  # dlt drops tables without CASCADE; PostgreSQL refuses while views use them
        pipeline.run(
            source,
            loader_file_format=file_format(pipeline),
            refresh="drop_sources" if settings.full_refresh else None,
        )
        result.rows = row_counts(pipeline)
        result.views = create_views(pipeline, not_created=result.views_not_created)
        after = table_counts(pipeline, list(result.rows))
        result.new_rows = {t: after[t] - before.get(t, 0) for t in result.rows if t in after}
        result.schema_changes = describe_schema_changes(columns_before, schema_columns(pipeline))
        result.schema_changes += fields.gone()
        result.exit_code = EXIT_PARTIAL if report.outcome().skipped else EXIT_OK
    except (HarvestError, ConfigFieldMissingException) as error:
        result.error = reason(error, report.outcome())
        _clean_up_after_failure(pipeline)
    except Exception as error:  # the top of a CLI run: a message, the traceback only with -v
        log.debug("run failed", exc_info=True)
        result.error = reason(error, report.outcome())
        _clean_up_after_failure(pipeline)
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, see the CLI) outside dlt's own signal handling
        result.error = INTERRUPTED
        _clean_up_after_failure(pipeline)
    finally:
        report.stop.set()  # the run is over: a thread still retrying or waiting gives up now
        if duckdb_connection is not None:
            duckdb_connection.close()
        result.duration_s = time.monotonic() - started
        outcome = report.outcome()
        result.skipped = dict(outcome.skipped)
        result.stats = dict(outcome.stats)
        result.requests, result.retries, result.throttled = outcome.requests, outcome.retries, outcome.throttled
        result.reports_pending = outcome.reports_pending
    return result


def credential_options(credentials: str | OAuthSettings) -> dict[str, str | None]:
    """``harvest_source()``'s credential arguments for a Personal Access Token or an OAuth app."""
    if isinstance(credentials, OAuthSettings):
        return {"access_token": None, "client_id": credentials.client_id, "client_secret": credentials.client_secret,
                "refresh_token": credentials.refresh_token, "id_url": credentials.id_url,
                "token_dir": credentials.token_dir}
    return {"access_token": credentials}


def _clean_up_after_failure(pipeline: dlt.Pipeline | None) -> None:
    """A failed run (not a killed one) leaves nothing the next run would take for a kill's leftovers."""
    if pipeline is None:
        return
    try:
        discard_failed_extract(pipeline)
    except Exception:  # a clean-up nicety: the run's own error is what the user must see
        log.debug("could not remove this run's unfinished extract", exc_info=True)
