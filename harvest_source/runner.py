"""One load run, as the command line (and the benchmarks) do it.

It wraps ``pipeline.run`` with what an unattended scheduled load needs: finish a load
left pending by a crashed run before extracting anew, forget local state whose
destination is gone (the DuckDB file was deleted), refuse to mix two Harvest accounts in
one dataset, and turn every failure into a message that says what to fix.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.pipeline.exceptions import PipelineStepFailed

from . import check_resources, harvest_source, parse_start_date
from .errors import HarvestConfigError, HarvestError
from .report import RunReport
from .settings import DATASET_NAME, DUCKDB_FILE, PIPELINE_NAME

log = logging.getLogger("harvest_source")

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 2


@dataclass
class RunSettings:
    """What to load and where; the command line's flags."""

    destination: str = "duckdb"
    dataset: str = DATASET_NAME
    pipeline_name: str = PIPELINE_NAME
    duckdb_file: str = DUCKDB_FILE
    resources: Sequence[str] | None = None
    full_refresh: bool = False
    start_date: str | None = None
    force_sweep: bool = False
    strict: bool = False
    progress: bool = False
    pipelines_dir: str | None = None
    source_options: dict[str, Any] = field(default_factory=dict)  # extra harvest_source arguments


@dataclass
class RunResult:
    """The outcome and the figures a summary shows."""

    exit_code: int
    rows: dict[str, int] = field(default_factory=dict)  # rows loaded per table
    new_rows: dict[str, int] = field(default_factory=dict)  # net rows added per table
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    destination: str = ""
    error: str | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    schema_changes: list[str] = field(default_factory=list)


def make_pipeline(settings: RunSettings) -> dlt.Pipeline:
    """The pipeline, with DuckDB at a stable path (never a path remembered from a past run)."""
    destination: Any = settings.destination
    if settings.destination == "duckdb":
        destination = dlt.destinations.duckdb(settings.duckdb_file)
    kwargs: dict[str, Any] = {}
    if settings.pipelines_dir:
        kwargs["pipelines_dir"] = settings.pipelines_dir
    return dlt.pipeline(
        pipeline_name=settings.pipeline_name,
        destination=destination,
        dataset_name=settings.dataset,
        progress="log" if settings.progress else None,
        **kwargs,
    )


def resolve_credentials() -> tuple[str, str, str]:
    """Token, account id and base URL from dlt config (secrets.toml or env vars)."""
    token = dlt.secrets.get("sources.harvest.access_token")
    account = dlt.secrets.get("sources.harvest.account_id") or dlt.config.get("sources.harvest.account_id")
    base_url = dlt.config.get("sources.harvest.base_url") or "https://api.harvestapp.com/v2"
    missing = [name for name, value in (("access_token", token), ("account_id", account)) if not value]
    if missing:
        raise HarvestConfigError(
            "missing Harvest setting(s): " + ", ".join(missing),
            hint="put them in .dlt/secrets.toml under [sources.harvest] or set "
            + ", ".join(f"SOURCES__HARVEST__{m.upper()}" for m in missing)
            + " (a Personal Access Token from https://id.getharvest.com/developers), or try --demo",
        )
    return str(token), str(account), str(base_url)


def run_load(settings: RunSettings, access_token: str, account_id: str, base_url: str) -> RunResult:
    """Run one load and report; never raises for Harvest, config or pipeline errors."""
    started = time.monotonic()
    report = RunReport()
    result = RunResult(exit_code=EXIT_FAILED)
    try:
        resources = check_resources(list(settings.resources)) if settings.resources else None
        start = parse_start_date(settings.start_date)
        pipeline = make_pipeline(settings)
        result.destination = describe_destination(pipeline, settings)
        _finish_pending(pipeline)
        _forget_orphaned_state(pipeline)
        _guard_account(pipeline, str(account_id).strip(), settings.full_refresh)
        before = {} if settings.full_refresh else table_counts(pipeline)
        columns_before = {} if settings.full_refresh else schema_columns(pipeline)
        source = harvest_source(
            access_token=access_token, account_id=account_id, base_url=base_url, start_date=start,
            force_sweep=settings.force_sweep, strict=settings.strict, report=report,
            **settings.source_options,
        )
        if resources:
            source = source.with_resources(*resources)
        pipeline.run(
            source,
            loader_file_format=_file_format(pipeline),
            refresh="drop_sources" if settings.full_refresh else None,
        )
        result.rows = _row_counts(pipeline)
        after = table_counts(pipeline, list(result.rows))
        result.new_rows = {t: after[t] - before.get(t, 0) for t in result.rows if t in after}
        result.schema_changes = describe_schema_changes(columns_before, schema_columns(pipeline))
        result.exit_code = EXIT_PARTIAL if report.skipped else EXIT_OK
    except (HarvestError, ConfigFieldMissingException) as error:
        result.error = _explain(error)
    except Exception as error:  # the top of a CLI run: a message, the traceback only with -v
        log.debug("run failed", exc_info=True)
        result.error = _explain(_root_cause(error))
    finally:
        result.duration_s = time.monotonic() - started
        result.skipped = dict(report.skipped)
        if report.client_stats is not None:
            stats = report.client_stats.snapshot()
            result.stats = stats
            result.requests = int(stats.get("requests", 0))
            result.retries = int(stats.get("retries", 0))
            result.throttled = int(stats.get("throttled", 0))
    return result


def _finish_pending(pipeline: dlt.Pipeline) -> None:
    """A crashed run may leave an extracted package: load it first, its cursors match it."""
    if pipeline.has_pending_data:
        log.warning("Finishing a load left pending by an earlier run before extracting new data")
        pipeline.normalize()
        pipeline.load()


def _forget_orphaned_state(pipeline: dlt.Pipeline) -> None:
    """Local cursors without their destination data (e.g. the DuckDB file deleted) would
    make the next run load nothing; drop them so the run starts from scratch."""
    if not pipeline.state.get("sources"):
        return
    with pipeline.destination_client() as client:
        initialized = client.is_storage_initialized()
    if not initialized:
        log.warning("The destination has no data for pipeline %r; forgetting its local state and "
                    "loading from scratch", pipeline.pipeline_name)
        pipeline.drop()


def _guard_account(pipeline: dlt.Pipeline, account_id: str, full_refresh: bool) -> None:
    stored = pipeline.state.get("sources", {}).get("harvest", {}).get("account_id")
    if stored and str(stored) != str(account_id) and not full_refresh:
        raise HarvestConfigError(
            f"dataset {pipeline.dataset_name!r} holds Harvest account {stored}, not {account_id}",
            hint="load each account into its own dataset (--dataset) or replace it with --full-refresh",
        )


def _file_format(pipeline: dlt.Pipeline) -> str | None:
    """Parquet where the destination takes it: ~10x faster than insert statements in DuckDB."""
    formats = pipeline.destination.capabilities().supported_loader_file_formats
    return "parquet" if "parquet" in formats else None


def _row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = dict(info.row_counts) if info else {}
    return {t: n for t, n in sorted(counts.items()) if not t.startswith("_dlt")}


def table_counts(pipeline: dlt.Pipeline, tables: Sequence[str] | None = None) -> dict[str, int]:
    """Rows per table in the destination now ({} when the dataset does not exist yet)."""
    if tables is None:
        if not pipeline.default_schema_name:
            return {}
        tables = [t for t in pipeline.default_schema.data_table_names() if not t.startswith("_dlt")]
    names = list(tables)
    counts: dict[str, int] = {}
    if not names:
        return counts
    try:
        with pipeline.sql_client() as client:
            for name in names:
                try:
                    counts[name] = client.execute_sql(
                        f"SELECT count(*) FROM {client.make_qualified_table_name(name)}"
                    )[0][0]
                except Exception:  # a table this run did not create
                    continue
    except Exception:
        return {}
    return counts


def schema_columns(pipeline: dlt.Pipeline) -> dict[str, dict[str, str]]:
    """{table: {column: data type}} of the pipeline's schema ({} before the first run)."""
    if not pipeline.default_schema_name:
        return {}
    return {
        name: {c: col.get("data_type", "") for c, col in table.get("columns", {}).items() if not c.startswith("_dlt")}
        for name, table in pipeline.default_schema.tables.items()
        if not name.startswith("_dlt")
    }


def describe_schema_changes(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
    """What Harvest's data changed in our tables: new columns and values of a new type."""
    changes = []
    for table, columns in after.items():
        if table not in before:
            continue
        for column, data_type in columns.items():
            if column in before[table]:
                continue
            base, _, variant = column.partition("__v_")
            if variant:
                changes.append(f"{table}.{base}: a value of type {variant} arrived (kept in column {column})")
            else:
                changes.append(f"{table}: new column {column} ({data_type})")
    return changes


def _root_cause(error: BaseException) -> BaseException:
    """The Harvest or config error behind a dlt step failure, if there is one."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, HarvestError | ConfigFieldMissingException):
            return seen
        seen = seen.__cause__ or seen.__context__
    return error


def _explain(error: BaseException) -> str:
    if isinstance(error, HarvestError):
        hint = error.hint if error.hint and error.hint not in str(error) else ""
        return f"{error}" + (f"\n  what to do: {hint}" if hint else "")
    if isinstance(error, ConfigFieldMissingException):
        return ("missing Harvest configuration: set SOURCES__HARVEST__ACCESS_TOKEN and "
                "SOURCES__HARVEST__ACCOUNT_ID (or .dlt/secrets.toml [sources.harvest]), or try --demo")
    if isinstance(error, PipelineStepFailed):
        return f"the {error.step} step failed: {error.exception}"
    return f"{type(error).__name__}: {error}"


def describe_destination(pipeline: dlt.Pipeline, settings: RunSettings) -> str:
    if settings.destination == "duckdb":
        return f"DuckDB file {settings.duckdb_file}, dataset {settings.dataset}"
    return f"{settings.destination}, dataset {settings.dataset}"


def format_summary(result: RunResult) -> str:
    """A plain-text summary for the end of a run."""
    lines = ["", "Harvest load summary", "--------------------"]
    if result.rows:
        width = max(len(t) for t in result.rows)
        lines.append(f"  {'table':<{width}}  {'loaded':>9}  {'new':>9}  {'updated':>9}")
        for table, loaded in result.rows.items():
            new = max(0, result.new_rows.get(table, loaded))
            lines.append(f"  {table:<{width}}  {loaded:>9,}  {new:>9,}  {max(0, loaded - new):>9,}")
    elif result.exit_code != EXIT_FAILED:
        lines.append("  no changes since the last run: nothing to load")
    lines.append(f"requests: {result.requests:,}  retries: {result.retries:,}  429s: {result.throttled:,}")
    for change in result.schema_changes:
        lines.append(f"schema change: {change}")
    for table, reason in result.skipped.items():
        lines.append(f"skipped {table}: {reason}")
    lines.append(f"duration: {result.duration_s:.1f} s")
    if result.destination:
        lines.append(f"destination: {result.destination}")
    status = {EXIT_OK: "OK", EXIT_PARTIAL: "PARTIAL (some resources skipped)", EXIT_FAILED: "FAILED"}
    lines.append(f"status: {status[result.exit_code]}")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)
