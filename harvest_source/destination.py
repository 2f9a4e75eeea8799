"""The run's destination: the pipeline built for it, its load file format, and the rows it holds.

DuckDB gets a stable file path (never a path remembered from a past run) and one connection held for
the whole run; every destination gets the staging dataset named by ``RunSettings.staging_dataset_layout``
(``STAGING_DATASET_LAYOUT`` unless a run in a process of its own asks for its account's).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import dlt
from dlt.common.destination import Destination
from dlt.common.destination.exceptions import SqlClientNotAvailable

from .errors import HarvestConfigError
from .run_types import RunSettings
from .table_format import DELTA, check_table_format, delta_table_counts

# A size DuckDB's memory_limit takes (checked here: a bad one is our error, named, not DuckDB's).
MEMORY_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)

# Parquet where it is native (~10x faster than insert statements into DuckDB). PostgreSQL lists
# parquet only through an ADBC driver we do not install, and dlt's CSV path there turns '' into
# NULL, so it gets insert statements, which keep every value as Harvest sent it.
PARQUET_NATIVE = ("duckdb", "motherduck", "filesystem", "bigquery", "snowflake", "databricks", "athena")


def make_pipeline(settings: RunSettings, duckdb_connection: Any = None, name: str | None = None) -> dlt.Pipeline:
    """The pipeline (``name``: an account's, see ``account_pipeline_name``; default ``settings.pipeline_name``),
    with DuckDB at a stable path (never a path remembered from a past run).

    ``duckdb_connection`` (see ``open_duckdb``) keeps the database open for the whole run: otherwise
    dlt's pool closes the file whenever no job holds it, and every close is a checkpoint and every
    open a re-read (measured: a third of the load step of a full load went to it).
    """
    kwargs: dict[str, Any] = {}
    if settings.pipelines_dir:
        kwargs["pipelines_dir"] = settings.pipelines_dir
    return dlt.pipeline(
        pipeline_name=name or settings.pipeline_name,
        destination=make_destination(settings, duckdb_connection),
        dataset_name=settings.dataset,
        progress=progress_collector(settings.progress),
        **kwargs,
    )


def make_destination(settings: RunSettings, duckdb_connection: Any = None) -> Any:
    """The destination factory: DuckDB at ``duckdb_file`` (or the held connection), else the named
    destination as dlt resolves it (a type like ``postgres`` or a named one from config); with
    ``table_format`` delta, the filesystem destination that merges Delta tables (``dlt_compat.delta_merge``)."""
    layout = {"staging_dataset_name_layout": settings.staging_dataset_layout}
    if settings.destination == "duckdb":
        check_table_format(settings.table_format, dlt.destinations.duckdb().destination_type)
        return dlt.destinations.duckdb(duckdb_connection or settings.duckdb_file, **layout)
    destination = Destination.from_reference(settings.destination, **layout)
    if check_table_format(settings.table_format, destination.destination_type) == DELTA:
        from .dlt_compat.delta_merge import delta_filesystem

        return delta_filesystem(destination_name=destination.configured_name, **layout)
    return destination


def progress_collector(progress: Any) -> Any:
    """``RunSettings.progress`` for ``dlt.pipeline``: a collector object as is, True as dlt's "log"."""
    if progress is True:
        return "log"
    return progress or None


def open_duckdb(settings: RunSettings) -> Any:
    """One connection to the run's DuckDB file, held until ``close`` (None for other destinations), with
    ``duckdb_memory_limit`` set: the whole database's cap, so every cursor of it has the same."""
    if settings.destination != "duckdb":
        return None
    import duckdb

    limit = check_memory_limit(settings.duckdb_memory_limit)
    connection = duckdb.connect(settings.duckdb_file)
    if limit:
        connection.execute(f"SET memory_limit = '{limit}'")
    return connection


def check_memory_limit(value: str | None) -> str | None:
    """A DuckDB memory size like ``512MB`` or ``2GB`` (None or empty: DuckDB's default), or a clear error."""
    text = (value or "").strip()
    if text and not MEMORY_SIZE.fullmatch(text):
        raise HarvestConfigError(f"DuckDB memory limit {value!r} is not a size",
                                 hint="give a number and a unit, e.g. --duckdb-memory-limit 512MB or 2GB")
    return text or None


def describe_destination(settings: RunSettings) -> str:
    """Where the run loads, for the summary."""
    if settings.destination == "duckdb":
        return f"DuckDB file {settings.duckdb_file}, dataset {settings.dataset}"
    if settings.table_format == DELTA:
        return f"{settings.destination} (Delta tables), dataset {settings.dataset}"
    return f"{settings.destination}, dataset {settings.dataset}"


def file_format(pipeline: dlt.Pipeline) -> str | None:
    """The load file format for the pipeline's destination (None: the destination's default)."""
    formats = pipeline.destination.capabilities().supported_loader_file_formats
    if pipeline.destination.destination_name in PARQUET_NATIVE and "parquet" in formats:
        return "parquet"
    return "insert_values" if "insert_values" in formats else None


def row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table the pipeline's last run normalized (and so loaded), dlt's own tables aside."""
    info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = dict(info.row_counts) if info else {}
    return {t: n for t, n in sorted(counts.items()) if not t.startswith("_dlt")}


def table_counts(pipeline: dlt.Pipeline, tables: Sequence[str] | None = None,
                 account_id: str | int | None = None) -> dict[str, int]:
    """Rows per table in the destination now ({} when the dataset does not exist yet); ``account_id``:
    that account's rows only (other accounts load into the same tables at the same time)."""
    if tables is None:
        if not pipeline.default_schema_name:
            return {}
        tables = [t for t in pipeline.default_schema.data_table_names() if not t.startswith("_dlt")]
    names = list(tables)
    counts: dict[str, int] = {}
    if not names:
        return counts
    try:
        delta = delta_table_counts(pipeline, names, account_id)
        if delta is not None:
            return delta
        with pipeline.sql_client() as client:
            for name in names:
                try:
                    where = "" if account_id is None else f" WHERE account_id = {int(account_id)}"
                    counts[name] = client.execute_sql(
                        f"SELECT count(*) FROM {client.make_qualified_table_name(name)}{where}"
                    )[0][0]
                except Exception:  # a table this run did not create
                    continue
    except Exception:
        return {}
    return counts


def drop_dataset(settings: RunSettings, duckdb_connection: Any = None) -> bool:
    """``--full-refresh`` on a SQL destination: drop the dataset (every account's tables, views and dlt's
    state) and its staging dataset, so every account listed loads from scratch. False when the destination
    has no SQL client (files: dlt's own ``refresh`` drops the tables there)."""
    pipeline = make_pipeline(settings, duckdb_connection, name=f"{settings.pipeline_name}_reset")
    try:
        if pipeline.destination.destination_name == "filesystem":
            return False
        with pipeline.sql_client() as client:
            for staging in (False, True):
                if staging:
                    with client.with_staging_dataset():
                        if client.has_dataset():
                            client.drop_dataset()
                elif client.has_dataset():
                    client.drop_dataset()
    except SqlClientNotAvailable:
        return False
    finally:
        pipeline.drop()
    return True
