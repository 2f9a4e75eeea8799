"""Performance figures of the simulator (no assertions: it prints numbers and the command that made them).

    python -m harvest_source.simulator.measure                 # all scales, server on the large scale
    python -m harvest_source.simulator.measure --scales tiny,small --server-scale small

* generation: each scale is generated in a fresh subprocess; wall time and peak RSS (ru_maxrss) are reported,
  with the interpreter's own baseline RSS subtracted as well.
* serving: the simulator runs in a separate process (the CLI), so the load client does not share its GIL.
  Small pages: ``GET /v2/users/me`` and ``GET /v2/clients?per_page=1`` over keep-alive connections, first on one
  connection, then from several threads. Large page: ``GET /v2/time_entries?per_page=2000&updated_since=...``,
  first request (filter computed) and the following pages (cached filter result).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])
HEADERS = {
    "Authorization": "Bearer measure",
    "Harvest-Account-Id": "1234567",
    "User-Agent": "measure (dev@example.com)",
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate_once(scale: str, seed: int) -> dict:
    """Runs in the child: generate one scale and report time and memory."""
    from .clock import PINNED_NOW, SimClock, start_ts
    from .generator import generate
    from .store import Store

    base = _rss_mb()
    t0 = time.perf_counter()
    store = Store(seed, SimClock(start_ts(PINNED_NOW)))
    generate(store, scale, seed)
    store.warm()
    elapsed = time.perf_counter() - t0
    counts = store.counts()
    data_mb = sum(len(r.data) for t in store.tables.values() for r in t.rows.values()) / 1e6
    return {"scale": scale, "seconds": round(elapsed, 2), "peak_rss_mb": round(_rss_mb(), 1),
            "baseline_rss_mb": round(base, 1), "json_mb": round(data_mb, 1), "time_entries": counts["time_entries"],
            "invoices": counts["invoices"], "users": counts["users"], "records": sum(counts.values())}


def measure_generation(scale: str, seed: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "harvest_source.simulator.measure", "--generate-only", scale,
                          "--seed", str(seed)], capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_server(scale: str, seed: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "harvest_source.simulator", "--port", "0", "--scale", scale,
                             "--seed", str(seed)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = proc.stdout.readline().strip()
    if not base.startswith("http"):
        proc.kill()
        raise RuntimeError("simulator did not start")
    return proc, base


def small_pages(base: str, n: int, threads: int, path: str) -> float:
    import httpx

    per_thread = n // threads
    barrier = threading.Barrier(threads + 1)
    errors: list[int] = []

    def worker() -> None:
        with httpx.Client(headers=HEADERS, timeout=30) as c:
            c.get(f"{base}{path}")  # open the connection
            barrier.wait()
            for _ in range(per_thread):
                r = c.get(f"{base}{path}")
                if r.status_code != 200:
                    errors.append(r.status_code)
            barrier.wait()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    barrier.wait()
    elapsed = time.perf_counter() - t0
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"non-200 answers: {errors[:5]}")
    return per_thread * threads / elapsed


def big_pages(base: str, repeats: int) -> dict:
    import httpx

    with httpx.Client(headers=HEADERS, timeout=60) as c:
        params = {"per_page": 2000, "updated_since": "2023-06-01T00:00:00Z"}
        t0 = time.perf_counter()
        first = c.get(f"{base}/time_entries", params=params)
        first_ms = (time.perf_counter() - t0) * 1000
        doc = first.json()
        pages, times = 0, []
        url = doc["links"]["next"]
        while url and pages < repeats:
            t0 = time.perf_counter()
            r = c.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            url = r.json()["links"]["next"]
            pages += 1
        return {"first_page_ms": round(first_ms, 1), "next_pages_median_ms": round(statistics.median(times), 1),
                "next_pages_max_ms": round(max(times), 1), "page_bytes": len(first.content),
                "matching_entries": doc["total_entries"], "pages_timed": len(times)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m harvest_source.simulator.measure")
    p.add_argument("--scales", default="tiny,small,large")
    p.add_argument("--server-scale", default="large")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--requests", type=int, default=4000)
    p.add_argument("--threads", default="1,4")
    p.add_argument("--generate-only", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate_only:
        print(json.dumps(generate_once(args.generate_only, args.seed)))
        return 0
    print(f"# {' '.join([os.path.basename(sys.executable), '-m', 'harvest_source.simulator.measure', *sys.argv[1:]])}")
    print(f"# python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    for scale in [s for s in args.scales.split(",") if s]:
        g = measure_generation(scale, args.seed)
        print(f"generate {scale:5s}: {g['seconds']:6.2f} s, peak RSS {g['peak_rss_mb']:7.1f} MB "
              f"(interpreter baseline {g['baseline_rss_mb']:.1f} MB), stored JSON {g['json_mb']:.1f} MB, "
              f"{g['records']} records ({g['time_entries']} time entries, {g['invoices']} invoices, "
              f"{g['users']} users)")
    if args.server_scale:
        proc, base = start_server(args.server_scale, args.seed)
        try:
            for threads in (int(t) for t in args.threads.split(",")):
                for path in ("/users/me", "/clients?per_page=1"):
                    rps = small_pages(base, args.requests, threads, path)
                    print(f"serve {args.server_scale}: GET {path:22s} {threads} connection(s): {rps:7.0f} requests/s")
            big = big_pages(base, 20)
            print(f"serve {args.server_scale}: GET /time_entries?per_page=2000&updated_since=2023-06-01T00:00:00Z "
                  f"({big['matching_entries']} matching, {big['page_bytes'] / 1e6:.2f} MB/page): first page "
                  f"{big['first_page_ms']} ms, next {big['pages_timed']} pages median {big['next_pages_median_ms']} ms "
                  f"(max {big['next_pages_max_ms']} ms)")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
