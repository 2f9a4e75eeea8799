"""Client-side pacing so a run stays under Harvest's rate limits instead of earning 429s.

Harvest counts requests per token in a moving window (100 per 15 s; reports 100 per 15 min). A
``Pacer`` keeps the send times of the last ``limit`` requests and lets a new one go only when the
oldest of them has left the window, so no window of our own send times ever holds more than
``limit`` requests.

Why a margin: the server counts *arrivals*, and arrival = send + delay, where the delay varies a
little (pool hand-off, GIL, TCP). Requests ``i`` and ``i + limit`` are at least ``W'`` apart in our
clock, so at the server they are at least ``W' - (d_max - d_min)`` apart. The server sees
``limit + 1`` in a window of ``W`` only if that spread exceeds ``W' - W``. With
``W' = W * 1.01 + 0.02 s`` the tolerated spread is 170 ms for the 15 s bucket, 9 s for the reports
bucket and still 20 ms (plus 1 %) for a simulator whose windows are divided by a time scale; the
throughput cost is about 1 % (plus 20 ms per window).

The margin alone is not enough when the delay is large and uneven (a TLS handshake on a fresh
connection, a busy in-process simulator). So the client moves each slot with ``restamp`` to the
moment the response headers arrived: the server has surely counted the request by then, which
makes the delay irrelevant. Measured with an in-process ThreadingHTTPServer, 16 client threads,
3000 requests, 100 per 0.3 s: stamping at acquisition let the server see up to 102 requests in one
window (GIL contention delayed arrivals by tens of ms); restamping at response headers never let it
see more than 100, at the same throughput (9.75 s for 9.0 s of pure budget).

One pacer per bucket must be shared by every thread and client that use the same credentials:
``pacer_for`` is that process-wide registry, keyed by a hash (``pacer_key``), never the token.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable

DEFAULT_MARGIN_S = 0.02
DEFAULT_MARGIN_RATIO = 0.01
# Smallest sleep: float rounding could otherwise leave a 1e-15 s wait that never advances a clock.
_MIN_SLEEP_S = 1e-4


class Pacer:
    """Thread-safe sliding-window limiter: at most ``limit`` acquisitions in any ``window_s`` (+margin)."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_s: float = DEFAULT_MARGIN_S,
        margin_ratio: float = DEFAULT_MARGIN_RATIO,
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit must be at least 1 request, got {limit}")
        if not window_s > 0:
            raise ValueError(f"rate window must be positive seconds, got {window_s}")
        self.limit = int(limit)
        self.window_s = float(window_s)
        self.effective_window_s = self.window_s * (1.0 + margin_ratio) + margin_s
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._paused_until = -math.inf
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until one more request fits the window, record it, and return the seconds waited."""
        return self.acquire_slot()[0]

    def acquire_slot(self) -> tuple[float, float]:
        """Like ``acquire`` but also return the recorded stamp, so ``restamp`` can move it later."""
        start = self._clock()
        while True:
            with self._lock:
                now = self._clock()
                delay = self._delay_locked(now)
                if delay <= 0:
                    self._sent.append(now)
                    return max(0.0, now - start), now
            self._sleep(max(delay, _MIN_SLEEP_S))

    def restamp(self, stamp: float, sent_at: float) -> None:
        """Move a slot from acquisition time to the time the request really left (only ever later).

        Pool waits and connection set-up (TLS can take hundreds of ms) happen between ``acquire``
        and the bytes leaving; counting from the later moment keeps those out of the jitter budget.
        """
        if sent_at <= stamp:
            return
        with self._lock:
            i = bisect.bisect_left(self._sent, stamp)
            if i < len(self._sent) and self._sent[i] == stamp:
                del self._sent[i]
            bisect.insort(self._sent, sent_at)

    def now(self) -> float:
        """This pacer's clock (stamps passed to ``restamp`` must come from it)."""
        return self._clock()

    def pause_until(self, deadline: float) -> None:
        """Hold every thread until ``deadline`` (in this pacer's clock), e.g. after a 429."""
        with self._lock:
            self._paused_until = max(self._paused_until, deadline)

    def pause_for(self, seconds: float) -> None:
        """Hold every thread for ``seconds`` from now (a 429's ``Retry-After``)."""
        self.pause_until(self._clock() + max(0.0, seconds))

    def in_window(self) -> int:
        """Requests currently counted in the window (for stats and tests)."""
        with self._lock:
            self._prune_locked(self._clock())
            return len(self._sent)

    def _delay_locked(self, now: float) -> float:
        if now < self._paused_until:
            return self._paused_until - now
        self._prune_locked(now)
        if len(self._sent) < self.limit:
            return 0.0
        return self._sent[0] + self.effective_window_s - now

    def _prune_locked(self, now: float) -> None:
        while self._sent and self._sent[0] + self.effective_window_s <= now:
            self._sent.popleft()

    def __repr__(self) -> str:
        return f"Pacer(limit={self.limit}, window_s={self.window_s})"


_REGISTRY: dict[tuple[str, int, float], Pacer] = {}
_REGISTRY_LOCK = threading.Lock()


def pacer_key(*parts: object) -> str:
    """Hash credentials and bucket into a registry key, so the token never sits in memory as a key."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(str(part).encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:32]


def pacer_for(key: str, limit: int, window_s: float) -> Pacer:
    """Return the process-wide pacer for ``key`` (one per bucket), creating it on first use.

    Limit and window are part of the identity so a client configured with a time-scaled window does
    not inherit a pacer built for real time.
    """
    ident = (key, int(limit), float(window_s))
    with _REGISTRY_LOCK:
        pacer = _REGISTRY.get(ident)
        if pacer is None:
            pacer = _REGISTRY[ident] = Pacer(limit, window_s)
        return pacer


def clear_pacers() -> None:
    """Forget all shared pacers (tests, or a long-lived process that rotates tokens)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


__all__ = ["Pacer", "clear_pacers", "pacer_for", "pacer_key"]
