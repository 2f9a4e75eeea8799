"""One load run, as the command line (and the benchmarks) do it.

It wraps ``pipeline.run`` with what an unattended scheduled load needs: finish a load
left pending by a crashed run before extracting anew, forget local state whose
destination is gone (the DuckDB file was deleted), refuse to mix two Harvest accounts in
one dataset, and turn every failure into a message that says what to fix.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.exceptions import ConfigFieldMissingException
from dlt.common.exceptions import SignalReceivedException
from dlt.common.runtime.collector_base import Collector
from dlt.common.storages import LoadStorage, NormalizeStorage
from dlt.pipeline.exceptions import PipelineStepFailed

from . import TABLES, check_resources, harvest_source, parse_start_date
from .errors import HarvestConfigError, HarvestError, HarvestRunStopped
from .first_load import append_first_loads
from .interrupts import marked_on_signal
from .report import RunReport
from .resources import appendable_tables
from .settings import DATASET_NAME, DUCKDB_FILE, PIPELINE_NAME
from .views import create_views, drop_views

log = logging.getLogger("harvest_source")

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 2
INTERRUPTED = ("interrupted by a signal (Ctrl-C or SIGTERM); run again: the next run finishes or rewinds "
               "what this one left, nothing is lost")


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
    progress: Any = False  # True: dlt's "log" collector; or a dlt collector object, passed as is
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
    views: list[str] = field(default_factory=list)


def make_pipeline(settings: RunSettings, duckdb_connection: Any = None) -> dlt.Pipeline:
    """The pipeline, with DuckDB at a stable path (never a path remembered from a past run).

    ``duckdb_connection`` (see ``open_duckdb``) keeps the database open for the whole run: otherwise
    dlt's pool closes the file whenever no job holds it, and every close is a checkpoint and every
    open a re-read (measured: a third of the load step of a full load went to it).
    """
    destination: Any = settings.destination
    if settings.destination == "duckdb":
        destination = dlt.destinations.duckdb(duckdb_connection or settings.duckdb_file)
    kwargs: dict[str, Any] = {}
    if settings.pipelines_dir:
        kwargs["pipelines_dir"] = settings.pipelines_dir
    return dlt.pipeline(
        pipeline_name=settings.pipeline_name,
        destination=destination,
        dataset_name=settings.dataset,
        progress=_progress(settings.progress),
        **kwargs,
    )


def _progress(progress: Any) -> Any:
    """``RunSettings.progress``: a dlt collector object as is; True keeps dlt's "log" collector."""
    if isinstance(progress, Collector):
        return progress
    return "log" if progress else None


def open_duckdb(settings: RunSettings) -> Any:
    """One connection to the run's DuckDB file, held until ``close`` (None for other destinations)."""
    if settings.destination != "duckdb":
        return None
    import duckdb

    return duckdb.connect(settings.duckdb_file)


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


def run_load(settings: RunSettings, access_token: str, account_id: str, base_url: str,
             report: RunReport | None = None) -> RunResult:
    """Run one load and report; never raises for Harvest, config or pipeline errors.

    ``report``: pass your own to poll ``report.outcome()`` while the run goes (live progress)."""
    report = report if report is not None else RunReport()
    with marked_on_signal(report):
        return _load(settings, access_token, account_id, base_url, report)


def _load(settings: RunSettings, access_token: str, account_id: str, base_url: str, report: RunReport) -> RunResult:
    started = time.monotonic()
    result = RunResult(exit_code=EXIT_FAILED)
    duckdb_connection = None
    try:
        resources = check_resources(list(settings.resources)) if settings.resources else None
        start = parse_start_date(settings.start_date)
        duckdb_connection = open_duckdb(settings)
        pipeline = make_pipeline(settings, duckdb_connection)
        result.destination = describe_destination(pipeline, settings)
        _finish_pending(pipeline)
        _forget_orphaned_state(pipeline)
        _guard_account(pipeline, str(account_id).strip(), settings.full_refresh)
        before = {} if settings.full_refresh else table_counts(pipeline)
        columns_before = {} if settings.full_refresh else schema_columns(pipeline)
        fields = FieldWatch()
        fields.sample(pipeline, columns_before)
        source = harvest_source(
            access_token=access_token, account_id=account_id, base_url=base_url, start_date=start,
            force_sweep=settings.force_sweep, strict=settings.strict, report=report,
            **settings.source_options,
        )
        if resources:
            source = source.with_resources(*resources)
        fields.watch(source)
        append_first_loads(pipeline, source, appendable_tables())
        if settings.full_refresh:
            drop_views(pipeline)  # dlt drops tables without CASCADE; PostgreSQL refuses while views use them
        pipeline.run(
            source,
            loader_file_format=_file_format(pipeline),
            refresh="drop_sources" if settings.full_refresh else None,
        )
        result.rows = _row_counts(pipeline)
        result.views = create_views(pipeline)
        after = table_counts(pipeline, list(result.rows))
        result.new_rows = {t: after[t] - before.get(t, 0) for t in result.rows if t in after}
        result.schema_changes = describe_schema_changes(columns_before, schema_columns(pipeline))
        result.schema_changes += fields.gone()
        result.exit_code = EXIT_PARTIAL if report.outcome().skipped else EXIT_OK
    except (HarvestError, ConfigFieldMissingException) as error:
        result.error = _reason(error, report)
    except Exception as error:  # the top of a CLI run: a message, the traceback only with -v
        log.debug("run failed", exc_info=True)
        result.error = _reason(error, report)
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, see the CLI) outside dlt's own signal handling
        result.error = INTERRUPTED
    finally:
        report.stop.set()  # the run is over: a thread still retrying or waiting gives up now
        if duckdb_connection is not None:
            duckdb_connection.close()
        result.duration_s = time.monotonic() - started
        outcome = report.outcome()
        result.skipped = dict(outcome.skipped)
        result.stats = dict(outcome.stats)
        result.requests, result.retries, result.throttled = outcome.requests, outcome.retries, outcome.throttled
    return result


def _finish_pending(pipeline: dlt.Pipeline) -> None:
    """Finish or rewind what a killed or failed run left in the working folder, before extracting.

    dlt saves the cursors locally when extract ends, so a package left behind must be loaded or
    rewound, never dropped. What a kill leaves depends on the moment (tests/test_reliability_crash.py
    kills at each of them):

    * an extracted or normalized package, not loading yet: load it, its cursors match its rows;
    * killed between normalize's commit and its clean-up: the package is in the load folder and its
      extracted copy is stale; normalizing the copy again would fail on every later run;
    * killed while loading, with load jobs that started but have no recorded outcome: dlt would run
      them again, and a job whose rows were already copied into the staging dataset copies them
      twice, which the merge then inserts twice (duplicate rows). Abort the package instead: dlt
      rewinds the cursors to before it and this run reads those changes from Harvest again;
    * killed during such an abort, after the package was archived but before the rewind: rewind;
    * killed while extracting: nothing was committed (no package, no cursor), but the half-written files
      stay in a temporary folder dlt never looks at again; remove them;
    * killed while dlt created its ``normalize`` or ``load`` folder: some of their subfolders are
      missing, and listing packages then fails on every later run; create them.
    """
    _complete_storage_folders(pipeline)
    _drop_abandoned_extracts(pipeline)
    _drop_stale_extracted_copies(pipeline)
    _finish_interrupted_abort(pipeline)
    interrupted = _interrupted_load_jobs(pipeline)
    if interrupted:
        log.warning(
            "An earlier run was stopped while loading (%d load job(s) with no recorded outcome); "
            "aborting that load and rewinding its cursors, so this run reads those changes again",
            len(interrupted),
        )
        pipeline.abort_packages()
    if pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages():
        log.warning("Finishing a load left pending by an earlier run before extracting new data")
        pipeline.normalize()
        pipeline.load()


def _complete_storage_folders(pipeline: dlt.Pipeline) -> None:
    """dlt's working storages, made whole where a killed run left them half created (dlt lists them
    without creating; as their owner it creates what is missing and keeps what is there)."""
    normalize, load = pipeline._normalize_storage_config(), pipeline._load_storage_config()
    if Path(normalize.normalize_volume_path).is_dir():
        NormalizeStorage(True, normalize)
    if Path(load.load_volume_path).is_dir():
        LoadStorage(True, [], load)


def _drop_abandoned_extracts(pipeline: dlt.Pipeline) -> None:
    """The temporary folders of extracts that never committed (``normalize/<16 hex>/``, dlt's name for
    them). Nothing else extracts into this working folder now: runs of one pipeline must not overlap."""
    storage = pipeline._get_normalize_storage()
    root = Path(storage.storage.storage_path)
    for child in sorted(root.iterdir()) if root.is_dir() else ():
        if child.is_dir() and re.fullmatch(r"[0-9a-f]{16}", child.name):
            log.warning("Removing the files of an extract that a killed run left unfinished (%s)", child.name)
            shutil.rmtree(child, ignore_errors=True)


def _drop_stale_extracted_copies(pipeline: dlt.Pipeline) -> None:
    """Extracted packages whose normalized package exists already (normalize was killed after it
    moved the package on, before deleting the extracted copy)."""
    extracted = set(pipeline.list_extracted_load_packages())
    done = set(pipeline.list_normalized_load_packages()) | set(pipeline.list_completed_load_packages())
    for load_id in sorted(extracted & done):
        log.warning("Removing the already normalized copy of package %s left by a killed run", load_id)
        pipeline._get_normalize_storage().extracted_packages.delete_package(load_id)


def _interrupted_load_jobs(pipeline: dlt.Pipeline) -> list[str]:
    """Load jobs of the package being loaded that started and recorded no outcome: the process
    died while they ran, so whether the destination committed them is unknown."""
    normalized = pipeline.list_normalized_load_packages()
    if not normalized:
        return []
    packages = pipeline._get_load_storage().normalized_packages
    load_id = normalized[0]  # dlt loads the oldest first; the others have not started
    return [
        job for job in packages.list_started_jobs(load_id)
        if packages.load_pending_transition(load_id, Path(job).name) is None
    ]


def _finish_interrupted_abort(pipeline: dlt.Pipeline) -> None:
    """The newest package was archived as aborted but the cursors still are the ones it carried:
    the process died between dlt's two abort steps. Rewind them now, or its rows are lost."""
    if pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages():
        return
    completed = pipeline.list_completed_load_packages()
    if not completed:
        return
    last = max(completed)
    if pipeline.get_load_package_info(last).state != "aborted":
        return
    carried = (pipeline.get_load_package_state(last).get("pipeline_state") or {}).get("version_hash")
    if carried and carried == pipeline.state.get("_version_hash"):
        log.warning("Completing the abort of package %s: rewinding the cursors it carried", last)
        pipeline.abort_packages(last)


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


# Parquet where it is native (~10x faster than insert statements into DuckDB). PostgreSQL lists
# parquet only through an ADBC driver we do not install, and dlt's CSV path there turns '' into
# NULL, so it gets insert statements, which keep every value as Harvest sent it.
_PARQUET_NATIVE = ("duckdb", "motherduck", "filesystem", "bigquery", "snowflake", "databricks", "athena")


def _file_format(pipeline: dlt.Pipeline) -> str | None:
    """The load file format for the pipeline's destination (None: the destination's default)."""
    formats = pipeline.destination.capabilities().supported_loader_file_formats
    if pipeline.destination.destination_name in _PARQUET_NATIVE and "parquet" in formats:
        return "parquet"
    return "insert_values" if "insert_values" in formats else None


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


MISSING_MIN_ARROW_ROWS = 3  # arrow pages tell only empty from filled: a few rows are not evidence
MISSING_SAMPLE_ROWS = 1000


class FieldWatch:
    """Notices a field Harvest stops sending: in the destination it is just a null, so the run looks at
    the records themselves. Before the run it samples which columns earlier rows filled; while
    extracting it notes which fields the records carried; afterwards it names the columns that at least
    half the earlier rows filled and no record of this run carried. Records read as dicts tell a missing
    key from a null. Flat tables read as arrow pages only tell empty from filled, so there a column counts
    as gone only when every sampled earlier row had it and none of at least ``MISSING_MIN_ARROW_ROWS`` new
    rows did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.before: dict[str, tuple[int, dict[str, int]]] = {}  # table -> (rows sampled, filled per column)
        self.keys: dict[str, set[str]] = {}  # dict records: flattened keys they carried
        self.null_objects: dict[str, set[str]] = {}  # dict records: nested objects that were null
        self.filled: dict[str, set[str]] = {}  # arrow pages: columns with a value
        self.dict_rows: dict[str, int] = {}
        self.arrow_rows: dict[str, int] = {}

    def sample(self, pipeline: dlt.Pipeline, columns: dict[str, dict[str, str]]) -> None:
        if not any(table in TABLES for table in columns):  # a first run: nothing earlier to sample
            return
        try:
            with pipeline.sql_client() as client:
                for table, types in columns.items():
                    names = [c for c in types if "__v_" not in c]
                    if table not in TABLES or not names:  # nested tables: their records are not watched
                        continue
                    escaped = [client.escape_column_name(c) for c in names]
                    try:
                        row = client.execute_sql(
                            f"SELECT COUNT(*), {', '.join(f'COUNT({c})' for c in escaped)} FROM (SELECT "
                            f"{', '.join(escaped)} FROM {client.make_qualified_table_name(table)} "
                            f"LIMIT {MISSING_SAMPLE_ROWS}) AS earlier"
                        )[0]
                    except Exception:  # a table the destination does not have (yet)
                        continue
                    self.before[table] = (row[0], dict(zip(names, row[1:], strict=True)))
        except Exception:  # a summary nicety: it must never fail the run
            log.debug("could not sample the destination's columns", exc_info=True)

    def watch(self, source: Any) -> None:
        for name, resource in source.selected_resources.items():
            if name in TABLES:
                resource.add_metrics(self._observer(name))

    def _observer(self, table: str) -> Any:
        def observe(items: Any, meta: Any, metrics: Any) -> None:
            keys: set[str] = set()
            nulls: set[str] = set()
            filled: set[str] = set()
            dict_rows = arrow_rows = 0
            for item in items if isinstance(items, list) else [items]:
                if isinstance(item, dict):
                    dict_rows += 1
                    _flat_keys(item, "", keys, nulls)
                elif hasattr(item, "column_names") and hasattr(item, "num_rows"):  # an arrow table
                    arrow_rows += item.num_rows
                    filled.update(n for n in item.column_names if item.column(n).null_count < item.num_rows)
            with self._lock:
                self.keys.setdefault(table, set()).update(keys)
                self.null_objects.setdefault(table, set()).update(nulls)
                self.filled.setdefault(table, set()).update(filled)
                self.dict_rows[table] = self.dict_rows.get(table, 0) + dict_rows
                self.arrow_rows[table] = self.arrow_rows.get(table, 0) + arrow_rows

        return observe

    def _carried(self, table: str, column: str) -> bool:
        if column in self.keys.get(table, ()) or column in self.filled.get(table, ()):
            return True
        parts = column.split("__")  # client__id is carried when the record had "client": null
        return any("__".join(parts[:i]) in self.null_objects.get(table, ()) for i in range(1, len(parts)))

    def gone(self) -> list[str]:
        found = []
        for table, (sampled, filled_before) in sorted(self.before.items()):
            as_dicts, as_arrow = self.dict_rows.get(table, 0), self.arrow_rows.get(table, 0)
            if not sampled or (not as_dicts and as_arrow < MISSING_MIN_ARROW_ROWS):
                continue
            for column, had in filled_before.items():
                usual = had == sampled if not as_dicts else had * 2 >= sampled  # not a rare field
                if not had or not usual or self._carried(table, column):
                    continue
                found.append(f"{table}.{column}: no record of this run ({as_dicts + as_arrow:,}) carried it, "
                             "earlier rows did (a field Harvest no longer sends? its new rows hold nulls)")
        return found


def _flat_keys(record: dict[str, Any], prefix: str, keys: set[str], nulls: set[str]) -> None:
    """The record's fields as dlt names its columns (``client__id``); null objects noted apart."""
    for key, value in record.items():
        name = prefix + key
        keys.add(name)
        if isinstance(value, dict):
            _flat_keys(value, name + "__", keys, nulls)
        elif value is None:
            nulls.add(name)


def _in_chain(error: BaseException, kinds: tuple[type[BaseException], ...]) -> BaseException | None:
    """The first error of ``kinds`` in ``error``'s cause/context chain, or None."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _root_cause(error: BaseException) -> BaseException:
    """The Harvest or config error behind a dlt step failure, if there is one."""
    return _in_chain(error, (HarvestError, ConfigFieldMissingException)) or error


def _first_cause(error: BaseException, report: RunReport) -> BaseException:
    """The error that failed the run. A request it stopped (``HarvestRunStopped``) can reach dlt first;
    it is never the reason, the error the report saw first is."""
    if isinstance(error, HarvestRunStopped) and report.first_error is not None:
        return _root_cause(report.first_error)
    return error


def _by_signal(error: BaseException) -> bool:
    """Whether a signal is behind this error. A signal can land while dlt restores one of its contexts;
    dlt then raises its own error with the KeyboardInterrupt as context: still an interrupted run."""
    return _in_chain(error, (KeyboardInterrupt, SignalReceivedException)) is not None


def _explain(error: BaseException) -> str:
    if isinstance(error, HarvestError):
        hint = error.hint if error.hint and error.hint not in str(error) else ""
        return f"{error}" + (f"\n  what to do: {hint}" if hint else "")
    if _by_signal(error):
        return _interrupted(error)
    if isinstance(error, ConfigFieldMissingException):
        return ("missing Harvest configuration: set SOURCES__HARVEST__ACCESS_TOKEN and "
                "SOURCES__HARVEST__ACCOUNT_ID (or .dlt/secrets.toml [sources.harvest]), or try --demo")
    if isinstance(error, PipelineStepFailed):
        return f"the {error.step} step failed: {error.exception}"
    return f"{type(error).__name__}: {error}"


def _reason(error: BaseException, report: RunReport) -> str:
    """Why the run failed, for the summary: a signal, unless an error of the run's own (a 401, say) came
    first; else the Harvest or config error behind dlt's, or the error the report saw first."""
    if report.interrupted and report.first_error is None:
        return _interrupted(error)
    return _explain(_first_cause(_root_cause(error), report))


def _interrupted(error: BaseException) -> str:
    """A run that a signal ended: whatever error dlt or a stopped request raised, that is the reason."""
    step = f" (during the {error.step} step)" if isinstance(error, PipelineStepFailed) else ""
    return INTERRUPTED + step


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
    if result.views:
        lines.append(f"views: {', '.join(result.views)}")
    status = {EXIT_OK: "OK", EXIT_PARTIAL: "PARTIAL (some resources skipped)", EXIT_FAILED: "FAILED"}
    lines.append(f"status: {status[result.exit_code]}")
    if result.error:
        lines.append(f"error: {result.error}")
    return "\n".join(lines)
