"""What a retry waits and how far one request may go: the rules, apart from the loop that follows them.

* 429: ``Retry-After`` (seconds or an HTTP date) when given, else one window of the bucket, and the
  whole pacer pauses (every thread on the token waits, not only this one);
* 5xx, transient transport errors and bodies the decoder finds unreadable: full-jitter capped
  exponential back-off, this thread only;
* a request ends after ``max_attempts`` sends, or when the next wait would take its total back-off
  past ``max_retry_wait_s``.

A request's count of sends and seconds waited is a ``RetryBudget`` that travels with it (in the
request's extensions), so a resend made above the transport (an unreadable 2xx body) continues the
same budget instead of starting a fresh one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from dataclasses import dataclass

import httpx

from ..settings import (
    DEFAULT_BACKOFF_BASE_S,
    DEFAULT_BACKOFF_CAP_S,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_RETRY_WAIT_S,
)

# Transient network failures (and bodies that failed to decode) are worth another attempt. The others
# (UnsupportedProtocol, LocalProtocolError) come from our configuration and fail the same way every time.
RETRYABLE_TRANSPORT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
    httpx.DecodingError,
)
RETRY_STATUSES = frozenset({429, *range(500, 600)})


@dataclass(frozen=True)
class RetryPolicy:
    """How many sends, how long a back-off, how much waiting in all, for one request."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S
    backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter capped exponential backoff: uniform(0, min(cap, base * 2**(attempt-1)))."""
        return rng.uniform(0.0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1)))


@dataclass
class RetryBudget:
    """One request's sends so far and the back-off it waited: shared by every resend of that request."""

    attempts: int = 0
    waited_s: float = 0.0


@dataclass(frozen=True)
class Retry:
    """Why the last send was not usable and how long to wait before the next one."""

    status: int | None  # None: no answer (a transport error)
    reason: str
    wait_s: float
    pause_pacer: bool = False


def throttled(response: httpx.Response, window_s: float) -> Retry:
    """A 429 waits ``Retry-After`` when given, else one window of the bucket (so it scales with time)."""
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is None:
        return Retry(429, "throttled (429 without Retry-After, waiting one window)", window_s, pause_pacer=True)
    return Retry(429, "throttled (429, Retry-After)", retry_after, pause_pacer=True)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP-date; None when absent/unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


__all__ = [
    "RETRYABLE_TRANSPORT",
    "RETRY_STATUSES",
    "Retry",
    "RetryBudget",
    "RetryPolicy",
    "parse_retry_after",
    "throttled",
]
