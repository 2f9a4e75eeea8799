"""Profile: how long each account's load step holds the run's load turn (issue 16, ``accounts_wall``).

    python benchmarks/load_turns.py --n 20

N ``small`` accounts loaded at once in this process with the rate limit off, every ``Pipeline.load``
timed. At Harvest's real rate every account reaches its floor at about the same moment, so these load
steps then run one after another: their sum is what a run of N accounts spends above one account's floor.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import dlt  # noqa: E402
from simproc import SimProcess  # noqa: E402

from harvest_source.run_types import RunSettings  # noqa: E402
from harvest_source.runner import run_load  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--scale", default="small")
    args = parser.parse_args(argv)
    steps: list[float] = []
    load = dlt.Pipeline.load

    def timed_load(self: dlt.Pipeline, *a: object, **k: object) -> object:
        started = time.perf_counter()
        try:
            return load(self, *a, **k)
        finally:
            steps.append(time.perf_counter() - started)

    dlt.Pipeline.load = timed_load  # type: ignore[method-assign]
    with SimProcess(args.scale, rate_limit="off", latency_ms=0, accounts=args.n) as sim, \
            tempfile.TemporaryDirectory() as folder:
        settings = RunSettings(duckdb_file=f"{folder}/harvest.duckdb", pipelines_dir=f"{folder}/pipelines",
                               account_concurrency=args.n, source_options={"rate_limit_window_s": 0.001})
        started = time.perf_counter()
        result = run_load(settings, sim.token, ",".join(sim.account_ids[:args.n]), sim.base_url)
        wall = time.perf_counter() - started
    print(json.dumps({"n": args.n, "exit_code": result.exit_code, "wall_s": round(wall, 1),
                      "load_steps": len(steps), "load_s_mean": round(sum(steps) / len(steps), 2),
                      "load_s_sum": round(sum(steps), 1), "load_s_max": round(max(steps), 2)}))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
