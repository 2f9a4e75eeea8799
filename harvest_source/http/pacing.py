"""Client-side pacing so a run stays under Harvest's rate limits instead of earning 429s.

Harvest counts requests per token in a moving window (100 per 15 s; reports 100 per 15 min). A
``Pacer`` keeps the send times of the last ``limit`` requests and lets a new one go only when the
oldest of them has left the window, so no window of our own send times ever holds more than
``limit`` requests.

The server counts *arrivals*, and arrival = send + a delay that varies (pool hand-off, GIL, TCP, a
busy server). So the client does not count a request at the moment it lets it go: ``acquire_slot``
holds the slot *in flight* (it counts against the limit but cannot leave the window), and
``restamp`` settles it at the moment the response headers arrived, when the server has surely
counted it. Every later grant is then at least a window after the server's own count, whatever the
delays were: no margin is needed for jitter, only a few milliseconds for clock resolution. (The
first version kept slots at acquisition time plus a margin of 1 % + 20 ms; the margin cost 35 ms of
every 1.5 s window in the benchmark, and still was not enough without restamping: measured with an
in-process ThreadingHTTPServer, 16 client threads, 3000 requests, 100 per 0.3 s, stamping at
acquisition let the server see up to 102 requests in one window.)

What restamping costs: the time from the server's count to our response headers (server time and
the return trip), once per window: about 1 % of Harvest's 15 s window at a 300 ms round trip.

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

DEFAULT_MARGIN_S = 0.002  # clock resolution, not jitter: see the module docstring
DEFAULT_MARGIN_RATIO = 0.0
# How often a caller looks again when every slot of the window is in flight (limit <= concurrency).
_IN_FLIGHT_POLL_S = 0.01
# Smallest sleep: float rounding could otherwise leave a 1e-15 s wait that never advances a clock.
_MIN_SLEEP_S = 1e-4


class Stopped(Exception):
    """A wait for a slot ended by its caller's stop signal; no slot was granted."""


def sleep_unless_stopped(seconds: float, stop: threading.Event | None, sleep: Callable[[float], None]) -> None:
    """``sleep(seconds)``, cut short when ``stop`` is set meanwhile (a test's injected sleep runs as is)."""
    if stop is not None and sleep is time.sleep:
        stop.wait(seconds)
    else:
        sleep(seconds)


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
        self._sent: deque[float] = deque()  # settled slots, oldest first
        self._in_flight: list[float] = []  # slots granted by acquire_slot and not yet restamped
        self._paused_until = -math.inf
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until one more request fits the window, record it now, and return the seconds waited."""
        return self._acquire()[0]

    def acquire_slot(self, stop: threading.Event | None = None) -> tuple[float, float]:
        """Like ``acquire``, but the slot stays in flight (counted, never expiring) until ``restamp``
        settles it; returns (seconds waited, the slot's stamp). Every slot must be restamped.

        ``stop`` (the caller's run is over) ends the wait at once with ``Stopped``, granting nothing."""
        return self._acquire(in_flight=True, stop=stop)

    def _acquire(self, in_flight: bool = False, stop: threading.Event | None = None) -> tuple[float, float]:
        start = self._clock()
        while True:
            if stop is not None and stop.is_set():
                raise Stopped
            with self._lock:
                now = self._clock()
                delay = self._delay_locked(now)
                if delay <= 0:
                    if in_flight:
                        self._in_flight.append(now)
                    else:
                        self._sent.append(now)
                    return max(0.0, now - start), now
            sleep_unless_stopped(max(delay, _MIN_SLEEP_S), stop, self._sleep)

    def restamp(self, stamp: float, settled_at: float) -> None:
        """Settle the in-flight slot ``stamp`` (from ``acquire_slot``) at ``settled_at``, never earlier
        than its stamp; it leaves the window a full window after that."""
        with self._lock:
            if stamp in self._in_flight:
                self._in_flight.remove(stamp)
            bisect.insort(self._sent, max(stamp, settled_at))

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
            return len(self._sent) + len(self._in_flight)

    def free_slots(self) -> int:
        """Requests that could go now without waiting (0 while paused after a 429)."""
        with self._lock:
            now = self._clock()
            if now < self._paused_until:
                return 0
            self._prune_locked(now)
            return max(0, self.limit - len(self._sent) - len(self._in_flight))

    def _delay_locked(self, now: float) -> float:
        if now < self._paused_until:
            return self._paused_until - now
        self._prune_locked(now)
        if len(self._sent) + len(self._in_flight) < self.limit:
            return 0.0
        if not self._sent:  # the whole window is in flight: look again when one may have settled
            return _IN_FLIGHT_POLL_S
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


def bucket_pacers(
    identity: tuple[object, ...],
    limits: dict[str, tuple[int, float]],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] | None = None,
) -> dict[str, Pacer]:
    """One pacer per bucket (``{"general": (100, 15.0), ...}``): the shared ones of ``identity`` (the
    credentials and base URL, hashed), or private ones when a test injects its own clock or sleep."""
    if clock is None and sleep is time.sleep:
        return {bucket: pacer_for(pacer_key(*identity, bucket), lim, win) for bucket, (lim, win) in limits.items()}
    clk = clock or time.monotonic
    return {bucket: Pacer(lim, win, clock=clk, sleep=sleep) for bucket, (lim, win) in limits.items()}


def clear_pacers() -> None:
    """Forget all shared pacers (tests, or a long-lived process that rotates tokens)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()


__all__ = ["Pacer", "Stopped", "bucket_pacers", "clear_pacers", "pacer_for", "pacer_key", "sleep_unless_stopped"]
