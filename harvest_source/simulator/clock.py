"""The simulated clock: every timestamp the simulator emits comes from here, never from wall time.

Keeping time simulated is what makes two starts with the same seed byte-identical, and lets tests
move time forward (mutations tick it) without sleeping.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime

DAY = 86400
# The simulator's "now" when nothing pins it is the wall clock: a demo's data ends today. Tests and
# benchmarks pin it (this variable, or ``now=``) so that every run generates the same records.
NOW_ENV = "HARVEST_SIM_NOW"
# The "now" tests and benchmarks pin (a Monday afternoon, UTC): the data their assertions were written on.
PINNED_NOW = "2024-12-02T17:00:00Z"


def start_ts(now: str | int | None = None) -> int:
    """The account's "now" in epoch seconds: ``now`` (ISO timestamp, date or epoch seconds), else the
    ``HARVEST_SIM_NOW`` environment variable, else the wall clock to the minute."""
    if now is None:
        now = os.environ.get(NOW_ENV) or None
    if now is None:
        return int(time.time()) // 60 * 60
    if isinstance(now, int):
        return now
    text = now.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text if "T" in text else f"{text}T17:00:00+00:00")
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def iso(ts: int) -> str:
    """Harvest datetime format: second precision, UTC, trailing Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def day_str(ts: int) -> str:
    """Harvest date format YYYY-MM-DD of a timestamp (UTC)."""
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def day_num_str(day: int) -> str:
    """Date string of a day number (days since the epoch)."""
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


def http_date(ts: int) -> str:
    """RFC 7231 date for the Date header (from the simulated clock, so responses stay deterministic)."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(ts))


class SimClock:
    """A monotonic, thread-safe, manually advanced clock (epoch seconds)."""

    def __init__(self, start: int | None = None) -> None:
        self._ts = start_ts() if start is None else start
        self._lock = threading.Lock()

    @property
    def ts(self) -> int:
        return self._ts

    def now_iso(self) -> str:
        return iso(self._ts)

    def advance(self, seconds: int = 1) -> int:
        """Move forward by ``seconds`` (at least 1) and return the new time."""
        with self._lock:
            self._ts += max(1, int(seconds))
            return self._ts
