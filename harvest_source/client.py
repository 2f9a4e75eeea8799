"""HTTP client for the Harvest API v2: auth headers, pacing, bounded retries, paging, typed errors.

It knows HTTP and Harvest's list envelope, nothing about our tables. One instance is meant to be
shared by many threads (httpx.Client is thread-safe for sync use); pacers are shared process-wide
per token + account + base URL, so separate clients on the same credentials still respect one
budget.

List pages are decoded by a function the caller may choose (``iter_decoded``): orjson into dicts
by default (``iter_pages``), or anything else that hands back the page's envelope, such as the
arrow decoder in ``arrow_pages``. The decoder signals a truncated or corrupt body by raising
``UnreadableBody``, and the client retries it like any other unusable response.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

import httpx

from harvest_source.errors import (
    CREDENTIALS_HINT,
    HarvestAuthError,
    HarvestConfigError,
    HarvestError,
    HarvestNotFoundError,
    HarvestPermissionError,
    HarvestRequestError,
    HarvestResponseError,
    HarvestRetriesExhausted,
    HarvestRunStopped,
    UnreadableBody,
)
from harvest_source.pacing import Pacer, Stopped, pacer_for, pacer_key, sleep_unless_stopped
from harvest_source.read_ahead import read_ahead

try:  # orjson comes with dlt; json is the fallback so the client imports anywhere.
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads
    _JSON_ERRORS = (ValueError,)

DEFAULT_BASE_URL = "https://api.harvestapp.com/v2"
DEFAULT_USER_AGENT = "harvest-dlt (https://github.com/harvest-dlt/harvest-dlt)"
PER_PAGE = 2000
DEFAULT_MAX_PAGES = 100_000

logger = logging.getLogger("harvest_source")

# Transient network failures (and bodies that failed to decode) are worth another attempt. The others
# (UnsupportedProtocol, LocalProtocolError) come from our configuration and fail the same way every time.
_RETRYABLE_TRANSPORT = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
    httpx.DecodingError,
)
_RETRY_STATUSES = frozenset({429, *range(500, 600)})


@dataclass
class ClientStats:
    """Thread-safe counters that benchmarks and the run summary read."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    waited_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        """Add to counters atomically: ``stats.add(requests=1, waited_s=0.3)``."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def count_status(self, status: int) -> None:
        """Count one response by HTTP status."""
        with self._lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """A consistent plain-dict copy, safe to print or compare."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled": self.throttled,
                "by_status": dict(self.by_status),
                "transport_errors": self.transport_errors,
                "waited_s": self.waited_s,
            }


class Enveloped(Protocol):
    """What a decode function returns for one list page."""

    @property
    def envelope(self) -> Mapping[str, Any]:
        """The page without its records; its ``links.next`` drives paging."""
        ...


PageT = TypeVar("PageT", bound=Enveloped)


class _JsonPage(NamedTuple):
    """A list page decoded by orjson: what ``iter_pages`` yields the records of."""

    envelope: dict[str, Any]
    records: list[dict[str, Any]]


@dataclass
class _Attempt:
    """Outcome of one request that calls for a retry (or, at the end, an exhausted error)."""

    status: int | None
    reason: str
    wait_s: float
    pause_pacer: bool = False


class HarvestClient:
    """Sync Harvest v2 client: ``get_json`` for single objects, ``iter_pages``/``iter_decoded`` for lists."""

    def __init__(
        self,
        access_token: str,
        account_id: str | int,
        base_url: str = DEFAULT_BASE_URL,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 60.0,
        max_attempts: int = 8,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        max_retry_wait_s: float = 900.0,
        rate_limit: tuple[int, float] = (100, 15.0),
        reports_rate_limit: tuple[int, float] = (100, 900.0),
        max_connections: int = 16,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
        max_pages: int = DEFAULT_MAX_PAGES,
        stop: threading.Event | None = None,
    ) -> None:
        token = _check_token(access_token)
        account = _check_account_id(account_id)
        self.base_url = _check_base_url(base_url)
        self._base = httpx.URL(self.base_url + "/")
        if not user_agent or not user_agent.strip() or not user_agent.isascii() or not user_agent.isprintable():
            raise HarvestConfigError(
                "user_agent is empty or not printable ASCII",
                hint="Harvest answers 400 without a User-Agent; set an app name and contact",
            )
        if max_attempts < 1:
            raise HarvestConfigError(f"max_attempts must be >= 1, got {max_attempts}", hint="use e.g. 8")
        self.account_id = account
        self._token = token
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_retry_wait_s = max_retry_wait_s
        self.max_pages = max_pages
        self._sleep = sleep
        self._stop = stop if stop is not None else threading.Event()
        self._rng = rng or random.Random()
        self.stats = ClientStats()
        self._pacers = self._make_pacers(rate_limit, reports_rate_limit, sleep, clock)
        self._http = self._make_http(token, account, user_agent, transport, timeout_s, max_connections)

    # ----------------------------------------------------------------- setup
    def _make_pacers(
        self,
        rate_limit: tuple[int, float],
        reports_rate_limit: tuple[int, float],
        sleep: Callable[[float], None],
        clock: Callable[[], float] | None,
    ) -> dict[str, Pacer]:
        """Shared pacers normally; private ones when a test injects its own clock or sleep."""
        limits = {"general": rate_limit, "reports": reports_rate_limit}
        if clock is None and sleep is time.sleep:
            return {
                bucket: pacer_for(pacer_key(self._token, self.account_id, self.base_url, bucket), lim, win)
                for bucket, (lim, win) in limits.items()
            }
        clk = clock or time.monotonic
        return {bucket: Pacer(lim, win, clock=clk, sleep=sleep) for bucket, (lim, win) in limits.items()}

    @staticmethod
    def _make_http(
        token: str,
        account: str,
        user_agent: str,
        transport: httpx.BaseTransport | None,
        timeout_s: float,
        max_connections: int,
    ) -> httpx.Client:
        headers = {
            "Authorization": f"Bearer {token}",
            "Harvest-Account-Id": account,
            "User-Agent": user_agent,
            "Accept": "application/json",
        }
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        if transport is None:
            transport = httpx.HTTPTransport(limits=limits)
        return httpx.Client(
            headers=headers, transport=transport, timeout=httpx.Timeout(timeout_s), follow_redirects=False
        )

    def __repr__(self) -> str:
        return f"HarvestClient(base_url={self.base_url!r}, account_id={self.account_id!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

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
        return self._request(self._url(rel), _encode_params(params), _bucket(rel), _decode_json, listing=False)

    def iter_pages(
        self, path: str, records_key: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the records of every page, following ``links.next`` verbatim until it is null.

        ``next_page`` is never used: it is null on middle pages of cursor endpoints.
        """

        def decode(raw: bytes, page_path: str) -> _JsonPage:
            return _json_page(raw, records_key, page_path)

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
        and page-count guards); only the decoding is the caller's. ``decode`` runs inside the request
        attempt, in the thread that made the request, for 2xx JSON responses only. Raising
        ``UnreadableBody`` there retries the request like a truncated body; any other exception
        (e.g. a ``HarvestResponseError`` for a missing records key) propagates unchanged.

        ``ahead`` > 1 keeps that many pages in flight (``read_ahead``): ``decode`` then runs in page
        threads, possibly on two pages at once, so it must be thread-safe; a body it rejects is
        requested again with the same retries. The pages and errors come out in the same order.
        """
        rel = _relative(path)
        bucket = _bucket(rel)
        query: dict[str, str] | None = {"per_page": str(PER_PAGE), **_encode_params(params)}
        first = self._url(rel)
        visited = {str(first.copy_merge_params(query))}
        if ahead > 1:
            yield from read_ahead(
                first, query, depth=ahead, decode=decode,
                fetch=lambda url, q: self._request(url, q, bucket, _keep_body, listing=True),
                refetch=lambda url, q, gated: self._refetch(url, q, bucket, gated),
                next_url=lambda envelope, url, pages: self._next_url(envelope, url, visited, pages),
                forget=lambda url: visited.discard(str(url)),
            )
            return
        url: httpx.URL | None = first
        pages = 0
        while url is not None:
            page: PageT = self._request(url, query, bucket, decode, listing=True)
            pages += 1
            yield page
            url, query = self._next_url(page.envelope, url, visited, pages), None

    def _refetch(
        self, url: httpx.URL, params: Mapping[str, str] | None, bucket: str, decode: Callable[[bytes, str], PageT]
    ) -> PageT:
        """A body read ahead that ``decode`` rejected: counted as a retry, then requested the usual way."""
        self.stats.add(retries=1)
        logger.warning("GET %s: the body read ahead could not be decoded; requesting it again", url.path)
        return self._request(url, params, bucket, decode, listing=True)

    # ----------------------------------------------------------------- paging helpers
    def _url(self, rel: str) -> httpx.URL:
        return self._base.join(rel)

    def _next_url(
        self, envelope: Mapping[str, Any], current: httpx.URL, visited: set[str], pages: int
    ) -> httpx.URL | None:
        """Validate ``links.next``: same origin (the token goes nowhere else), never seen, under the cap."""
        path = current.path
        links = envelope.get("links")
        if not isinstance(links, dict):
            raise HarvestResponseError(
                f"GET {path}: the page has no 'links' object, so paging cannot continue safely",
                status=200,
                path=path,
                hint="check that base_url points at the Harvest API v2",
            )
        nxt = links.get("next")
        if nxt is None:
            return None
        if not isinstance(nxt, str) or not nxt:
            raise HarvestResponseError(
                f"GET {path}: links.next is not a URL ({type(nxt).__name__})",
                status=200,
                path=path,
                hint="unexpected envelope; check that base_url points at the Harvest API v2",
            )
        url = current.join(nxt)
        if (url.scheme, url.host, url.port) != (self._base.scheme, self._base.host, self._base.port):
            raise HarvestResponseError(
                f"GET {path}: links.next points at another host ({url.scheme}://{url.host}); "
                "refusing to send the token there",
                status=200,
                path=path,
                hint="check base_url (scheme and host must match what the API links to)",
            )
        key = str(url)
        if key in visited:
            raise HarvestResponseError(
                f"GET {path}: links.next repeats an already visited page after {pages} pages (paging loop)",
                status=200,
                path=path,
                hint="the API returned a cyclic next link; report it, retrying will loop",
            )
        if pages >= self.max_pages:
            raise HarvestResponseError(
                f"GET {path}: more than {self.max_pages} pages, stopping (paging loop guard)",
                status=200,
                path=path,
                hint="narrow the request (e.g. updated_since) or raise max_pages",
            )
        visited.add(key)
        return url

    # ----------------------------------------------------------------- one request with retries
    def _request(
        self,
        url: httpx.URL,
        params: Mapping[str, str] | None,
        bucket: str,
        decode: Callable[[bytes, str], Any],
        *,
        listing: bool,
    ) -> Any:
        """GET with pacing and bounded retries; returns the decoded body or raises a typed error."""
        path = url.path
        pacer = self._pacers[bucket]
        waited_for_retries = 0.0
        attempt = 0
        while True:
            attempt += 1
            try:
                waited, stamp = pacer.acquire_slot(self._stop)  # raises Stopped once the run stops
            except Stopped:
                raise HarvestRunStopped(f"GET {path}: not sent, the run is stopping", path=path) from None
            self.stats.add(waited_s=waited, requests=1)
            outcome = self._attempt(url, params, path, decode, listing, attempt, pacer, stamp)
            if not isinstance(outcome, _Attempt):
                return outcome[0]
            if attempt >= self.max_attempts or waited_for_retries + outcome.wait_s > self.max_retry_wait_s:
                raise self._exhausted(path, outcome, attempt)
            waited_for_retries += outcome.wait_s
            self.stats.add(retries=1)
            logger.warning(
                "GET %s: %s (attempt %d/%d); retrying in %.1f s",
                path,
                outcome.reason,
                attempt,
                self.max_attempts,
                outcome.wait_s,
            )
            self._wait(outcome, pacer)

    def _wait(self, outcome: _Attempt, pacer: Pacer) -> None:
        """429s pause the shared pacer (every thread waits); other failures back off this thread only."""
        if outcome.pause_pacer:
            pacer.pause_for(outcome.wait_s)  # the next acquire() waits it out and counts it in waited_s
        else:
            sleep_unless_stopped(outcome.wait_s, self._stop, self._sleep)  # the next acquire then stops
            self.stats.add(waited_s=outcome.wait_s)

    def _attempt(
        self,
        url: httpx.URL,
        params: Mapping[str, str] | None,
        path: str,
        decode: Callable[[bytes, str], Any],
        listing: bool,
        attempt: int,
        pacer: Pacer,
        stamp: float,
    ) -> tuple[Any] | _Attempt:
        """Send once. Returns ``(decoded,)`` on success, an ``_Attempt`` to retry, or raises a final error."""
        started = time.perf_counter()
        seen: dict[str, float] = {}

        def trace(event: str, info: object) -> None:
            # ``info`` holds the request with its headers: it is deliberately never looked at.
            if event.endswith(("send_request_headers.started", "receive_response_headers.complete")):
                seen[event.rsplit(".", 2)[-2]] = pacer.now()

        transient: str | None = None
        broken: str | None = None
        try:
            response = self._http.get(url, params=params, extensions={"trace": trace})
        except _RETRYABLE_TRANSPORT as exc:
            transient = f"{type(exc).__name__}: {self._redact(str(exc))}"[:300]
        except httpx.HTTPError as exc:
            broken = type(exc).__name__  # its text may quote a header value, so it is not shown
        finally:  # always, even on Ctrl-C: an unsettled slot would hold its place in the window for good
            self._restamp(pacer, stamp, seen)
        # Errors are raised here, outside the except blocks, so no httpx exception is chained as context.
        if broken is not None:
            raise HarvestConfigError(
                f"GET {path}: the request could not be sent to {url.host} ({broken})",
                path=path,
                hint="check base_url (http/https and host), the user_agent and the access token characters",
            )
        if transient is not None:
            self.stats.add(transport_errors=1)
            return _Attempt(None, transient, self._backoff_delay(attempt))
        ms = (time.perf_counter() - started) * 1000
        logger.debug("GET %s -> %d in %.0f ms", path, response.status_code, ms)
        self.stats.count_status(response.status_code)
        return self._handle(response, path, decode, listing, attempt, pacer)

    @staticmethod
    def _restamp(pacer: Pacer, stamp: float, seen: Mapping[str, float]) -> None:
        """Settle the request's slot at a moment that is surely after Harvest counted it.

        A rate limiter counts a request before it answers, so by the time the response headers
        are here the server has counted it: settling the slot then makes arrival jitter (pool
        waits, TLS set-up, a busy in-process simulator) harmless (see ``pacing``). A request that
        left but got no answer is settled now; one that never left (or a MockTransport, which has
        no trace events) at its acquisition.
        """
        if "receive_response_headers" in seen:
            pacer.restamp(stamp, seen["receive_response_headers"])
        elif "send_request_headers" in seen:
            pacer.restamp(stamp, pacer.now())
        else:
            pacer.restamp(stamp, stamp)

    def _handle(
        self,
        response: httpx.Response,
        path: str,
        decode: Callable[[bytes, str], Any],
        listing: bool,
        attempt: int,
        pacer: Pacer,
    ) -> tuple[Any] | _Attempt:
        status = response.status_code
        if 200 <= status < 300:
            return self._parse_success(response, path, decode, attempt)
        if status == 429:
            self.stats.add(throttled=1)
            return _throttled(response, pacer.window_s)
        if status in _RETRY_STATUSES:
            return _Attempt(status, f"server error {status}", self._backoff_delay(attempt))
        raise self._status_error(response, path, listing)

    def _parse_success(
        self, response: httpx.Response, path: str, decode: Callable[[bytes, str], Any], attempt: int
    ) -> tuple[Any] | _Attempt:
        """A 2xx body through ``decode``: ``(decoded,)``, or an ``_Attempt`` when it raised ``UnreadableBody``."""
        ctype = response.headers.get("content-type", "")
        if "json" not in ctype.lower():
            raise HarvestResponseError(
                f"GET {path}: expected JSON but got {ctype or 'no content type'} with status {response.status_code}",
                status=response.status_code,
                path=path,
                hint="check that base_url points at the Harvest API v2 (e.g. https://api.harvestapp.com/v2)",
            )
        try:
            return (decode(response.content, path),)
        except UnreadableBody as error:
            reason = str(error)
        return _Attempt(response.status_code, reason, self._backoff_delay(attempt))

    def _backoff_delay(self, attempt: int) -> float:
        """Full-jitter capped exponential backoff: uniform(0, min(cap, base * 2**(attempt-1)))."""
        return self._rng.uniform(0.0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1)))

    # ----------------------------------------------------------------- errors
    def _status_error(self, response: httpx.Response, path: str, listing: bool) -> HarvestError:
        status = response.status_code
        said = self._server_message(response)
        detail = f": {said}" if said else ""
        if status == 401:
            return HarvestAuthError(
                f"GET {path}: Harvest rejected the credentials (401){detail}",
                status=status,
                path=path,
                hint=CREDENTIALS_HINT,
            )
        if status == 403:
            return HarvestPermissionError(
                f"GET {path}: the token's user is not allowed to read this endpoint (403){detail}",
                status=status,
                path=path,
                hint="use a token of an administrator (or a role with access), or deselect this resource",
            )
        if status == 404:
            hint = (
                "the account id or base URL may be wrong: check sources.harvest.account_id and sources.harvest.base_url"
                if listing
                else "the record may not exist; otherwise check sources.harvest.account_id and sources.harvest.base_url"
            )
            return HarvestNotFoundError(f"GET {path}: not found (404){detail}", status=status, path=path, hint=hint)
        if 300 <= status < 400:
            where = httpx.URL(response.headers.get("location", "")).host or "another location"
            return HarvestResponseError(
                f"GET {path}: redirected ({status}) to {where}; redirects are not followed to protect the token",
                status=status,
                path=path,
                hint="set base_url to the final API URL (https://api.harvestapp.com/v2)",
            )
        hint = (
            "check the parameters (dates as ISO 8601, report ranges <= 1 year) and that a User-Agent is set"
            if status == 400
            else "Harvest refused the request as sent; check the parameters and the account's features"
        )
        return HarvestRequestError(
            f"GET {path}: request refused ({status}){detail}", status=status, path=path, hint=hint
        )

    def _server_message(self, response: httpx.Response) -> str:
        """Harvest's own explanation from a JSON error body (``message``/``error_description``), redacted."""
        if "json" not in response.headers.get("content-type", "").lower():
            return ""
        try:
            body = _loads(response.content)
        except _JSON_ERRORS:
            return ""
        if not isinstance(body, dict):
            return ""
        for key in ("message", "error_description", "error"):
            if isinstance(body.get(key), str) and body[key].strip():
                return self._redact(body[key].strip())[:300]
        return ""

    def _exhausted(self, path: str, last: _Attempt, attempts: int) -> HarvestError:
        """The error after the last retry: unusable 200 bodies are a response error, the rest exhausted."""
        status, reason = last.status, last.reason
        if status is not None and 200 <= status < 300:
            return HarvestResponseError(
                f"GET {path}: the body was not valid JSON in {attempts} attempts (last: {reason})",
                status=status,
                path=path,
                hint="the response keeps arriving truncated or corrupt; check proxies between you and Harvest",
            )
        if status is None:
            hint = f"could not reach {self._base.host}; check base_url ({self.base_url}) and the network"
        elif status == 429:
            hint = "Harvest kept throttling; run fewer concurrent jobs on this token or try later"
        else:
            hint = "Harvest kept failing; try again later (see https://www.harveststatus.com)"
        return HarvestRetriesExhausted(
            f"GET {path}: still failing after {attempts} attempts (last: {reason})",
            status=status,
            path=path,
            hint=hint,
            last_status=status,
            attempts=attempts,
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


# --------------------------------------------------------------------- pure helpers
def _check_token(token: object) -> str:
    if not isinstance(token, str) or not token.strip():
        raise HarvestConfigError("the Harvest access token is empty", hint=CREDENTIALS_HINT)
    token = token.strip()
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in token):
        raise HarvestConfigError(
            "the Harvest access token contains spaces, control or non-ASCII characters (value not shown)",
            hint=CREDENTIALS_HINT,
        )
    return token


def _check_account_id(account_id: object) -> str:
    text = str(account_id).strip() if isinstance(account_id, (str, int)) and not isinstance(account_id, bool) else ""
    if not text.isascii() or not text.isdigit():
        raise HarvestConfigError(
            f"the Harvest account id must be numeric, got {text[:40]!r}" if text else "the Harvest account id is empty",
            hint="set sources.harvest.account_id / SOURCES__HARVEST__ACCOUNT_ID to the numeric id shown at "
            "https://id.getharvest.com/developers",
        )
    return text


def _check_base_url(base_url: str) -> str:
    url = httpx.URL(base_url.strip()) if isinstance(base_url, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.query or url.userinfo:
        raise HarvestConfigError(
            "base_url must be an http(s) URL without query or credentials",
            hint="set sources.harvest.base_url / SOURCES__HARVEST__BASE_URL, e.g. https://api.harvestapp.com/v2",
        )
    return str(url).rstrip("/")


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


def _throttled(response: httpx.Response, window_s: float) -> _Attempt:
    """A 429 waits ``Retry-After`` when given, else one window of the bucket (so it scales with time)."""
    retry_after = _parse_retry_after(response.headers.get("retry-after"))
    if retry_after is None:
        return _Attempt(429, "throttled (429 without Retry-After, waiting one window)", window_s, pause_pacer=True)
    return _Attempt(429, "throttled (429, Retry-After)", retry_after, pause_pacer=True)


def _parse_retry_after(value: str | None) -> float | None:
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


def _keep_body(raw: bytes, path: str) -> bytes:
    """The decode function of a read-ahead request: the body as it came; it is decoded in its page thread."""
    return raw


def _decode_json(raw: bytes, path: str) -> Any:
    """The default decode function: orjson (or json); a body it cannot parse is worth another attempt."""
    try:
        return _loads(raw)
    except _JSON_ERRORS as error:
        raise UnreadableBody(f"invalid or truncated JSON body ({len(raw)} bytes)") from error


def _json_page(raw: bytes, records_key: str, path: str) -> _JsonPage:
    """A list page as dicts: the records under ``records_key``, the rest of the object as the envelope."""
    data = _decode_json(raw, path)
    records = _records(data, records_key, path)
    del data[records_key]
    return _JsonPage(data, records)


def _records(data: Any, records_key: str, path: str) -> list[dict[str, Any]]:
    """The list under ``records_key``; anything else means the envelope is not what we expect."""
    if not isinstance(data, dict):
        raise HarvestResponseError(
            f"GET {path}: expected a JSON object with '{records_key}', got {type(data).__name__}",
            status=200,
            path=path,
            hint="check that base_url points at the Harvest API v2",
        )
    if records_key not in data:
        raise HarvestResponseError(
            f"GET {path}: the response has no '{records_key}' key (keys: {', '.join(list(data)[:8])})",
            status=200,
            path=path,
            hint="check the records key of this endpoint in the catalog",
        )
    records = data[records_key]
    if not isinstance(records, list):
        raise HarvestResponseError(
            f"GET {path}: '{records_key}' is a {type(records).__name__}, not a list",
            status=200,
            path=path,
            hint="check the records key of this endpoint in the catalog",
        )
    return records


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_USER_AGENT",
    "PER_PAGE",
    "ClientStats",
    "Enveloped",
    "HarvestClient",
    "UnreadableBody",
]
