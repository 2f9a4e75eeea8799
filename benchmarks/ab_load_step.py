"""A/B in one process: the load-step changes of commits 133e72b and c66dbfa, on and off, runs alternating.

    python benchmarks/ab_load_step.py full --pairs 3        # scenario 1, small account, rate-limited
    python benchmarks/ab_load_step.py processing --pairs 3  # scenario 4, 210,024 time entries

"off" (A) gives dlt a DuckDB path instead of one held connection (``runner.open_duckdb`` returns None)
and merges first loads (``runner.append_first_loads`` does nothing); "on" (B) is the code as it is.
Alternating A and B in the same process is what makes the figures comparable on a host whose speed
drifts; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from simproc import SimProcess  # noqa: E402

import harvest_source.runner as runner  # noqa: E402

HELD, APPEND = runner.open_duckdb, runner.append_first_loads


def switch(on: bool) -> None:
    runner.open_duckdb = HELD if on else (lambda settings: None)
    runner.append_first_loads = APPEND if on else (lambda *args: [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=("full", "processing"))
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ab_load_step_"))
    sampler = bench.MemorySampler()
    results: dict[str, list[tuple[float, float]]] = {"A (off)": [], "B (on)": []}
    if args.scenario == "full":
        sim = SimProcess("small", seed=1, rate_limit="harvest", time_scale=10, latency_ms=30)
    else:
        sim = SimProcess("large", seed=1, rate_limit="off", latency_ms=0)
    with sim:
        for i in range(args.pairs):
            for label in results:
                switch(label.startswith("B"))
                if args.scenario == "full":
                    time.sleep(1.6)  # the simulator's window empties between runs
                    folder = bench.fresh_folder(root, f"{label[0]}{i}")
                    settings = bench.settings_for(folder, source_options={"rate_limit_window_s": 1.5})
                    row, _ = bench.run_ours(sim, settings, sampler, label, 1.5)
                    figure = row.ratio or 0.0
                else:
                    row = bench.processing_ours(sim, root, f"{label[0]}{i}", sampler)
                    figure = row.rows_per_s
                results[label].append((figure, row.steps.get("load", 0.0)))
                print(f"{label} #{i + 1}: {'wall/floor' if args.scenario == 'full' else 'rows/s'} "
                      f"{figure:,.3f}, load step {row.steps.get('load', 0.0):.3f} s", flush=True)
    switch(True)
    medians = {k: (statistics.median(f for f, _ in v), statistics.median(s for _, s in v)) for k, v in results.items()}
    for label, (figure, load) in medians.items():
        print(f"{label}: median {figure:,.3f}, load step median {load:.3f} s")
    (a_fig, a_load), (b_fig, b_load) = medians.values()
    print(f"B/A: figure {b_fig / a_fig:.3f}, load step {b_load / a_load:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
