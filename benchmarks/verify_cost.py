"""What ``harvest-dlt --verify`` costs: requests (as the simulator counts them) and wall time.

    python benchmarks/verify_cost.py [--scale small|large] [--latency-ms 30]

Loads a simulated account whose data ends today into a fresh DuckDB file, then runs the command
``harvest-dlt --verify`` (default months: three back and the current one) as a user runs it: the
client paces at Harvest's real limits (100 per 15 s, reports 100 per 15 min), the simulator adds
``--latency-ms`` to every request. Prints the simulator's request counts per bucket and verify's wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harvest_source.cli import main  # noqa: E402
from harvest_source.run_types import RunSettings  # noqa: E402
from harvest_source.runner import run_load  # noqa: E402
from harvest_source.simulator import run_simulator  # noqa: E402


def measure(scale: str, latency_ms: float) -> None:
    folder = Path(tempfile.mkdtemp(prefix="verify_cost_"))
    os.chdir(folder)
    os.environ.update(DLT_DATA_DIR=str(folder / "dlt"), RUNTIME__DLTHUB_TELEMETRY="false")
    with run_simulator(scale, seed=1, latency_ms=latency_ms, now=int(time.time()) // 60 * 60) as sim:
        settings = RunSettings(duckdb_file=str(folder / "h.duckdb"), pipeline_name="h",
                               source_options={"rate_limit_window_s": 0.001})
        sim.latency_ms = 0
        result = run_load(settings, sim.admin_token, str(sim.account_id), sim.base_url)
        assert result.exit_code == 0, result.error
        sim.latency_ms = latency_ms
        sim.reset_stats()
        os.environ.update(SOURCES__HARVEST__ACCESS_TOKEN=sim.admin_token,
                          SOURCES__HARVEST__ACCOUNT_ID=str(sim.account_id), SOURCES__HARVEST__BASE_URL=sim.base_url)
        started = time.monotonic()
        code = main(["--verify", "--duckdb-file", settings.duckdb_file, "--pipeline-name", "h"])
        wall = time.monotonic() - started
        stats = sim.stats()
    reports = sum(n for path, n in stats["by_path"].items() if path.startswith("/v2/reports/"))
    print(f"scale {scale}, latency {latency_ms:g} ms: exit {code}, {stats['total']} requests "
          f"({reports} reports, {stats['total'] - reports} general), {wall:.2f} s wall")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=("tiny", "small", "large"))
    parser.add_argument("--latency-ms", type=float, default=30.0)
    args = parser.parse_args()
    measure(args.scale, args.latency_ms)
