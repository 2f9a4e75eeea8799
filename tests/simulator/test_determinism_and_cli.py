"""Same seed, same bytes (timestamps included); the command line prints the base URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sim_helpers import client_for

from harvest_source.simulator import run_simulator

REPO = str(Path(__file__).resolve().parents[2])
PATHS = ["/company", "/users/me", "/clients", "/time_entries?per_page=50&page=2", "/invoices", "/users",
         "/reports/time/projects?from=20240101&to=20241201"]


def _bodies(scale: str, seed: int) -> dict[str, tuple[bytes, dict]]:
    out = {}
    with run_simulator(scale, seed) as sim, client_for(sim) as c:
        for p in PATHS:
            r = c.get(p)
            headers = {k: v for k, v in r.headers.items() if k != "content-length"}
            out[p] = (r.content.replace(sim.base_url.encode(), b"BASE"), headers)
    return out


def test_same_seed_gives_identical_bytes():
    a, b = _bodies("tiny", 3), _bodies("tiny", 3)
    assert a == b
    assert _bodies("tiny", 4)["/clients"] != a["/clients"]


def test_cli_prints_base_url():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "harvest_source.simulator", "--port", "0", "--scale", "tiny", "--seed", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=REPO,
    )
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:") and line.endswith("/v2")
        r = httpx.get(f"{line}/company", headers={"Authorization": "Bearer x", "Harvest-Account-Id": "1234567",
                                                  "User-Agent": "t (t@example.com)"})
        assert r.status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_keep_alive_and_nodelay():
    import socket

    with run_simulator("tiny", 1) as sim, client_for(sim) as c:
        for _ in range(5):
            assert c.get("/company").status_code == 200
        conns = list(sim._server.httpd._conns)
        assert len(conns) == 1  # five requests, one connection
        assert conns[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        r = c.get("/clients")
        assert int(r.headers["content-length"]) == len(r.content)
        assert r.http_version == "HTTP/1.1"
