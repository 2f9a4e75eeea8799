"""What a deletion sweep costs: requests per table and per 10,000 records, and the pass's wall time.

    python benchmarks/deletes_cost.py [--scale small|large] [--seed 1]

Loads a simulated account once (no rate limit), deletes one record of each top-level kind in Harvest, then
runs the deletion pass as a ``--sweep`` run does (``run_deletion_pass``) with its own client, counting its
requests: ``ceil(ids / 2000)`` pages of each table's listing, one "changed since" request per table (the
record-changed-while-listing check) and one ``GET /v2/users/me``. Harvest-time is requests at 100 per 15 s.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import dlt

from harvest_source.catalog import ENDPOINTS
from harvest_source.client import HarvestClient
from harvest_source.deletion_pass import DeletionPlan, run_deletion_pass
from harvest_source.rules import deletion_swept
from harvest_source.run_types import RunSettings, account_pipeline_name
from harvest_source.runner import run_load
from harvest_source.simulator import run_simulator
from harvest_source.simulator.clock import NOW_ENV, PINNED_NOW

SWEPT = [e.table for e in ENDPOINTS if deletion_swept(e)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.environ[NOW_ENV] = PINNED_NOW
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    with tempfile.TemporaryDirectory() as root, run_simulator(scale=args.scale, seed=args.seed) as sim:
        folder = Path(root)
        os.environ["DLT_DATA_DIR"] = str(folder / "dlt_home")
        settings = RunSettings(duckdb_file=str(folder / "h.duckdb"), pipelines_dir=str(folder / "p"),
                               source_options={"rate_limit_window_s": 0.001, "reports_today": PINNED_NOW[:10],
                                               "deletes": "off"})
        loaded = run_load(settings, sim.admin_token, str(sim.account_id), sim.base_url)
        assert loaded.exit_code == 0, loaded.error
        counts = sim.counts()
        for table in SWEPT:  # one of each (a project takes its assignments with it); never the token's own user
            ids = [r["id"] for r in sim.records(table) if not (table == "users" and r["id"] == sim.admin_user_id)]
            if ids:
                sim.mutate("delete", key=table, id=ids[-1])
        pipeline = dlt.pipeline(account_pipeline_name("harvest", sim.account_id),
                                destination=dlt.destinations.duckdb(settings.duckdb_file),
                                dataset_name=settings.dataset, pipelines_dir=settings.pipelines_dir)
        client = HarvestClient(sim.admin_token, sim.account_id, sim.base_url, rate_limit=(100, 0.001))
        sim.reset_stats()
        started = time.perf_counter()
        outcome = run_deletion_pass(pipeline, int(sim.account_id), DeletionPlan("hard", client, force_sweep=True),
                                    selected=SWEPT, skipped=())
        wall = time.perf_counter() - started
        by_path = sim.stats()["by_path"]
    records = sum(counts.get(t, 0) for t in SWEPT)
    requests = sum(by_path.values())
    print(f"scale={args.scale} seed={args.seed}: deletion sweep of {len(SWEPT)} tables")
    print(f"{'table':<26} {'records':>9} {'requests':>9} {'deleted':>8}")
    for table in SWEPT:
        path = next(e.path for e in ENDPOINTS if e.table == table)
        print(f"{table:<26} {counts.get(table, 0):>9,} {by_path.get('/v2/' + path, 0):>9} "
              f"{outcome.deleted.get(table, 0):>8}")
    print(f"{'users/me':<26} {'':>9} {by_path.get('/v2/users/me', 0):>9}")
    for table, rows in sorted(outcome.deleted.items()):
        if table not in SWEPT:  # children of deleted parents: no request of their own
            print(f"{table:<26} {'':>9} {0:>9} {rows:>8}")
    print(f"total: {records:,} records, {requests} requests = {requests / records * 10_000:.1f} requests per "
          f"10,000 records; {requests * 15 / 100:.0f} s of Harvest's rate limit (100 per 15 s); "
          f"pass wall time here (no rate limit): {wall:.1f} s")
    if outcome.warnings:
        print(f"warnings: {outcome.warnings}")


if __name__ == "__main__":
    main()
