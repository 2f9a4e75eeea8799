"""Harvest in Dagster: one partition per Harvest account, loaded by the same runner as ``harvest-dlt``.

    pip install -e ".[dagster]"
    dagster asset materialize -m pipelines.harvest_dagster --select '*' --partition 1234567
    dagster dev -m pipelines.harvest_dagster

``defs`` holds the Harvest tables as assets (``harvest/<table>``), partitioned by account: static partitions
when ``account_id`` lists ids, dynamic ones (``harvest_accounts``) fed by a sensor from Harvest ID's
accounts listing when it is ``all``; an hourly schedule launches one run per account. The settings are
the command line's: ``.dlt/config.toml``, ``.dlt/secrets.toml`` and ``SOURCES__HARVEST__*`` env vars, read
in the folder Dagster runs in; the command line's flags are the run config (``HarvestLoadConfig``).

Why Dagster's own ``@multi_asset`` and not ``dagster-dlt``: ``DagsterDltResource.run`` runs one
``dlt.pipeline`` over a source and yields what dlt reports. Our runner (``harvest_source.runner.run_load``,
what the command line calls) does more around dlt, and all of it would be bypassed: the account's own
pipeline (``harvest_<account_id>``), the repair of a package an interrupted run left behind before
anything is read, the refusal of a dataset of the old layout, schema-drift and 403 handling with its
exit codes (0 ok, 2 partial, 1 failed), the analyst views, and the summary. So the asset calls
``run_load`` for its partition's account, and anything but exit 0 fails the partition with the summary.

Two partitions at once: each account has its own dlt pipeline (state, cursors, working folder), so
their loads never touch each other's state. What they share is the dataset. DuckDB allows one writer
process and each run holds the file for its whole load, so a second run on the same file fails at once
(it corrupts nothing) unless runs take turns: every load step is in the Dagster pool
``harvest_destination``; give it one slot for DuckDB (see the README). A server destination (PostgreSQL)
takes partitions loading at once: there each account's run merges through a staging dataset of its own
(``account_staging_layout``), because dlt empties a staging table before each load into it, and two runs
sharing one (as the accounts of one command-line run do, taking turns) would empty each other's.
"""

# no "from __future__ import annotations": Dagster reads the asset's config type from its annotation
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import dagster as dg  # noqa: E402
import dlt  # noqa: E402
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition  # noqa: E402

from harvest_source.accounts import ALL, parse_account_setting  # noqa: E402
from harvest_source.catalog import TABLES  # noqa: E402
from harvest_source.cli import apply_dlt_defaults  # noqa: E402
from harvest_source.errors import HarvestError  # noqa: E402
from harvest_source.run_types import (  # noqa: E402
    EXIT_FAILED,
    EXIT_OK,
    EXIT_PARTIAL,
    RunResult,
    RunSettings,
    account_pipeline_name,
    account_staging_layout,
)
from harvest_source.runner import choose_accounts, format_summary, resolve_credentials, run_load  # noqa: E402
from harvest_source.settings import DATASET_NAME, DUCKDB_FILE, PIPELINE_NAME  # noqa: E402
from harvest_source.summary import explain  # noqa: E402

ASSET_PREFIX = "harvest"
GROUP = "harvest"
JOB_NAME = "harvest_job"
DYNAMIC_PARTITIONS = "harvest_accounts"  # the dynamic partitions' name, when account_id is "all"
# Every load step runs in this Dagster pool: a limit of 1 makes runs take turns on one DuckDB file.
POOL = "harvest_destination"
DEFAULT_CRON = "0 * * * *"  # hourly; sources.harvest.dagster_cron (SOURCES__HARVEST__DAGSTER_CRON) changes it
DISCOVERY_INTERVAL_S = 600  # how often the sensor asks Harvest ID which accounts the token reaches


class HarvestLoadConfig(dg.Config):
    """The command line's flags, with its defaults (``--full-refresh`` stays the command line's: it
    rebuilds the dataset of every account, not one partition's)."""

    destination: str = "duckdb"
    dataset: str = DATASET_NAME
    duckdb_file: str = DUCKDB_FILE
    pipeline_name: str = PIPELINE_NAME
    start_date: str | None = None
    sweep: bool = False
    strict: bool = False

    def run_settings(self, account_id: str, resources: list[str] | None) -> RunSettings:
        """The command line's settings for one account's run. Outside DuckDB (where runs take turns on
        the file) partitions may load at once from separate processes: each gets its own staging dataset."""
        settings = RunSettings(
            destination=self.destination, dataset=self.dataset, duckdb_file=self.duckdb_file,
            pipeline_name=self.pipeline_name, resources=resources, start_date=self.start_date,
            force_sweep=self.sweep, strict=self.strict,
        )
        if self.destination != "duckdb":
            settings.staging_dataset_layout = account_staging_layout(account_id)
        return settings


def configured_account_setting() -> str | None:
    """``sources.harvest.account_id`` from dlt config, as ``resolve_credentials`` reads it."""
    value = dlt.secrets.get("sources.harvest.account_id") or dlt.config.get("sources.harvest.account_id")
    return str(value) if value else None


def account_partitions(setting: str | None) -> dg.PartitionsDefinition:
    """One partition per account: the ids ``account_id`` lists, or (``all`` or unset) the accounts the
    discovery sensor adds. A malformed setting raises ``HarvestConfigError``, naming what to set."""
    if setting is None or (chosen := parse_account_setting(setting)) == ALL:
        return dg.DynamicPartitionsDefinition(name=DYNAMIC_PARTITIONS)
    return dg.StaticPartitionsDefinition(list(chosen))


def table_key(table: str) -> dg.AssetKey:
    return dg.AssetKey([ASSET_PREFIX, table])


def build_assets(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The Harvest tables as one multi-asset: one run of the runner loads the selected tables of one account."""

    @dg.multi_asset(
        name="harvest_tables",
        specs=[dg.AssetSpec(table_key(table), group_name=GROUP, skippable=True,
                            description=f"Harvest's {table}, every account in one table (account_id column)")
               for table in TABLES],
        partitions_def=partitions,
        can_subset=True,
        pool=POOL,
        backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=1),
    )
    def harvest_tables(context: dg.AssetExecutionContext, config: HarvestLoadConfig) -> Iterator[dg.MaterializeResult]:
        account_id = context.partition_key
        selected = [table for table in TABLES if table_key(table) in context.selected_asset_keys]
        apply_dlt_defaults()
        try:
            credentials, _, base_url = resolve_credentials()
        except HarvestError as error:
            raise dg.Failure(description=f"error: {explain(error)}", allow_retries=False) from None
        settings = config.run_settings(account_id, None if len(selected) == len(TABLES) else selected)
        context.log.info(f"loading Harvest account {account_id} with dlt pipeline "
                         f"{account_pipeline_name(settings.pipeline_name, account_id)}")
        result = run_load(settings, credentials, account_id, base_url)
        summary = format_summary(result)
        if result.exit_code == EXIT_OK:
            context.log.info(summary)  # otherwise the failure below carries it
        if result.exit_code != EXIT_FAILED:  # what did load is materialized, even when the run is partial
            yield from materializations(result, selected, account_id)
        if result.exit_code != EXIT_OK:
            status = "PARTIAL" if result.exit_code == EXIT_PARTIAL else "FAILED"
            raise dg.Failure(description=f"Harvest account {account_id}: {status} (exit {result.exit_code})\n"
                                         f"{summary}",
                             metadata={"exit_code": result.exit_code, "account_id": account_id})

    return harvest_tables


def materializations(result: RunResult, selected: list[str], account_id: str) -> Iterator[dg.MaterializeResult]:
    """One per selected table the run did not skip, with the rows it loaded (child tables included)."""
    rows: dict[str, int] = {}
    for table, loaded in result.rows.items():
        root = table.split("__")[0]
        rows[root] = rows.get(root, 0) + loaded
    for table in selected:
        if table in result.skipped:
            continue
        yield dg.MaterializeResult(asset_key=table_key(table), metadata={
            "account_id": account_id, "rows_loaded": rows.get(table, 0), "destination": result.destination})


def build_schedule(job: UnresolvedAssetJobDefinition, partitions: dg.PartitionsDefinition,
                   cron: str) -> dg.ScheduleDefinition:
    """Every account's partition at each tick, one run each (each account has its own rate limits)."""

    @dg.schedule(name="harvest_schedule", cron_schedule=cron, job=job)
    def harvest_schedule(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
        store = context.instance if isinstance(partitions, dg.DynamicPartitionsDefinition) else None
        for account_id in partitions.get_partition_keys(dynamic_partitions_store=store):
            yield dg.RunRequest(run_key=f"{account_id}@{tick}", partition_key=account_id)

    return harvest_schedule


def build_discovery_sensor(job: UnresolvedAssetJobDefinition,
                           partitions: dg.DynamicPartitionsDefinition) -> dg.SensorDefinition:
    """``account_id = "all"``: keeps one partition per Harvest account the token reaches (the runner's
    ``choose_accounts``: Forecast accounts are left out); a new account gets its first load at once, an
    account no longer listed loses its partition (its rows stay in the dataset, as with the command line)."""

    @dg.sensor(name="harvest_accounts_sensor", job=job, minimum_interval_seconds=DISCOVERY_INTERVAL_S)
    def harvest_accounts_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        try:
            credentials, _, _ = resolve_credentials()
            listed = choose_accounts(ALL, credentials, RunSettings()).harvest
        except HarvestError as error:
            raise dg.Failure(description=f"error: {explain(error)}") from None
        known = set(context.instance.get_dynamic_partitions(partitions.name))
        new = [account for account in listed if account not in known]
        gone = sorted(known - set(listed))
        requests = [request for request, accounts in ((partitions.build_add_request(new), new),
                                                       (partitions.build_delete_request(gone), gone)) if accounts]
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"first-load-{account}", partition_key=account) for account in new],
            dynamic_partitions_requests=requests,
        )

    return harvest_accounts_sensor


def build_definitions(account_setting: str | None = None, cron: str | None = None,
                      load: HarvestLoadConfig | None = None) -> dg.Definitions:
    """The Definitions for ``account_setting`` (default: ``account_id`` from dlt config) and ``cron``
    (default: ``sources.harvest.dagster_cron``, else hourly). ``load``: the run config the schedule's and
    the sensor's runs use (default: the command line's defaults)."""
    partitions = account_partitions(account_setting if account_setting is not None else configured_account_setting())
    assets = build_assets(partitions)
    run_config = dg.RunConfig(ops={"harvest_tables": load}) if load is not None else None
    job = dg.define_asset_job(JOB_NAME, selection=dg.AssetSelection.assets(assets), config=run_config)
    cron = cron or str(dlt.config.get("sources.harvest.dagster_cron") or DEFAULT_CRON)
    dynamic = isinstance(partitions, dg.DynamicPartitionsDefinition)
    sensors = [build_discovery_sensor(job, partitions)] if dynamic else []
    return dg.Definitions(assets=[assets], jobs=[job], schedules=[build_schedule(job, partitions, cron)],
                          sensors=sensors, executor=dg.in_process_executor)


defs = build_definitions()
