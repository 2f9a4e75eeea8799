"""Pacing and retries as an httpx transport that wraps another one (``HTTPTransport``, or a
``MockTransport`` in tests), the way httpx composes its own parts.

Every send first takes a slot of the bucket's shared ``Pacer`` and settles it when the response
headers arrive (see ``pacing``); a 429, a 5xx or a transient network error is sent again after the
wait ``retry`` prescribes, within the request's ``RetryBudget``. The run's ``stop`` event ends any
wait and every send not yet made (``HarvestRunStopped``). What comes out is the first answer worth
handing back, its body read: a 2xx, or a final 3xx/4xx the caller turns into a typed error.

Two request extensions steer it: ``BUCKET`` (the pacer: ``"general"`` or ``"reports"``) and
``BUDGET`` (a ``RetryBudget`` the caller keeps, to resend an unreadable body within the same budget
via ``retry``). The response carries ``ELAPSED_MS``, for the caller's one log line per request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping

import httpx

from ..errors import HarvestConfigError, HarvestRunStopped
from ..status_errors import exhausted
from .pacing import Pacer, Stopped, sleep_unless_stopped
from .retry import RETRY_STATUSES, RETRYABLE_TRANSPORT, Retry, RetryBudget, RetryPolicy, throttled
from .stats import ClientStats

BUCKET = "harvest.bucket"
BUDGET = "harvest.budget"
ELAPSED_MS = "harvest.elapsed_ms"

logger = logging.getLogger("harvest_source")


class PacedRetryTransport(httpx.BaseTransport):
    """Paces every send on a shared pacer and retries what is worth retrying, around ``inner``."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        *,
        pacers: Mapping[str, Pacer],
        policy: RetryPolicy,
        stats: ClientStats,
        stop: threading.Event,
        base_url: str,
        redact: Callable[[str], str],
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.inner = inner
        self.pacers = dict(pacers)
        self.policy = policy
        self.stats = stats
        self.base_url = base_url  # named in the hint when the host cannot be reached
        self._stop = stop
        self._redact = redact
        self._sleep = sleep
        self._rng = rng or random.Random()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        budget = request.extensions.setdefault(BUDGET, RetryBudget())
        pacer = self._pacer(request)
        while True:
            budget.attempts += 1
            try:
                waited, stamp = pacer.acquire_slot(self._stop)  # raises Stopped once the run stops
            except Stopped:
                raise HarvestRunStopped(f"GET {request.url.path}: not sent, the run is stopping",
                                        path=request.url.path) from None
            self.stats.add(waited_s=waited, requests=1)
            outcome = self._send(request, pacer, stamp, budget.attempts)
            if isinstance(outcome, httpx.Response):
                return outcome
            self._wait_or_give_up(request, budget, outcome)

    def retry(self, request: httpx.Request, status: int, reason: str) -> None:
        """The caller could not use a 2xx answer (``UnreadableBody``): back off within the request's
        ``BUDGET`` before it sends the request again, or raise the 'not valid JSON' error when spent."""
        budget = request.extensions[BUDGET]
        self._wait_or_give_up(request, budget, Retry(status, reason, self.policy.backoff(budget.attempts, self._rng)))

    def close(self) -> None:
        self.inner.close()

    # ----------------------------------------------------------------- one send
    def _pacer(self, request: httpx.Request) -> Pacer:
        return self.pacers[request.extensions.get(BUCKET, "general")]

    def _send(self, request: httpx.Request, pacer: Pacer, stamp: float, attempt: int) -> httpx.Response | Retry:
        """Send once and read the body: the response to hand back, or a ``Retry``; raises a config error."""
        path = request.url.path
        started = time.perf_counter()
        seen: dict[str, float] = {}

        def trace(event: str, info: object) -> None:
            # ``info`` holds the request with its headers: it is deliberately never looked at.
            if event.endswith(("send_request_headers.started", "receive_response_headers.complete")):
                seen[event.rsplit(".", 2)[-2]] = pacer.now()

        request.extensions["trace"] = trace
        transient: str | None = None
        broken: str | None = None
        try:
            response = self.inner.handle_request(request)
            try:
                response.read()  # inside the attempt: a body cut short is retried like any network error
            except BaseException:
                response.close()
                raise
        except RETRYABLE_TRANSPORT as exc:
            transient = f"{type(exc).__name__}: {self._redact(str(exc))}"[:300]
        except httpx.HTTPError as exc:
            broken = type(exc).__name__  # its text may quote a header value, so it is not shown
        finally:  # always, even on Ctrl-C: an unsettled slot would hold its place in the window for good
            _restamp(pacer, stamp, seen)
        # Errors are raised here, outside the except blocks, so no httpx exception is chained as context.
        if broken is not None:
            raise HarvestConfigError(
                f"GET {path}: the request could not be sent to {request.url.host} ({broken})",
                path=path,
                hint="check base_url (http/https and host), the user_agent and the access token characters",
            )
        if transient is not None:
            self.stats.add(transport_errors=1)
            return Retry(None, transient, self.policy.backoff(attempt, self._rng))
        response.extensions[ELAPSED_MS] = (time.perf_counter() - started) * 1000
        self.stats.count_status(response.status_code)
        status = response.status_code
        if status not in RETRY_STATUSES:
            return response
        log_request(request, response)  # the one line of a response nobody else sees
        if status == 429:
            self.stats.add(throttled=1)
            return throttled(response, pacer.window_s)
        return Retry(status, f"server error {status}", self.policy.backoff(attempt, self._rng))

    # ----------------------------------------------------------------- between sends
    def _wait_or_give_up(self, request: httpx.Request, budget: RetryBudget, outcome: Retry) -> None:
        path = request.url.path
        if budget.attempts >= self.policy.max_attempts or (
            budget.waited_s + outcome.wait_s > self.policy.max_retry_wait_s
        ):
            raise exhausted(path, outcome.status, outcome.reason, budget.attempts, self.base_url)
        budget.waited_s += outcome.wait_s
        self.stats.add(retries=1)
        logger.warning(
            "GET %s: %s (attempt %d/%d); retrying in %.1f s",
            path, outcome.reason, budget.attempts, self.policy.max_attempts, outcome.wait_s,
        )
        if outcome.pause_pacer:  # 429: every thread waits; the next acquire() waits it out and counts it
            self._pacer(request).pause_for(outcome.wait_s)
        else:  # other failures back off this thread only; a stop ends the wait and the next acquire() raises
            sleep_unless_stopped(outcome.wait_s, self._stop, self._sleep)
            self.stats.add(waited_s=outcome.wait_s)


def _restamp(pacer: Pacer, stamp: float, seen: Mapping[str, float]) -> None:
    """Settle the request's slot at a moment that is surely after Harvest counted it.

    A rate limiter counts a request before it answers, so by the time the response headers are here
    the server has counted it: settling the slot then makes arrival jitter (pool waits, TLS set-up, a
    busy in-process simulator) harmless (see ``pacing``). A request that left but got no answer is
    settled now; one that never left (or a MockTransport, which has no trace events) at its acquisition.
    """
    if "receive_response_headers" in seen:
        pacer.restamp(stamp, seen["receive_response_headers"])
    elif "send_request_headers" in seen:
        pacer.restamp(stamp, pacer.now())
    else:
        pacer.restamp(stamp, stamp)


def log_request(request: httpx.Request, response: httpx.Response, records: int | None = None) -> None:
    """The one debug line of a request (``-v``): method, path, status, milliseconds, and records when known."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    ms = response.extensions.get(ELAPSED_MS, 0.0)
    counted = f", {records} records" if records is not None else ""
    logger.debug("%s %s -> %d in %.0f ms%s", request.method, request.url.path, response.status_code, ms, counted)


__all__ = ["BUCKET", "BUDGET", "ELAPSED_MS", "PacedRetryTransport", "log_request"]
