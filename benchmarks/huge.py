"""Benchmark: one account far larger than ``large`` (issue 16 §2): memory and throughput of a full load.

    python benchmarks/huge.py                          # large, then huge (~2M time entries): long
    python benchmarks/huge.py --resources time_entries # the time entries alone

For each scale a simulator runs in its own process with the rate limit off and no latency; a fresh
loader process (``accounts.py --load``, ``run_load`` of the one account) does a full load into an empty
folder while this process samples the RSS of the loader's process tree every 50 ms. TARGET
``huge_memory``: peak RSS of the huge load at most 1 GB and its rows/s at least 0.8 x the large load's
of the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from accounts import TreeSampler  # noqa: E402
from simproc import SimProcess  # noqa: E402

NO_LIMIT_TIME_SCALE = 15_000.0  # the loader's pacer window 15 s / 15,000 = 1 ms: it never waits


def load(scale: str, root: Path, resources: str | None, memory_limit: str | None = None) -> dict:
    generating = time.perf_counter()
    with SimProcess(scale, rate_limit="off", latency_ms=0) as sim:
        import psutil

        generated_s = time.perf_counter() - generating
        sim_rss = psutil.Process(sim.pid).memory_info().rss
        folder = root / scale
        folder.mkdir()
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, str(HERE / "accounts.py"), "--load", "--folder", str(folder), "--account-ids",
               sim.account_id, "--base-url", sim.base_url, "--token", sim.token,
               "--time-scale", str(NO_LIMIT_TIME_SCALE)]
        if resources:
            cmd += ["--resources", resources]
        if memory_limit is not None:
            cmd += ["--duckdb-memory-limit", memory_limit]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        sampler = TreeSampler(proc.pid)
        out, _ = proc.communicate()
        peak = sampler.stop()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        doc = json.loads(out.strip().splitlines()[-1])
        doc.update(scale=scale, peak_rss=peak, generated_s=generated_s, sim_rss=sim_rss,
                   cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                   requests=int(sim.stats()["total"]))
    print(f"  {scale}: {doc['records']:,} records in {doc['wall_s']:.1f} s, peak {peak / 2**20:,.0f} MB "
          f"(simulator generated in {generated_s:.0f} s, RSS {sim_rss / 2**20:,.0f} MB)", flush=True)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", nargs="+", default=["large", "huge"], help="baseline scale first")
    parser.add_argument("--resources", default=None, help="e.g. time_entries (default: every endpoint)")
    parser.add_argument("--duckdb-memory-limit", default=None,
                        help="the loader's DuckDB cap, e.g. 1GB; '' for DuckDB's own default (default: the run's)")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="harvest-huge-"))
    try:
        docs = [load(scale, root, args.resources, args.duckdb_memory_limit) for scale in args.scales]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"python benchmarks/huge.py {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"rate limit off, no latency; {os.cpu_count()} cores shared with other work")
    print()
    print("| scale | requests | records | wall s | rows/s | CPU s | peak RSS | exit | simulator: generated s, RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d in docs:
        print(f"| {d['scale']} | {d['requests']:,} | {d['records']:,} | {d['wall_s']:.1f} | "
              f"{d['records'] / d['wall_s']:,.0f} | {d['cpu_s']:.1f} | {d['peak_rss'] / 2**20:,.0f} MB | "
              f"{d['exit_code']} | {d['generated_s']:.0f} s, {d['sim_rss'] / 2**20:,.0f} MB |")
    base, top = docs[0], docs[-1]
    ratio = (top["records"] / top["wall_s"]) / (base["records"] / base["wall_s"])
    ok = top["peak_rss"] <= 2**30 and ratio >= 0.8 and top["exit_code"] == 0
    print()
    print(f"TARGET huge_memory: {'PASS' if ok else 'FAIL'} peak RSS {top['peak_rss'] / 2**20:,.0f} MB (<= 1024 MB), "
          f"rows/s {top['scale']} / {base['scale']} = {ratio:.2f} (>= 0.8), exit {top['exit_code']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
