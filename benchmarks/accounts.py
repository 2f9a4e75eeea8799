"""Benchmark: how many accounts one machine carries at Harvest's real rate (issue 16 §2).

    python benchmarks/accounts.py                 # N = 1, 5, 20 small accounts, about 12 minutes
    python benchmarks/accounts.py --n 1 5 20 50   # 50 as well, if the time allows

One simulator serves max(N) ``small`` accounts (account i: data of seed 1 + i) at Harvest's real rate
limit (100 requests per 15 s per token and account, time scale 1) with ``--latency-ms`` per request. For
each N, a fresh loader process (``--load``: ``run_load`` with the first N accounts, ``account_concurrency
= N``, one DuckDB file) loads them all from scratch; this process samples the RSS of the loader's process
tree (the simulator is not in it) every 50 ms and reads its CPU time when it exits. Prints per N: wall /
one account's floor, requests, 429s, CPU seconds per 10k records, peak memory, and the TARGET lines
``accounts_wall``, ``accounts_cpu``, ``accounts_memory`` (exit code 0 only if all pass).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from harvest_source.settings import DUCKDB_MEMORY_LIMIT  # noqa: E402

HARVEST_LIMIT = 100
HARVEST_WINDOW_S = 15.0
GIB = 2**30


@dataclass
class Figures:
    n: int
    wall_s: float
    requests: int
    general_requests_max: int  # the busiest account's requests in the general bucket
    throttled: int
    records: int
    cpu_s: float
    peak_rss: int
    exit_code: int

    def cpu_per_10k(self) -> float:
        return self.cpu_s / self.records * 10_000 if self.records else float("nan")


def load_in_this_process(args: argparse.Namespace) -> int:
    """The loader: every account listed, at once, into one DuckDB file; prints a JSON line."""
    from harvest_source.run_types import RunSettings
    from harvest_source.runner import run_load

    folder = Path(args.folder)
    os.environ["DLT_DATA_DIR"] = str(folder / "dlt_home")
    accounts = args.account_ids.split(",")
    settings = RunSettings(duckdb_file=str(folder / "harvest.duckdb"), pipelines_dir=str(folder / "pipelines"),
                           account_concurrency=len(accounts), duckdb_memory_limit=args.duckdb_memory_limit or None,
                           **({"resources": args.resources.split(",")} if args.resources else {}),
                           source_options={"rate_limit_window_s": HARVEST_WINDOW_S / args.time_scale})
    started = time.perf_counter()
    result = run_load(settings, args.token, args.account_ids, args.base_url)
    wall = time.perf_counter() - started
    print(json.dumps({"wall_s": wall, "records": sum(result.rows.values()), "exit_code": result.exit_code,
                      "error": result.error}), flush=True)
    return result.exit_code


class TreeSampler:
    """Peak RSS of a process and its descendants (sampled; the sum over the tree at each sample)."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        import psutil

        self._root = psutil.Process(pid)
        self._interval = interval_s
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.wait(self._interval):
            try:
                procs = [self._root, *self._root.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def run_n(sim: Any, n: int, root: Path, args: argparse.Namespace) -> Figures:
    folder = root / f"n{n}"
    folder.mkdir()
    ids = ",".join(sim.account_ids[:n])
    sim.reset_stats()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--load", "--folder", str(folder), "--account-ids", ids,
           "--base-url", sim.base_url, "--token", sim.token, "--time-scale", str(args.time_scale)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    sampler = TreeSampler(proc.pid)
    out, _ = proc.communicate()
    peak = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    doc = json.loads(out.strip().splitlines()[-1])
    if doc["exit_code"] != 0:
        print(f"N={n}: the load ended with exit code {doc['exit_code']}: {doc['error']}", flush=True)
    stats = sim.stats()
    general_max = 0
    for account in sim.account_ids[:n]:
        per = sim._get(f"/__sim__/stats?account={account}")
        general = int(per["total"]) - sum(c for p, c in per["by_path"].items() if p.startswith("/v2/reports/"))
        general_max = max(general_max, general)
    return Figures(n, doc["wall_s"], int(stats["total"]), general_max, int(stats["by_status"].get("429", 0)),
                   int(doc["records"]), cpu, peak, int(doc["exit_code"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[1, 5, 20], help="account counts to run (ascending)")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--time-scale", type=float, default=1.0, help="1 = Harvest's real 15 s window")
    parser.add_argument("--latency-ms", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true")
    # the loader process (internal)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--account-ids", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--resources", help=argparse.SUPPRESS)
    parser.add_argument("--duckdb-memory-limit", default=DUCKDB_MEMORY_LIMIT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load:
        return load_in_this_process(args)

    from simproc import SimProcess

    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="harvest-accounts-"))
    figures: list[Figures] = []
    try:
        generating = time.perf_counter()
        with SimProcess(args.scale, rate_limit="harvest", time_scale=args.time_scale, latency_ms=args.latency_ms,
                        accounts=max(args.n)) as sim:
            import psutil

            sim_rss = psutil.Process(sim.pid).memory_info().rss
            print(f"simulator: {len(sim.account_ids)} {args.scale} accounts generated in "
                  f"{time.perf_counter() - generating:.0f} s, RSS {sim_rss / 2**20:,.0f} MB; rate limit "
                  f"{HARVEST_LIMIT} per {HARVEST_WINDOW_S / args.time_scale:g} s per account, "
                  f"{args.latency_ms:g} ms latency", flush=True)
            for n in sorted(args.n):
                f = run_n(sim, n, root, args)
                figures.append(f)
                print(f"  N={n}: {f.wall_s:.1f} s, {f.requests} requests, {f.throttled} x 429, {f.records:,} "
                      f"records, CPU {f.cpu_s:.1f} s, peak {f.peak_rss / 2**20:,.0f} MB", flush=True)
    finally:
        if args.keep:
            print(f"folders kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    window = HARVEST_WINDOW_S / args.time_scale
    one = figures[0]
    floor = one.general_requests_max * window / HARVEST_LIMIT  # one account's floor (the N=1 run's account)
    print()
    print(f"python benchmarks/accounts.py {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"{args.scale} accounts, rate limit {HARVEST_LIMIT} per {window:g} s per account (time scale "
          f"{args.time_scale:g}), {args.latency_ms:g} ms latency; one account's floor {floor:.1f} s "
          f"({one.general_requests_max} general requests); {os.cpu_count()} cores shared with other work; "
          f"total {time.perf_counter() - started:.0f} s")
    print()
    print("| N | wall s | wall / one account's floor | busiest account's floor s | requests | 429s | records "
          "| CPU s | CPU s per 10k records | CPU per 10k / N=1 | peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in figures:
        own_floor = f.general_requests_max * window / HARVEST_LIMIT
        print(f"| {f.n} | {f.wall_s:.1f} | {f.wall_s / floor:.3f} | {own_floor:.1f} | {f.requests:,} | "
              f"{f.throttled} | {f.records:,} | {f.cpu_s:.1f} | {f.cpu_per_10k():.2f} | "
              f"{f.cpu_per_10k() / one.cpu_per_10k():.2f} | {f.peak_rss / 2**20:,.0f} MB |")
    print()
    top = next((f for f in figures if f.n == 20), figures[-1])
    targets = [
        ("accounts_wall", top.wall_s <= 1.2 * floor and top.throttled == 0 and top.exit_code == 0,
         f"N={top.n}: wall {top.wall_s:.1f} s / one account's floor {floor:.1f} s = {top.wall_s / floor:.3f} "
         f"(<= 1.2), {top.throttled} x 429, exit {top.exit_code}"),
        ("accounts_cpu", top.cpu_per_10k() <= 1.2 * one.cpu_per_10k(),
         f"N={top.n}: {top.cpu_per_10k():.2f} CPU s per 10k records / N={one.n}: {one.cpu_per_10k():.2f} = "
         f"{top.cpu_per_10k() / one.cpu_per_10k():.2f} (<= 1.2)"),
        ("accounts_memory", top.peak_rss < 4 * GIB,
         f"N={top.n}: peak RSS of the loader's process tree {top.peak_rss / 2**20:,.0f} MB (< 4096 MB)"),
    ]
    for name, ok, figure in targets:
        print(f"TARGET {name}: {'PASS' if ok else 'FAIL'} {figure}")
    return 0 if all(ok for _, ok, _ in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
