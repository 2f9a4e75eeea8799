"""The ``harvest-dlt`` command: parse the flags, run one load (``runner.run_load``), print its summary.

Installed by ``pip install .`` (``[project.scripts]``); ``pipelines/harvest_pipeline.py`` calls the same
``main``. It needs nothing from a checkout: the demo's simulator ships in the package, and the dlt
settings the checkout's ``.dlt/config.toml`` holds get the same defaults here when nothing configures them.

Exit code 0 when every selected resource loaded, 2 when some were skipped for lack of permission, 1 when
the run failed. ``--verify`` loads nothing (``harvest_source.verify``): 0 when every check matches,
``EXIT_DIFFERS`` (3) when something differs, 1 when it could not check.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
from collections.abc import Iterator

import dlt

from .accounts import ALL, parse_account_setting
from .catalog import TABLES
from .cli_logs import configure_logging
from .destination import describe_destination
from .errors import HarvestConfigError, HarvestError
from .interrupts import stop_on_signals
from .oauth_settings import OAuthSettings
from .progress import RunProgress, shown
from .report import RunReport
from .runner import (
    EXIT_FAILED,
    RunResult,
    RunSettings,
    choose_accounts,
    format_summary,
    oauth_from_config,
    resolve_credentials,
    run_load,
)
from .settings import (
    DATASET_NAME,
    DEFAULT_ACCOUNT_CONCURRENCY,
    DEMO_SCALE,
    DEMO_SEED,
    DEMO_TIME_SCALE,
    DUCKDB_FILE,
    DUCKDB_MEMORY_LIMIT,
    EXIT_DIFFERS,
    PIPELINE_NAME,
    VERIFY_MONTHS_BACK,
)
from .summary import explain
from .table_format import PARQUET, TABLE_FORMATS

DEMO_SCALES = ("tiny", "small", "large")
# dlt settings the checkout's .dlt/config.toml sets, applied when nothing (a config file in the working
# folder, an env var) sets them: loaded packages must not pile up in the working folder run after run.
DLT_DEFAULTS = {"load.delete_completed_jobs": "true"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="harvest-dlt", description="Load Harvest (API v2) into a dlt destination.")
    parser.add_argument("--demo", action="store_true",
                        help=f"load the built-in Harvest simulator ({DEMO_SCALE} account); no account needed")
    parser.add_argument("--demo-scale", choices=DEMO_SCALES, default=DEMO_SCALE,
                        help=f"size of the demo's simulated account (default: {DEMO_SCALE})")
    parser.add_argument("--destination", default="duckdb",
                        help="dlt destination name, e.g. duckdb, postgres, filesystem (default: duckdb)")
    parser.add_argument("--table-format", choices=TABLE_FORMATS, default=PARQUET,
                        help="with --destination filesystem: parquet (plain files, changes are appended) or delta "
                             "(Delta tables that merge and delete; needs the delta extra) (default: parquet)")
    parser.add_argument("--dataset", default=DATASET_NAME, help=f"dataset/schema name (default: {DATASET_NAME})")
    parser.add_argument("--duckdb-file", default=DUCKDB_FILE, help=f"DuckDB file (default: {DUCKDB_FILE})")
    parser.add_argument("--duckdb-memory-limit", default=DUCKDB_MEMORY_LIMIT,
                        help="DuckDB's memory cap for the load, e.g. 512MB or 2GB; above it DuckDB spills to "
                             f"<file>.tmp (default: {DUCKDB_MEMORY_LIMIT})")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME,
                        help=f"dlt pipeline name prefix, one pipeline NAME_<account_id> per account "
                             f"(default: {PIPELINE_NAME})")
    parser.add_argument("--resources", help="comma-separated tables to load (default: all): " + ", ".join(TABLES))
    parser.add_argument("--full-refresh", action="store_true",
                        help="rebuild the dataset: drop every account's tables, views and cursors, then load "
                             "the listed accounts again")
    parser.add_argument("--account-concurrency", type=int, default=DEFAULT_ACCOUNT_CONCURRENCY,
                        help="accounts extracted at once, each under its own rate limits "
                             f"(default: {DEFAULT_ACCOUNT_CONCURRENCY})")
    parser.add_argument("--start-date", help="first run only: load dated facts (time, expenses, invoices, "
                        "estimates, report periods) from YYYY-MM-DD on; dimensions load whole")
    parser.add_argument("--sweep", action="store_true",
                        help="re-read fan-out children (messages, payments, rates, ...) for every parent and "
                        "look for records deleted in Harvest now (setting deletes: hard, soft or off)")
    parser.add_argument("--strict", action="store_true",
                        help="fail instead of skipping a resource the token may not read (403)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="show progress while loading: live on a terminal, a log line every few seconds "
                             "otherwise (default: on)")
    parser.add_argument("--verify", action="store_true",
                        help="load nothing: compare the destination with Harvest (row counts, monthly totals "
                             f"against Harvest's reports); exit 0 all match, {EXIT_DIFFERS} something differs, "
                             "1 could not check")
    parser.add_argument("--since", type=_date, help="with --verify: first month to compare, YYYY-MM-DD "
                                                    f"(default: {VERIFY_MONTHS_BACK} months back)")
    parser.add_argument("--until", type=_date, help="with --verify: last day to compare (default: today)")
    parser.add_argument("--authorize", action="store_true",
                        help="connect an OAuth app (client_id, client_secret in secrets): print the authorize URL, "
                             "receive the browser's redirect on 127.0.0.1 and store the refresh token")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request (never the token)")
    return parser.parse_args(argv)


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date: use YYYY-MM-DD") from None


def selected_resources(value: str | None) -> list[str] | None:
    """``--resources``: None loads every table; a value that names no table is an error, not 'all'."""
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise HarvestConfigError(f"--resources {value!r} selects no table",
                                 hint="name one or more tables, e.g. --resources time_entries,projects; "
                                      "leave the flag out to load every table")
    return names


def apply_dlt_defaults() -> None:
    """Telemetry off (as the checkout's config says), and ``DLT_DEFAULTS`` where nothing sets them."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    for key, value in DLT_DEFAULTS.items():
        if dlt.config.get(key) is None:
            os.environ.setdefault(key.upper().replace(".", "__"), value)


@contextlib.contextmanager
def harvest_account(
    demo: bool, settings: RunSettings, scale: str = DEMO_SCALE
) -> Iterator[tuple[str | OAuthSettings, str, str]]:
    """The real account from dlt config, or a simulator started for the demo."""
    if not demo:
        yield resolve_credentials()
        return
    from .simulator import run_simulator

    with run_simulator(scale=scale, seed=DEMO_SEED, rate_limit="harvest", time_scale=DEMO_TIME_SCALE) as sim:
        window = 15.0 / DEMO_TIME_SCALE
        settings.source_options.setdefault("rate_limit_window_s", window)
        print(f"Demo: Harvest simulator ({scale} account) at {sim.base_url}, "
              f"rate limit 100 requests per {window:g} s", flush=True)
        yield "demo-token", str(sim.account_id), sim.base_url


def load(
    settings: RunSettings, token: str | OAuthSettings, account_id: str, base_url: str, progress: bool = True
) -> RunResult:
    """``run_load``, with the live progress display around it when ``progress`` (one account: several
    accounts run at once, and the summary gives one line per account instead)."""
    if not progress or not single_account(account_id):
        return run_load(settings, token, account_id, base_url)
    report = RunReport()
    watch = RunProgress(report)
    settings.progress = watch.collector()
    with shown(watch):
        return run_load(settings, token, account_id, base_url, report=report)


def single_account(account_id: str) -> bool:
    try:
        chosen = parse_account_setting(account_id)
    except HarvestError:
        return True  # run_load says what is wrong with it
    return chosen != ALL and len(chosen) == 1


def _fail(error: HarvestError) -> int:
    print(f"error: {explain(error)}", file=sys.stderr)
    return EXIT_FAILED


def _authorize() -> int:
    from .authorize import run_authorize

    try:
        run_authorize(oauth_from_config(need_token=False))
    except HarvestError as error:
        return _fail(error)
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command; returns its exit code (the console script exits with it)."""
    args = parse_args(argv)
    configure_logging(verbose=args.verbose)
    apply_dlt_defaults()
    stop_on_signals()  # Ctrl-C and SIGTERM stop the run, even when the parent ignores SIGINT
    if args.authorize:
        return _authorize()
    try:
        resources = selected_resources(args.resources)
    except HarvestError as error:
        return _fail(error)
    settings = RunSettings(
        destination=args.destination, dataset=args.dataset, pipeline_name=args.pipeline_name,
        duckdb_file=args.duckdb_file, duckdb_memory_limit=args.duckdb_memory_limit, resources=resources,
        full_refresh=args.full_refresh,
        account_concurrency=max(1, args.account_concurrency), table_format=args.table_format,
        start_date=args.start_date, force_sweep=args.sweep, strict=args.strict,
    )
    if args.verify:
        return verify(args, settings)
    try:
        with harvest_account(args.demo, settings, args.demo_scale) as (token, account_id, base_url):
            result = load(settings, token, account_id, base_url, progress=args.progress)
    except HarvestError as error:
        return _fail(error)
    print(format_summary(result), file=sys.stderr if result.error else sys.stdout)
    return result.exit_code


def verify(args: argparse.Namespace, settings: RunSettings) -> int:
    """``--verify``: the checks' lines on stdout; exit 0, ``EXIT_DIFFERS`` or 1 (could not check)."""
    from .verify import format_result, run_verify

    codes = []
    try:
        with harvest_account(args.demo, settings, args.demo_scale) as (token, setting, base_url):
            for account_id in choose_accounts(setting, token, settings).harvest:  # each account on its own
                result = run_verify(settings, token, account_id, base_url, since=args.since, until=args.until)
                print(format_result(result, account_id), flush=True)
                codes.append(result.exit_code)
    except HarvestError as error:
        return _fail(error)
    except Exception as error:  # the destination could not be read: verify could not check
        print(f"error: verify could not read the destination ({describe_destination(settings)}): "
              f"{type(error).__name__}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_DIFFERS if EXIT_DIFFERS in codes else max(codes, default=EXIT_FAILED)


if __name__ == "__main__":
    sys.exit(main())
