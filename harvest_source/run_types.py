"""A run's settings and result, and its exit codes: what the command line, the benchmarks and the
runner's helper modules (destination, summary) share, so none of them imports the runner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .settings import (
    DATASET_NAME,
    DEFAULT_ACCOUNT_CONCURRENCY,
    DUCKDB_FILE,
    DUCKDB_MEMORY_LIMIT,
    PIPELINE_NAME,
    STAGING_DATASET_LAYOUT,
)

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 2


@dataclass
class RunSettings:
    """What to load and where; the command line's flags.

    ``progress``: False (quiet), True (dlt's "log" collector), or a dlt collector object, passed as is
    to ``dlt.pipeline(progress=...)`` (the command line's live display)."""

    destination: str = "duckdb"
    dataset: str = DATASET_NAME
    pipeline_name: str = PIPELINE_NAME
    duckdb_file: str = DUCKDB_FILE
    duckdb_memory_limit: str | None = DUCKDB_MEMORY_LIMIT  # DuckDB's memory_limit; None: DuckDB's default
    resources: Sequence[str] | None = None
    full_refresh: bool = False
    start_date: str | None = None
    force_sweep: bool = False
    strict: bool = False
    progress: Any = False
    pipelines_dir: str | None = None
    source_options: dict[str, Any] = field(default_factory=dict)  # extra harvest_source arguments
    account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY  # accounts extracted at once (loads take turns)
    # dlt's staging_dataset_name_layout. Loads that share one take turns (in one run, the runner's lock); runs in
    # separate processes loading at once each need their own (``account_staging_layout``), since dlt empties
    # a staging table before every load into it.
    staging_dataset_layout: str = STAGING_DATASET_LAYOUT
    table_format: str = "parquet"  # filesystem only: "parquet" (plain files, appends) or "delta" (merges)


def account_staging_layout(account_id: str | int) -> str:
    """A staging dataset of the account's own (``_dlt_staging_<dataset>_<account_id>``), for runs of several
    accounts in separate processes loading into one dataset at once (Dagster partitions)."""
    return f"{STAGING_DATASET_LAYOUT}_{str(account_id).strip()}"


def account_pipeline_name(pipeline_name: str, account_id: str | int) -> str:
    """One dlt pipeline per account (its own cursors, state and working folder), all in one dataset."""
    return f"{pipeline_name}_{str(account_id).strip()}"


@dataclass
class RunResult:
    """The outcome and the figures a summary shows."""

    exit_code: int
    rows: dict[str, int] = field(default_factory=dict)  # rows loaded per table
    new_rows: dict[str, int] = field(default_factory=dict)  # net rows added per table
    recovered: dict[str, int] = field(default_factory=dict)  # rows a pending package of an earlier run loaded
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
    views_not_created: dict[str, str] = field(default_factory=dict)  # view -> why (a WARNING in the summary)
    reports_pending: int = 0  # report periods carried to the next run (reports rate budget)
    account_id: str = ""  # the account this result is for ("" for several: see ``accounts``)
    accounts: list[RunResult] = field(default_factory=list)  # one per account, when the run loaded several
    accounts_skipped: dict[str, str] = field(default_factory=dict)  # listed by Harvest ID, not loaded: why
    deletes: str = "off"  # the deletes mode the run used (hard | soft | off)
    deleted: dict[str, int] = field(default_factory=dict)  # rows removed (hard) or marked (soft) per table
    deletion_warnings: dict[str, str] = field(default_factory=dict)  # table -> why nothing was deleted there
