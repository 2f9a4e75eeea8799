"""The Harvest simulator in its own process, driven through its /__sim__/ control endpoints.

The benchmark keeps the simulator out of its own process so that serving pages does not compete for
the benchmark's GIL, and the benchmark's peak memory is the connector's alone (a large account is a few
hundred MB of pre-serialized records in the simulator).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from harvest_source.simulator.clock import PINNED_NOW

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "benchmark-token"


class SimProcess:
    """``with SimProcess(scale="small", rate_limit="harvest", time_scale=10, latency_ms=30) as sim:``"""

    def __init__(self, scale: str, seed: int = 1, rate_limit: str = "off", time_scale: float = 1.0,
                 latency_ms: float = 0, accounts: int = 1) -> None:
        self.args = [
            sys.executable, "-m", "harvest_source.simulator", "--port", "0", "--scale", scale,
            "--seed", str(seed), "--rate-limit", rate_limit, "--time-scale", str(time_scale),
            "--latency-ms", str(latency_ms), "--token", ADMIN_TOKEN, "--accounts", str(accounts),
            "--now", PINNED_NOW,  # the same records on any day: figures stay comparable across runs
        ]
        self.token = ADMIN_TOKEN
        self._proc: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.account_id = ""
        self.account_ids: list[str] = []
        self._control: httpx.Client | None = None

    def __enter__(self) -> SimProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self._proc = subprocess.Popen(self.args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()  # the simulator prints its base URL first
        if not line.startswith("http"):
            self.__exit__()
            raise RuntimeError(f"simulator did not start: {line!r}")
        self.base_url = line
        self._control = httpx.Client(base_url=line.rsplit("/v2", 1)[0], timeout=120)
        config = self.config()
        self.account_id = str(config["account_id"])
        self.account_ids = [str(a) for a in config.get("account_ids") or [self.account_id]]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._control is not None:
            self._control.close()
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None

    # -- control endpoints ------------------------------------------------------------------
    def _get(self, path: str) -> Any:
        assert self._control is not None
        response = self._control.get(path)
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, doc: dict[str, Any] | None = None) -> Any:
        assert self._control is not None
        response = self._control.post(path, json=doc or {})
        response.raise_for_status()
        return response.json()

    def config(self) -> dict[str, Any]:
        return self._get("/__sim__/config")

    def stats(self) -> dict[str, Any]:
        return self._get("/__sim__/stats")

    def reset_stats(self) -> None:
        """Forget request counts and the rate-limit windows (a scenario starts with a full budget)."""
        self._post("/__sim__/reset")

    def counts(self, account: str | None = None) -> dict[str, int]:
        return self._get("/__sim__/counts" + (f"?account={account}" if account else ""))

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def mutate_random(self, fraction: float, seed: int) -> dict[str, list[int]]:
        return self._post("/__sim__/mutate_random", {"fraction": fraction, "seed": seed})

    def now(self) -> str:
        """The simulated clock (``/__sim__/clock``), Harvest's format."""
        return str(self._get("/__sim__/clock")["now"])

    def advance_clock(self, seconds: int) -> str:
        return str(self._post("/__sim__/clock", {"advance": int(seconds)})["now"])

    def mutate(self, kind: str, **params: Any) -> dict[str, Any]:
        """One ``/__sim__/mutate``; the answer names what it created, updated and deleted (ids per table)."""
        return self._post("/__sim__/mutate", {"kind": kind, **params})

    def get(self, path: str, **params: Any) -> Any:
        """One API GET as the administrator (counts in the stats: reset after)."""
        headers = {"Authorization": f"Bearer {self.token}", "Harvest-Account-Id": self.account_id,
                   "User-Agent": "harvest-dlt benchmark"}
        response = httpx.get(f"{self.base_url}/{path}", params=params, headers=headers, timeout=120)
        response.raise_for_status()
        return response.json()

    def users_and_managers(self) -> tuple[list[dict[str, Any]], set[int]]:
        """Every user, and the ids of those Harvest reads teammates for (``manager`` in ``access_roles``)."""
        users = self.list_all("users", "users")
        return users, {u["id"] for u in users if "manager" in (u.get("access_roles") or ())}

    def list_all(self, path: str, records_key: str) -> list[dict[str, Any]]:
        """Every record of a list endpoint, read as an administrator (counts in the stats: reset after)."""
        headers = {"Authorization": f"Bearer {self.token}", "Harvest-Account-Id": self.account_id,
                   "User-Agent": "harvest-dlt benchmark"}
        records: list[dict[str, Any]] = []
        url: str | None = f"{self.base_url}/{path}?per_page=2000"
        with httpx.Client(headers=headers, timeout=120) as client:
            while url:
                response = client.get(url)
                if response.status_code == 429:
                    time.sleep(float(response.headers.get("retry-after", "1")))
                    continue
                response.raise_for_status()
                doc = response.json()
                records += doc[records_key]
                url = doc["links"]["next"]
        return records
