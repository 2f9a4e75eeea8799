"""Request statistics for tests and benchmarks: what the connector asked for and what it was answered."""

from __future__ import annotations

import threading
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_path: dict[str, int] = {}
            self.by_status: dict[str, int] = {}
            self.throttled = 0
            self.requests: list[dict[str, Any]] = []

    def record(self, method: str, path: str, query: str, status: int | str) -> None:
        key = str(status)
        with self._lock:
            self.total += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            self.by_status[key] = self.by_status.get(key, 0) + 1
            if key == "429":
                self.throttled += 1
            self.requests.append({"method": method, "path": path, "query": query, "status": status})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_path": dict(self.by_path),
                "by_status": dict(self.by_status),
                "throttled": self.throttled,
                "requests": [dict(r) for r in self.requests],
            }
