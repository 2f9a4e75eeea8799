"""One account's load: its own dlt pipeline, from recovery to the rows it added. ``runner`` runs one or many.

Each account has its own pipeline (``account_pipeline_name``: its cursors, state and working folder)
loading into the shared dataset. Accounts extract and normalize at the same time; their load steps
take turns (``load_turn``, a lock): they share the staging dataset and the tables' DDL, and DuckDB
allows one writer. A failure stays in its account: its package is rewound or left for its next run,
the other accounts' loads are untouched.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException

from . import check_resources, harvest_source
from .account_column import account_number
from .catalog import TABLES
from .deletion_pass import run_deletion_pass
from .destination import describe_destination, file_format, make_pipeline, table_counts
from .drift import FieldWatch, describe_schema_changes, schema_columns
from .errors import HarvestError
from .oauth_settings import OAuthSettings
from .recovery import discard_failed_extract, finish_pending, forget_orphaned_state, refuse_single_account_layout
from .report import RunReport
from .run_types import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, RunResult, RunSettings, account_pipeline_name
from .summary import INTERRUPTED, reason
from .table_format import with_table_format

log = logging.getLogger("harvest_source")


def load_account(
    settings: RunSettings, credentials: str | OAuthSettings, account_id: str, base_url: str, report: RunReport,
    duckdb_connection: Any = None, load_turn: threading.Lock | None = None, refresh: str | None = None,
) -> tuple[RunResult, dlt.Pipeline | None]:
    """Load one account; never raises for Harvest, config or pipeline errors.

    ``refresh``: dlt's ``refresh`` for this run (``drop_sources`` for a full refresh where the runner could
    not drop the dataset itself). Returns the result and the pipeline (for the views), None if not built."""
    result = RunResult(exit_code=EXIT_FAILED, account_id=account_id)
    turn: AbstractContextManager[Any] = load_turn if load_turn is not None else nullcontext()
    pipeline = None
    try:
        resources = check_resources(list(settings.resources)) if settings.resources else None
        # built before anything touches the destination: a bad setting fails here, with no I/O done
        options = {**settings.source_options, **credential_options(credentials)}  # an OAuth app's id_url wins
        source = harvest_source(
            account_id=account_id, base_url=base_url, start_date=settings.start_date,
            force_sweep=settings.force_sweep, strict=settings.strict, report=report, **options,
        )
        if resources:
            source = source.with_resources(*resources)
        source = with_table_format(source, settings.table_format)
        pipeline = make_pipeline(settings, duckdb_connection, name=account_pipeline_name(settings.pipeline_name,
                                                                                         account_id))
        result.destination = describe_destination(settings)
        with turn:
            result.recovered = finish_pending(pipeline, lambda: table_counts(pipeline, account_id=account_id))
        forget_orphaned_state(pipeline)
        if refresh is None:
            refuse_single_account_layout(pipeline, list(TABLES))
        before = {} if refresh else table_counts(pipeline, account_id=account_id)
        columns_before = {} if refresh else schema_columns(pipeline)
        fields = FieldWatch()
        fields.sample(pipeline, columns_before)
        fields.watch(source)
        rows, load_ids = _run_steps(pipeline, source, refresh, turn)
        # after the load: the warehouse it compares with holds this run's rows (deletion_pass)
        deletions = run_deletion_pass(pipeline, account_number(account_id), report.deletions,
                                      selected=list(source.selected_resources),
                                      skipped=list(report.outcome().skipped), turn=turn, this_run=load_ids)
        result.deleted, result.deletion_warnings = dict(sorted(deletions.deleted.items())), dict(deletions.warnings)
        result.deletes = deletions.mode
        result.rows = {t: n for t, n in sorted(rows.items()) if not t.startswith("_dlt")}
        after = table_counts(pipeline, list(result.rows), account_id=account_id)
        result.new_rows = {t: after[t] - before.get(t, 0) for t in result.rows if t in after}
        result.schema_changes = describe_schema_changes(columns_before, schema_columns(pipeline))
        result.schema_changes += fields.gone()
        result.exit_code = EXIT_PARTIAL if report.outcome().skipped else EXIT_OK
    except (HarvestError, ConfigFieldMissingException) as error:
        result.error = reason(error, report.outcome())
        _clean_up_after_failure(pipeline)
    except Exception as error:  # the top of a CLI run: a message, the traceback only with -v
        log.debug("account %s: run failed", account_id, exc_info=True)
        result.error = reason(error, report.outcome())
        _clean_up_after_failure(pipeline)
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, see the CLI) outside dlt's own signal handling
        result.error = INTERRUPTED
        _clean_up_after_failure(pipeline)
    finally:
        report.stop.set()  # the run is over: a thread still retrying or waiting gives up now
        outcome = report.outcome()
        result.skipped = dict(outcome.skipped)
        result.stats = dict(outcome.stats)
        result.requests, result.retries, result.throttled = outcome.requests, outcome.retries, outcome.throttled
        result.reports_pending = outcome.reports_pending
    return result, pipeline


def _run_steps(pipeline: dlt.Pipeline, source: Any, refresh: str | None,
               turn: AbstractContextManager[Any]) -> tuple[dict[str, int], list[str]]:
    """``pipeline.run`` step by step, so that only the load waits for its turn; the rows normalized per table
    and the ids of the loads this run made."""
    pipeline.activate()
    if pipeline.config.restore_from_destination:
        with turn:  # what run() does first: a lost working folder gets its state back from the destination
            pipeline.sync_destination()
    pipeline.extract(source, refresh=refresh, loader_file_format=file_format(pipeline))
    info = pipeline.normalize()
    with turn:
        loaded = pipeline.load()
    return (dict(info.row_counts) if info is not None else {}), list(getattr(loaded, "loads_ids", None) or [])


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


__all__ = ["credential_options", "load_account"]
