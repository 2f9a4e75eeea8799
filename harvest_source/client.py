"""The Harvest API v2 client: one object that composes the HTTP parts and offers the page iterators.

The parts, as httpx is built (``harvest_source/http/``): ``TokenAuth`` adds the credentials,
``PacedRetryTransport`` paces and retries around the real transport (or a test's
``MockTransport``), ``Listing`` walks a list's ``links.next`` under guards, ``decoding`` turns bodies
into values, and ``status_errors`` turns final answers into typed errors. The client keeps the
headers and settings, and the one loop no part below it can own: a 2xx body that the caller's
decoder rejects (``UnreadableBody``) is requested again within the same retry budget, because only
the caller knows what a usable body is (the transport hands back bytes, it never decodes).

One instance is meant to be shared by many threads (httpx.Client is thread-safe for sync use);
pacers are shared process-wide per token + account + base URL, so separate clients on the same
credentials still respect one budget.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from .errors import UnreadableBody
from .http.auth import TokenAuth
from .http.checks import check_account_id, check_base_url, check_max_attempts, check_token, check_user_agent
from .http.decoding import Enveloped, JsonPage, PageT, decode_json, json_page, keep_body, record_count, require_json
from .http.oauth import OAuthRefreshAuth
from .http.pacing import bucket_pacers
from .http.paging import Listing, Query
from .http.retry import RetryBudget, RetryPolicy
from .http.stats import ClientStats
from .http.transport import BUCKET, BUDGET, PacedRetryTransport, log_request
from .oauth_settings import OAuthSettings
from .settings import (
    DEFAULT_BACKOFF_BASE_S,
    DEFAULT_BACKOFF_CAP_S,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_PAGES,
    DEFAULT_MAX_RETRY_WAIT_S,
    DEFAULT_RATE_LIMIT_WINDOW_S,
    DEFAULT_TIMEOUT_S,
    DEFAULT_USER_AGENT,
    PER_PAGE,
    RATE_LIMIT_REQUESTS,
    REPORTS_RATE_LIMIT,
)
from .status_errors import status_error

logger = logging.getLogger("harvest_source")


class HarvestClient:
    """Sync Harvest v2 client: ``get_json`` for single objects, ``iter_pages``/``iter_decoded`` for lists."""

    def __init__(
        self,
        access_token: str | None,
        account_id: str | int,
        base_url: str = DEFAULT_BASE_URL,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_cap_s: float = DEFAULT_BACKOFF_CAP_S,
        max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
        rate_limit: tuple[int, float] = (RATE_LIMIT_REQUESTS, DEFAULT_RATE_LIMIT_WINDOW_S),
        reports_rate_limit: tuple[int, float] = REPORTS_RATE_LIMIT,
        max_connections: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        stop: threading.Event | None = None,
        oauth: OAuthSettings | None = None,
    ) -> None:
        token = check_token(access_token) if oauth is None else ""
        self.account_id = check_account_id(account_id)
        self.base_url = check_base_url(base_url)
        check_user_agent(user_agent)
        policy = RetryPolicy(check_max_attempts(max_attempts), max_retry_wait_s, backoff_base_s, backoff_cap_s)
        self.max_pages = max_pages
        self._base = httpx.URL(self.base_url + "/")
        self._auth: TokenAuth | OAuthRefreshAuth = (
            TokenAuth(token, self.account_id) if oauth is None
            else oauth.auth(self.account_id, user_agent=user_agent, transport=transport)
        )
        self._stop = stop if stop is not None else threading.Event()
        self._unlogged = threading.local()  # a read-ahead body's log line, until its page thread decodes it
        self.stats = ClientStats()
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._transport = PacedRetryTransport(
            transport if transport is not None else httpx.HTTPTransport(limits=limits),
            pacers=bucket_pacers((*self._auth.pacer_identity(), self.base_url),
                                 {"general": rate_limit, "reports": reports_rate_limit}, sleep=sleep, clock=clock),
            policy=policy, stats=self.stats, stop=self._stop, base_url=self.base_url, redact=self._auth.redact,
            sleep=sleep, rng=rng,
        )
        self._http = httpx.Client(
            auth=self._auth, headers={"User-Agent": user_agent, "Accept": "application/json"},
            transport=self._transport, timeout=httpx.Timeout(timeout_s), follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"HarvestClient(base_url={self.base_url!r}, account_id={self.account_id!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()
        if isinstance(self._auth, OAuthRefreshAuth):
            self._auth.close()

    def free_slots(self, path: str) -> int:
        """Requests to ``path``'s rate bucket that could be sent now without waiting (reports budget)."""
        return self._transport.pacers[_bucket(_relative(path))].free_slots()

    def stop(self) -> None:
        """End every request of this client that has not been sent and every back-off and pacer wait now
        (``HarvestRunStopped``): its run failed or is over. Shared with the run's ``RunReport.stop``."""
        self._stop.set()

    def __enter__(self) -> HarvestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- public API
    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET a single object (``company``, ``users/me``) and return the parsed JSON."""
        rel = _relative(path)
        return self._get(self._base.join(rel), _encode_params(params), _bucket(rel), decode_json, listing=False)

    def iter_pages(
        self, path: str, records_key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the records of every page, following ``links.next`` verbatim until it is null.

        ``next_page`` is never used: it is null on middle pages of cursor endpoints.
        """

        def decode(raw: bytes, page_path: str) -> JsonPage:
            return json_page(raw, records_key, page_path)

        for page in self.iter_decoded(path, decode, params):
            yield page.records

    def iter_decoded(
        self,
        path: str,
        decode: Callable[[bytes, str], PageT],
        params: Mapping[str, Any] | None = None,
        *,
        ahead: int = 1,
    ) -> Iterator[PageT]:
        """Yield ``decode(body, url_path)`` for every page of a list, following its ``envelope``'s ``links.next``.

        Paging is ``iter_pages``'s (``per_page=2000``, ``links.next`` verbatim, same origin only, loop
        and page-count guards); only the decoding is the caller's. ``decode`` runs in the thread that
        made the request, for 2xx JSON responses only. Raising ``UnreadableBody`` there retries the
        request like a truncated body; any other exception (e.g. a ``HarvestResponseError`` for a
        missing records key) propagates unchanged.

        ``ahead`` > 1 keeps that many pages in flight (``read_ahead``): ``decode`` then runs in page
        threads, possibly on two pages at once, so it must be thread-safe; a body it rejects is
        requested again with the same retries. The pages and errors come out in the same order.
        """
        rel = _relative(path)
        bucket = _bucket(rel)
        query = {"per_page": str(PER_PAGE), **_encode_params(params)}
        listing = Listing(rel, self._base.join(rel), query, origin=self._base, max_pages=self.max_pages,
                          stats=self.stats)
        yield from listing.pages(
            self._logged(decode) if ahead > 1 else decode,
            ahead=ahead,
            get=lambda url, q, dec: self._get(url, q, bucket, dec, listing=True),
            fetch=lambda url, q: self._get(url, q, bucket, keep_body, listing=True, deferred_log=True),
            refetch=lambda url, q, dec: self._refetch(url, q, bucket, dec),
        )

    # ----------------------------------------------------------------- one request, decoded
    def _get(
        self, url: httpx.URL, params: Query, bucket: str, decode: Callable[[bytes, str], Any], *,
        listing: bool, deferred_log: bool = False,
    ) -> Any:
        """GET ``url`` and decode it; a body ``decode`` rejects is sent again within the same budget."""
        budget = RetryBudget()
        while True:
            request, response = self._attempt(url, params, bucket, budget)
            try:
                return self._decoded(request, response, decode, listing=listing, deferred_log=deferred_log)
            except UnreadableBody as error:
                reason = str(error)
            self._transport.retry(request, response.status_code, reason)  # backs off, or raises when spent

    def _attempt(
        self, url: httpx.URL, params: Query, bucket: str, budget: RetryBudget
    ) -> tuple[httpx.Request, httpx.Response]:
        """One send through the stack (auth, pacing, retries of statuses); the crash tests hook it."""
        request = self._http.build_request("GET", url, params=params, extensions={BUCKET: bucket, BUDGET: budget})
        return request, self._http.send(request)

    def _decoded(
        self, request: httpx.Request, response: httpx.Response, decode: Callable[[bytes, str], Any], *,
        listing: bool, deferred_log: bool,
    ) -> Any:
        """A final answer: ``decode``'s value for a 2xx JSON body, else the typed error; logged once."""
        path = request.url.path
        value = None
        try:
            if not 200 <= response.status_code < 300:
                raise status_error(response, path, listing=listing, base_url=self.base_url, redact=self._auth.redact)
            require_json(response, path)
            value = decode(response.content, path)
            return value
        finally:
            if deferred_log and value is not None:
                self._unlogged.last = (request, response)  # logged with its records once decoded
            else:
                log_request(request, response, record_count(value))

    def _logged(self, decode: Callable[[bytes, str], PageT]) -> Callable[[bytes, str], PageT]:
        """``decode`` for read-ahead page threads: it also writes the log line of the body it decodes."""

        def decode_and_log(raw: bytes, path: str) -> PageT:
            page = None
            try:
                page = decode(raw, path)
                return page
            finally:
                unlogged = getattr(self._unlogged, "last", None)
                if unlogged is not None:  # set by this thread's fetch of ``raw``
                    self._unlogged.last = None
                    log_request(*unlogged, record_count(page))

        return decode_and_log

    def _refetch(self, url: httpx.URL, params: Query, bucket: str, decode: Callable[[bytes, str], PageT]) -> PageT:
        """A body read ahead that ``decode`` rejected: counted as a retry, then requested the usual way."""
        self.stats.add(retries=1)
        logger.warning("GET %s: the body read ahead could not be decoded; requesting it again", url.path)
        return self._get(url, params, bucket, decode, listing=True)


def rate_limits(window_s: float = DEFAULT_RATE_LIMIT_WINDOW_S) -> tuple[tuple[int, float], tuple[int, float]]:
    """The general and the reports bucket for a general window of ``window_s`` (Harvest: 15 s): a scaled
    window (the demo, tests, benchmarks) scales the reports window alike, so every client on the same
    account and scale shares one pacer per bucket."""
    reports_window = REPORTS_RATE_LIMIT[1] * float(window_s) / DEFAULT_RATE_LIMIT_WINDOW_S
    return (RATE_LIMIT_REQUESTS, float(window_s)), (REPORTS_RATE_LIMIT[0], reports_window)


def _relative(path: str) -> str:
    """``"/users/me"`` and ``"users/me"`` both mean ``{base_url}/users/me``."""
    return path.lstrip("/")


def _bucket(rel: str) -> str:
    return "reports" if rel.startswith("reports/") else "general"


def _encode_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Drop ``None`` values, send booleans as ``true``/``false`` and dates as ISO 8601."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dt.date | dt.datetime):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_USER_AGENT",
    "PER_PAGE",
    "ClientStats",
    "Enveloped",
    "HarvestClient",
    "UnreadableBody",
]
