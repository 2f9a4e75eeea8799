"""The simulated clock: every timestamp the simulator emits comes from here, never from wall time.

Keeping time simulated is what makes two starts with the same seed byte-identical, and lets tests
move time forward (mutations tick it) without sleeping.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

# A fixed "now" for a freshly generated account (a Monday afternoon, UTC).
START_TS = int(datetime(2024, 12, 2, 17, 0, 0, tzinfo=UTC).timestamp())
DAY = 86400


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

    def __init__(self, start: int = START_TS) -> None:
        self._ts = start
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
