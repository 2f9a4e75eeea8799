"""Walking one list: ``links.next`` followed verbatim until it is null, under guards, read ahead or not.

Why verbatim and never ``next_page``: on Harvest's cursor endpoints ``next_page`` is null on middle
pages, and the link carries every filter of the first request. Each link is checked before it is
requested (``Listing.next_url``):

* same origin as ``base_url``: the token goes to no other host, whatever the body says;
* never seen before in this listing: a cyclic link is an error, not an endless run;
* at most ``max_pages`` pages: a guard against endless distinct links.

``ahead`` > 1 hands the walk to ``read_ahead`` (the next page requested while this one decodes),
with the same guards. Every page read is counted in the client's stats (``listings``), with the
``total_pages`` its envelope announces, for the live progress display.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from .decoding import PageT, unusable_page
from .read_ahead import read_ahead
from .stats import ClientStats

Query = Mapping[str, str] | None
Decode = Callable[[bytes, str], Any]


class Listing:
    """One walk of one list: its first URL and query, the links it has seen, and the guards."""

    def __init__(
        self, label: str, first: httpx.URL, query: Query, *, origin: httpx.URL, max_pages: int, stats: ClientStats
    ) -> None:
        self.label = label  # the list's path as the caller named it: its key in ``stats.listings``
        self.first = first
        self.query = query
        self.origin = origin
        self.max_pages = max_pages
        self.stats = stats
        self._visited = {str(first.copy_merge_params(dict(query or {})))}

    def pages(
        self,
        decode: Callable[[bytes, str], PageT],
        *,
        get: Callable[[httpx.URL, Query, Callable[[bytes, str], PageT]], PageT],
        ahead: int = 1,
        fetch: Callable[[httpx.URL, Query], bytes] | None = None,
        refetch: Callable[[httpx.URL, Query, Callable[[bytes, str], PageT]], PageT] | None = None,
    ) -> Iterator[PageT]:
        """Yield every page decoded, in order. ``get`` requests and decodes one page (with retries);
        read ahead, ``fetch`` requests a body to decode in its page thread and ``refetch`` requests
        one again whose body ``decode`` rejected."""
        if ahead > 1 and fetch is not None and refetch is not None:
            pages: Iterator[PageT] = read_ahead(
                self.first, self.query, depth=ahead, decode=decode, fetch=fetch, refetch=refetch,
                next_url=self.next_url, forget=self.forget,
            )
        else:
            pages = self._one_by_one(decode, get)
        for page in pages:
            self.stats.count_page(self.label, page.envelope)
            yield page

    def _one_by_one(
        self,
        decode: Callable[[bytes, str], PageT],
        get: Callable[[httpx.URL, Query, Callable[[bytes, str], PageT]], PageT],
    ) -> Iterator[PageT]:
        url: httpx.URL | None = self.first
        query, pages = self.query, 0
        while url is not None:
            page = get(url, query, decode)
            pages += 1
            yield page
            url, query = self.next_url(page.envelope, url, pages), None  # later links carry the filters

    def forget(self, url: httpx.URL) -> None:
        """Un-mark a link validated on a read-ahead hint that the decoded page then contradicted."""
        self._visited.discard(str(url))

    def next_url(self, envelope: Mapping[str, Any], current: httpx.URL, pages: int) -> httpx.URL | None:
        """Validate ``links.next``: same origin (the token goes nowhere else), never seen, under the cap."""
        path = current.path
        links = envelope.get("links")
        if not isinstance(links, dict):
            raise unusable_page(path, "the page has no 'links' object, so paging cannot continue safely",
                                "check that base_url points at the Harvest API v2")
        nxt = links.get("next")
        if nxt is None:
            return None
        if not isinstance(nxt, str) or not nxt:
            raise unusable_page(path, f"links.next is not a URL ({type(nxt).__name__})",
                                "unexpected envelope; check that base_url points at the Harvest API v2")
        url = current.join(nxt)
        if (url.scheme, url.host, url.port) != (self.origin.scheme, self.origin.host, self.origin.port):
            raise unusable_page(
                path,
                f"links.next points at another host ({url.scheme}://{url.host}); refusing to send the token there",
                "check base_url (scheme and host must match what the API links to)",
            )
        key = str(url)
        if key in self._visited:
            raise unusable_page(
                path, f"links.next repeats an already visited page after {pages} pages (paging loop)",
                "the API returned a cyclic next link; report it, retrying will loop",
            )
        if pages >= self.max_pages:
            raise unusable_page(path, f"more than {self.max_pages} pages, stopping (paging loop guard)",
                                "narrow the request (e.g. updated_since) or raise max_pages")
        self._visited.add(key)
        return url


__all__ = ["Listing"]
