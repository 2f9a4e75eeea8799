"""Test doubles shared by the client and pacer tests."""

from __future__ import annotations

import threading
from collections.abc import Callable


class FakeTime:
    """A clock that only moves when someone sleeps; sleeps are recorded (no real waiting)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def run_in_threads(target: Callable[[], object], count: int, timeout_s: float) -> list[threading.Thread]:
    """Start ``count`` threads on ``target`` and join them; returns them so a test can check none hung."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    return threads
