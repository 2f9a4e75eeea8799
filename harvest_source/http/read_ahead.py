"""Read-ahead paging: the next page of a list is requested while this one is still being decoded.

Why: a big list (``time_entries``) is a chain. Page N's ``links.next`` names page N+1 (cursor
paging), so a plain loop requests, decodes, requests, decodes, and the two never overlap. Harvest
puts ``links`` last in the body, so the next URL can be read from the body's last few hundred bytes
(``tail_next``) before the records are decoded. ``read_ahead`` does that: every page is requested
and decoded in its own thread, its successor is requested as soon as its tail is read, at most
``depth`` pages are in flight, and the pages come out in order.

What stays exact:

* The tail is only a hint. The page's decoded envelope decides: when its ``links.next`` differs
  from the hint, every page requested on the hint is dropped (never yielded) and paging goes on
  from the decoded link.
* Paging guards are the caller's ``next_url`` (same host, no loop, page cap), applied to every
  link before it is requested. A hint they refuse is not used; the decoded link then gets the same
  check after its page is yielded, so an error comes at the same point as in a plain loop.
* A body the decoder rejects (``UnreadableBody``) is requested again through the caller's normal
  retry path (``refetch``), in the page's thread.
* Errors come out in page order, after the pages before them. When the caller stops (an error, or
  dlt closing the generator), no new request starts; the page threads are daemons, so one still
  waiting on a retry never holds the process open.
* A daemon thread must not be inside the decoder (pyarrow's C++) when the interpreter exits: the
  process then aborts or segfaults in C++ teardown instead of exiting with its code. Every decode
  passes through ``DECODING``, which an ``atexit`` hook closes: exit waits for the decodes under way
  (tens of milliseconds for a page of 2000) and no new one starts.
"""

from __future__ import annotations

import atexit
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx
import orjson

from ..errors import HarvestResponseError, UnreadableBody

PageT = TypeVar("PageT")
_LINKS_KEY = b'"links":'


def tail_next(raw: bytes) -> str | None | bool:
    """``links.next`` read from the end of a list body: a URL, None (last page), or False (cannot tell)."""
    at = raw.rfind(_LINKS_KEY)
    if at < 0:
        return False
    tail = raw[at + len(_LINKS_KEY):].rstrip()
    if not tail.endswith(b"}"):
        return False
    try:
        links = orjson.loads(tail[:-1])
    except orjson.JSONDecodeError:
        return False
    if not isinstance(links, dict) or "next" not in links:
        return False
    nxt = links["next"]
    return nxt if nxt is None or isinstance(nxt, str) else False


class ExitGate:
    """Counts the page threads inside the decoder, so interpreter exit can wait until there are none."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._inside = 0
        self._closed = False

    @contextmanager
    def passage(self) -> Iterator[None]:
        """Hold the gate open for one decode; once the gate is closed, raise instead of entering."""
        with self._changed:
            if self._closed:
                raise _Stopped("the interpreter is exiting: no page is decoded any more")
            self._inside += 1
        try:
            yield
        finally:
            with self._changed:
                self._inside -= 1
                self._changed.notify_all()

    @property
    def inside(self) -> int:
        """How many decodes are under way now."""
        return self._inside

    def close(self, timeout_s: float = 30.0) -> bool:
        """Let no new decode in and wait for the ones under way; False if some still run after ``timeout_s``."""
        with self._changed:
            self._closed = True
            return self._changed.wait_for(lambda: self._inside == 0, timeout_s)


DECODING = ExitGate()
atexit.register(DECODING.close)


def envelope_next(envelope: Mapping[str, Any]) -> Any:
    links = envelope.get("links")
    return links.get("next", False) if isinstance(links, dict) else False


@dataclass
class _Page(Generic[PageT]):
    """One page in flight: its URL, the hint read from its tail, and the decoded page."""

    url: httpx.URL
    number: int
    hint: Future[str | None | bool] = field(default_factory=Future)
    decoded: Future[PageT] = field(default_factory=Future)
    successor: httpx.URL | None = None  # requested on the hint, not yet confirmed
    cancelled: threading.Event = field(default_factory=threading.Event)


def read_ahead(
    first: httpx.URL,
    query: Mapping[str, str] | None,
    *,
    fetch: Callable[[httpx.URL, Mapping[str, str] | None], bytes],
    decode: Callable[[bytes, str], PageT],
    refetch: Callable[[httpx.URL, Mapping[str, str] | None, Callable[[bytes, str], PageT]], PageT],
    next_url: Callable[[Mapping[str, Any], httpx.URL, int], httpx.URL | None],
    forget: Callable[[httpx.URL], None],
    depth: int = 3,
) -> Iterator[PageT]:
    """Yield the decoded pages of one list in order, with up to ``depth`` pages requested ahead.

    ``fetch`` returns a page's body (the client's request with retries), ``decode`` turns it into a
    page with an ``envelope``, ``refetch`` requests again and decodes with the decoder it is given
    (for bodies ``decode`` rejects), ``next_url`` validates a link (raising the client's paging
    errors) and ``forget`` un-marks a link that was validated on a hint the decoded page then
    contradicted.
    """
    def query_of(page: _Page[PageT]) -> Mapping[str, str] | None:
        return query if page.number == 1 else None  # later pages' links carry the filters

    def gated_decode(raw: bytes, path: str) -> PageT:
        with DECODING.passage():
            return decode(raw, path)

    def work(page: _Page[PageT]) -> None:
        try:
            if page.cancelled.is_set():
                raise _Stopped
            raw = fetch(page.url, query_of(page))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, in page order
            page.hint.set_result(False)
            page.decoded.set_exception(error)
            return
        page.hint.set_result(tail_next(raw))
        try:
            try:
                result = gated_decode(raw, page.url.path)
            except UnreadableBody:
                result = refetch(page.url, query_of(page), gated_decode)
            page.decoded.set_result(result)
        except BaseException as error:  # noqa: BLE001
            page.decoded.set_exception(error)

    def start(url: httpx.URL, number: int) -> _Page[PageT]:
        page: _Page[PageT] = _Page(url, number)
        threading.Thread(target=work, args=(page,), name=f"harvest-page-{number}", daemon=True).start()
        return page

    def hinted_successor(page: _Page[PageT]) -> httpx.URL | None:
        hint = page.hint.result()
        if not isinstance(hint, str):
            return None  # last page, or no readable hint: decided from the decoded envelope
        try:
            return next_url({"links": {"next": hint}}, page.url, page.number)
        except HarvestResponseError:
            return None  # the decoded link gets the same check, after this page is yielded

    window: deque[_Page[PageT]] = deque([start(first, 1)])
    extendable = True  # the newest page's successor is still to be decided from its tail
    try:
        while window:
            while extendable and len(window) < depth:
                newest = window[-1]
                if newest is not window[0] and not newest.hint.done():
                    wait([newest.hint, window[0].decoded], return_when=FIRST_COMPLETED)
                    if not newest.hint.done():
                        break  # the next page to hand out is ready: never hold it back for a hint (a pacer wait)
                newest.successor = hinted_successor(newest)
                extendable = newest.successor is not None
                if newest.successor is not None:
                    window.append(start(newest.successor, newest.number + 1))
            page = window.popleft()
            result = page.decoded.result()
            decided = envelope_next(result.envelope)  # type: ignore[attr-defined]
            if page.successor is not None and decided == page.hint.result():
                yield result
                continue
            if page.successor is not None:  # the hint was wrong: drop what was requested on it
                for dropped in window:
                    dropped.cancelled.set()
                    forget(dropped.url)
                window.clear()
            yield result
            nxt = next_url(result.envelope, page.url, page.number)  # type: ignore[attr-defined]
            extendable = nxt is not None
            if nxt is not None:
                window.append(start(nxt, page.number + 1))
    finally:
        for pending in window:
            pending.cancelled.set()


class _Stopped(Exception):
    """The consumer stopped before this page's request started, or the interpreter is exiting."""


__all__ = ["DECODING", "ExitGate", "read_ahead", "tail_next"]
