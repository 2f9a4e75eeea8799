"""What the report tables add to a run: requests and wall time, first load and incremental (1% changed).

    python benchmarks/reports_cost.py [--scale small|large] [--time-scale 20]

Each variant (every table, and every table but the reports) runs on its own simulator (same seed) with
Harvest's rate limits divided by ``--time-scale`` on both sides, as ``benchmarks/run.py`` does.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from harvest_source.catalog import TABLES
from harvest_source.run_types import RunSettings
from harvest_source.runner import run_load
from harvest_source.simulator import run_simulator
from harvest_source.simulator.clock import NOW_ENV, PINNED_NOW


def measure(scale: str, time_scale: float, with_reports: bool, folder: Path) -> list[tuple[str, int, int, float]]:
    resources = [t for t in TABLES if with_reports or not t.startswith("reports_")]
    options = {"rate_limit_window_s": 15.0 / time_scale, "reports_today": PINNED_NOW[:10]}
    out = []
    with run_simulator(scale=scale, seed=1, rate_limit="harvest", time_scale=time_scale) as sim:
        for name in ("first", "incremental"):
            if name == "incremental":
                sim.mutate_random(fraction=0.01, seed=1)
            sim.reset_stats()
            settings = RunSettings(duckdb_file=str(folder / "h.duckdb"), pipelines_dir=str(folder / "p"),
                                   resources=resources, source_options=options)
            started = time.perf_counter()
            result = run_load(settings, sim.admin_token, str(sim.account_id), sim.base_url)
            wall = time.perf_counter() - started
            assert result.exit_code == 0, result.error
            reports = sum(n for p, n in sim.stats()["by_path"].items() if p.startswith("/v2/reports/"))
            out.append((name, result.requests, reports, wall))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", default="small")
    parser.add_argument("--time-scale", type=float, default=20.0)
    args = parser.parse_args()
    os.environ[NOW_ENV] = PINNED_NOW
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    with tempfile.TemporaryDirectory() as root:
        rows = {}
        for with_reports in (False, True):
            folder = Path(root) / str(with_reports)
            folder.mkdir()
            rows[with_reports] = measure(args.scale, args.time_scale, with_reports, folder)
    print(f"scale={args.scale}, Harvest's rate limits / {args.time_scale:g}")
    print(f"{'run':<12} {'requests w/o':>12} {'with':>6} {'report reqs':>11} {'wall w/o s':>10} {'with s':>7}")
    for (name, req0, _, wall0), (_, req1, rep1, wall1) in zip(rows[False], rows[True], strict=True):
        print(f"{name:<12} {req0:>12} {req1:>6} {rep1:>11} {wall0:>10.1f} {wall1:>7.1f}")


if __name__ == "__main__":
    main()
