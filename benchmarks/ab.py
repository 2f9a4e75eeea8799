"""A/B in one process: one change switched off (A) and on (B) in alternating runs, medians compared.

    python benchmarks/ab.py read-ahead processing --pairs 5   # scenario 4, 210,024 time entries
    python benchmarks/ab.py load-step processing --pairs 3
    python benchmarks/ab.py load-step full --pairs 3          # scenario 1, small account, rate-limited

The changes that can be switched off:

* ``load-step`` (commits 133e72b and c66dbfa): off gives dlt a DuckDB path instead of one held
  connection (``destination.open_duckdb``, patched where the runner looks it up, returns None) and merges
  first loads (the source's ``first_load.empty_tables`` proves no table empty).
* ``read-ahead`` (commit 661dfa8): off reads the arrow path's pages one at a time
  (``settings.READ_AHEAD_PAGES = 1``, read by ``reading.read_pages`` at run time).

Alternating A and B in the same process is what makes the figures comparable on a host whose speed
drifts; the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run as bench  # noqa: E402
from simproc import SimProcess  # noqa: E402

import harvest_source.first_load as first_load  # noqa: E402
import harvest_source.runner as runner  # noqa: E402
import harvest_source.settings as settings  # noqa: E402

HELD, EMPTY, AHEAD = runner.open_duckdb, first_load.empty_tables, settings.READ_AHEAD_PAGES


def load_step(on: bool) -> None:
    runner.open_duckdb = HELD if on else (lambda settings: None)
    first_load.empty_tables = EMPTY if on else (lambda *args: [])


def read_ahead(on: bool) -> None:
    settings.READ_AHEAD_PAGES = AHEAD if on else 1


SWITCHES: dict[str, Callable[[bool], None]] = {"load-step": load_step, "read-ahead": read_ahead}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("change", choices=sorted(SWITCHES))
    parser.add_argument("scenario", choices=("full", "processing"))
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    switch = SWITCHES[args.change]
    root = Path(tempfile.mkdtemp(prefix="ab_"))
    sampler = bench.MemorySampler()
    results: dict[str, list[tuple[float, dict[str, float]]]] = {"A (off)": [], "B (on)": []}
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
                results[label].append((figure, row.steps))
                steps = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in row.steps.items())
                print(f"{label} #{i + 1}: {'wall/floor' if args.scenario == 'full' else 'rows/s'} "
                      f"{figure:,.3f}; {steps}", flush=True)
    switch(True)
    medians: dict[str, float] = {}
    for label, runs in results.items():
        medians[label] = statistics.median(figure for figure, _ in runs)
        steps = {name: statistics.median(s.get(name, 0.0) for _, s in runs) for name in runs[0][1]}
        print(f"{label}: median {medians[label]:,.3f}; median steps "
              + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in steps.items()))
    a, b = medians.values()
    print(f"B/A: {b / a:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
