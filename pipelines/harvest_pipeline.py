"""Load Harvest into DuckDB (or any dlt destination).

    python pipelines/harvest_pipeline.py --demo            # built-in simulator -> harvest.duckdb
    python pipelines/harvest_pipeline.py                   # your account (token + account id from dlt config)

Exit code 0 when every selected resource loaded, 2 when some were skipped for lack of
permission, 1 when the run failed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from harvest_source.catalog import TABLES  # noqa: E402
from harvest_source.errors import HarvestError  # noqa: E402
from harvest_source.interrupts import stop_on_signals  # noqa: E402
from harvest_source.logs import quiet_known_dlt_noise  # noqa: E402
from harvest_source.runner import (  # noqa: E402
    EXIT_FAILED,
    RunSettings,
    format_summary,
    resolve_credentials,
    run_load,
)
from harvest_source.settings import DATASET_NAME, DUCKDB_FILE, PIPELINE_NAME  # noqa: E402

DEMO_SCALE = "small"
DEMO_SEED = 1
# The demo simulator enforces Harvest's rate limit 20x faster, so the demo shows real pacing
# (100 requests per 0.75 s instead of per 15 s) and finishes in seconds, not minutes.
DEMO_TIME_SCALE = 20.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Load Harvest (API v2) into a dlt destination.")
    parser.add_argument("--demo", action="store_true",
                        help=f"load the built-in Harvest simulator ({DEMO_SCALE} account); no account needed")
    parser.add_argument("--destination", default="duckdb",
                        help="dlt destination name, e.g. duckdb, postgres, filesystem (default: duckdb)")
    parser.add_argument("--dataset", default=DATASET_NAME, help=f"dataset/schema name (default: {DATASET_NAME})")
    parser.add_argument("--duckdb-file", default=DUCKDB_FILE, help=f"DuckDB file (default: {DUCKDB_FILE})")
    parser.add_argument("--pipeline-name", default=PIPELINE_NAME, help=f"dlt pipeline name (default: {PIPELINE_NAME})")
    parser.add_argument("--resources", help="comma-separated tables to load (default: all): " + ", ".join(TABLES))
    parser.add_argument("--full-refresh", action="store_true",
                        help="drop this source's tables and cursors, then load everything again")
    parser.add_argument("--start-date", help="first run only: load records updated on or after YYYY-MM-DD")
    parser.add_argument("--sweep", action="store_true",
                        help="re-read fan-out children (messages, payments, rates, ...) for every parent now")
    parser.add_argument("--strict", action="store_true",
                        help="fail instead of skipping a resource the token may not read (403)")
    parser.add_argument("--progress", action="store_true", help="log dlt's progress while loading")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request (never the token)")
    return parser.parse_args(argv)


@contextlib.contextmanager
def harvest_account(demo: bool, settings: RunSettings) -> Iterator[tuple[str, str, str]]:
    """The real account from dlt config, or a simulator started for the demo."""
    if not demo:
        yield resolve_credentials()
        return
    from harvest_source.simulator import run_simulator

    with run_simulator(scale=DEMO_SCALE, seed=DEMO_SEED, rate_limit="harvest", time_scale=DEMO_TIME_SCALE) as sim:
        window = 15.0 / DEMO_TIME_SCALE
        settings.source_options.setdefault("rate_limit_window_s", window)
        print(f"Demo: Harvest simulator ({DEMO_SCALE} account) at {sim.base_url}, "
              f"rate limit 100 requests per {window:g} s", flush=True)
        yield "demo-token", str(sim.account_id), sim.base_url


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    quiet_known_dlt_noise()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    stop_on_signals()  # Ctrl-C and SIGTERM stop the run, even when the parent ignores SIGINT
    settings = RunSettings(
        destination=args.destination, dataset=args.dataset, pipeline_name=args.pipeline_name,
        duckdb_file=args.duckdb_file,
        resources=[r.strip() for r in args.resources.split(",") if r.strip()] if args.resources else None,
        full_refresh=args.full_refresh, start_date=args.start_date, force_sweep=args.sweep,
        strict=args.strict, progress=args.progress,
    )
    try:
        with harvest_account(args.demo, settings) as (token, account_id, base_url):
            result = run_load(settings, token, account_id, base_url)
    except HarvestError as error:
        print(f"error: {error}" + (f"\n  what to do: {error.hint}" if error.hint else ""), file=sys.stderr)
        return EXIT_FAILED
    summary = format_summary(result)
    print(summary, file=sys.stderr if result.error else sys.stdout)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
