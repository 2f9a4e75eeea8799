"""Build dlt resources from the endpoint catalog.

Three shapes, all read from ``endpoints.ENDPOINTS``:

* a plain list endpoint: one resource, ``dlt.sources.incremental`` on ``updated_at``
  sent as ``updated_since`` (or a whole reload for lists without it);
* a fan-out parent (invoices, estimates, users): a hidden listing resource whose pages
  feed the parent's own table and its children, so the parents are listed once per run;
* a fan-out child: a transformer over those pages that asks Harvest for the children of
  the parents its ``ListingWindow`` says can have changed, many parents at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dlt
import pendulum
from dlt.extract.resource import DltResource

from .arrow_pages import (
    AfterIncremental,
    PageDecoder,
    arrow_column_hints,
    arrow_eligible,
    batched,
)
from .client import HarvestClient
from .endpoints import ENDPOINTS, Endpoint, children_of
from .errors import HarvestError, HarvestPermissionError, HarvestRunStopped
from .fanout import ListingWindow, combine_bounds
from .first_load import MERGE, RepeatGuard, dedup_sort_columns
from .hints import nested_hints, table_columns
from .report import RunReport
from .settings import EPOCH

log = logging.getLogger("harvest_source")
# pages of an arrow-path list in flight at once: one being settled, two parsing on the two cores
READ_AHEAD_PAGES = 3

Page = list[dict[str, Any]]


@dataclass(frozen=True)
class Options:
    """Run settings the resources need (already validated by the source)."""

    start: str | None  # ISO lower bound for the first run, None = everything
    lookback_s: float
    sweep_interval_h: float
    force_sweep: bool
    strict: bool
    concurrency: int
    arrow: bool = True  # decode flat tables into arrow tables (arrow_pages); False: dicts everywhere


class Builder:
    """Turns catalog rows into resources sharing one client, report and thread pool."""

    def __init__(self, client: HarvestClient, report: RunReport, options: Options) -> None:
        self.client, self.report, self.options = client, report, options
        self._pool: ThreadPoolExecutor | None = None

    def build(self) -> list[DltResource]:
        resources: list[DltResource] = []
        for endpoint in ENDPOINTS:
            if endpoint.fan_out:
                continue
            children = children_of(endpoint.table)
            if children:
                resources.extend(self._family(endpoint, children))
            else:
                resources.append(self._plain(endpoint))
        return resources

    # -- shared pieces ---------------------------------------------------------------

    def _incremental(self) -> dlt.sources.incremental[str]:
        return dlt.sources.incremental(
            "updated_at",
            initial_value=self.options.start or EPOCH,
            lag=self.options.lookback_s or None,
        )

    def _hints(self, endpoint: Endpoint) -> dict[str, Any]:
        hints: dict[str, Any] = {
            "name": endpoint.table,
            "columns": table_columns(endpoint),
            "nested_hints": nested_hints(endpoint),
        }
        if endpoint.replaced_whole or not endpoint.primary_key:
            hints["write_disposition"] = "replace"
        else:
            hints["write_disposition"] = dict(MERGE)
            hints["primary_key"] = list(endpoint.primary_key)
            if endpoint.fan_out:
                # a parent's children are re-read whole: they replace that parent's old ones
                hints["merge_key"] = endpoint.fan_out.parent_key
        return hints

    @contextmanager
    def _fails_the_run(self) -> Iterator[None]:
        """An error leaving a resource fails the whole run (dlt stops at the first): record it and stop
        the client, so other resources' retries and back-offs end now instead of minutes later."""
        try:
            yield
        except Exception as error:  # GeneratorExit (dlt closing a finished or limited resource) passes
            self.report.failed(error)
            raise

    def _skip(self, tables: list[str], error: HarvestPermissionError, permission: str) -> None:
        """A 403: warn and leave the table out (or fail in strict mode)."""
        if self.options.strict:
            raise error
        reason = f"Harvest answered 403 on {error.path}: needs {permission}"
        for table in tables:
            log.warning("Skipping %s: %s. Use a token with that role, or leave it out with --resources.",
                        table, reason)
            self.report.skip(table, reason)

    def _pages(self, endpoint: Endpoint, since: str | None, decoder: PageDecoder | None = None) -> Iterator[Any]:
        # remembered so a later run can refuse to mix two accounts in one dataset
        dlt.current.source_state()["account_id"] = self.client.account_id
        params = {"updated_since": since} if since and since != EPOCH else None
        if endpoint.records_key is None:
            yield [self.client.get_json(endpoint.path)]
        elif decoder is not None:
            decoder.seed(dlt.current.source_schema())
            # pages parsed in parallel, read ahead (``read_ahead``); their columns settled in page order
            pages = self.client.iter_decoded(endpoint.path, decoder.parse, params, ahead=READ_AHEAD_PAGES)
            # arrow tables (several pages each), or a page's dicts when it must take the row path
            yield from batched(decoder.settle(page).item for page in pages)
        else:
            yield from self.client.iter_pages(endpoint.path, endpoint.records_key, params)

    def _decoder(self, endpoint: Endpoint) -> PageDecoder | None:
        """The arrow decoder for a flat table, when the arrow path is on (``Options.arrow``)."""
        if not (self.options.arrow and arrow_eligible(endpoint)):
            return None
        assert endpoint.records_key is not None
        return PageDecoder(endpoint.table, endpoint.records_key, table_columns(endpoint),
                           cursor="updated_at" if endpoint.incremental else None)

    # -- plain endpoints -------------------------------------------------------------

    def _plain(self, endpoint: Endpoint) -> DltResource:
        decoder = self._decoder(endpoint)
        # a first load may append (``first_load``): a repeated record makes the table merge again
        restore = dedup_sort_columns(table_columns(endpoint)) if appendable(endpoint) else None

        def guarded(since: str | None) -> Iterator[Page]:
            with self._fails_the_run():
                pages = self._pages(endpoint, since, decoder)
                if restore is not None:
                    pages = RepeatGuard(endpoint.table, endpoint.primary_key[0], restore)(pages)
                try:
                    yield from pages
                except HarvestPermissionError as error:
                    self._skip([endpoint.table], error, endpoint.permission)

        cursor = self._incremental()  # dlt binds an incremental given as the default argument

        def changed_pages(updated_at: dlt.sources.incremental[str] = cursor) -> Iterator[Page]:
            yield from guarded(updated_at.start_value)

        def all_pages() -> Iterator[Page]:
            yield from guarded(None)

        pages = changed_pages if endpoint.incremental else all_pages
        hints = self._hints(endpoint)
        if decoder is not None:  # the arrow path adds _dlt_load_id/_dlt_id itself: give them dlt's hints
            hints["columns"] = {**hints["columns"], **arrow_column_hints()}
        # parallelize() after binding: dlt 1.31 drops `parallelized=True` when a resource whose function
        # takes an incremental is called (bound), so these would all run in dlt's main thread, one by one
        resource = dlt.resource(pages, **hints)().parallelize()
        if decoder is not None:  # after dlt's incremental: cursor text -> timestamp, load id filled in
            resource.add_step(AfterIncremental(decoder.finalize))
        return resource

    # -- fan-out families --------------------------------------------------------------

    def _family(self, parent: Endpoint, children: tuple[Endpoint, ...]) -> list[DltResource]:
        run: dict[str, ListingWindow] = {}
        consumers = [parent.table, *(c.table for c in children)]

        def listing() -> Iterator[Page]:
            selected = [t for t in consumers if t in dlt.current.source().selected_resources]
            states = dlt.current.source_state().setdefault("resources", {})
            run.clear()
            for table in selected:
                run[table] = self._open_window(states.setdefault(table, {}))
            since = combine_bounds([w.listing_bound() for w in run.values()], self.options.start)
            with self._fails_the_run():
                try:
                    yield from self._pages(parent, since)
                except HarvestPermissionError as error:
                    self._skip(selected, error, parent.permission)

        listing_resource = dlt.resource(listing, name=f"{parent.table}_listing", selected=False,
                                        parallelized=True)

        def own_table(page: Page) -> Page:
            window = run.get(parent.table)
            if window is None:
                return []
            rows = [row for row in page if window.wants(row)]
            window.visited(page)
            return rows

        table = dlt.transformer(own_table, data_from=listing_resource, **self._hints(parent))
        return [listing_resource, table, *(self._child(c, listing_resource, run) for c in children)]

    def _open_window(self, state: dict[str, Any]) -> ListingWindow:
        return ListingWindow.open(
            state,
            now=pendulum.now("UTC"),
            sweep_interval_h=self.options.sweep_interval_h,
            force_sweep=self.options.force_sweep,
            lookback_s=self.options.lookback_s,
        )

    def _child(self, child: Endpoint, listing: DltResource, run: dict[str, ListingWindow]) -> DltResource:
        fan_out = child.fan_out
        assert fan_out is not None
        def children(parents: Page) -> Iterator[Any]:
            window = run.get(child.table)
            if window is None or window.skipped:
                return
            wanted = [p for p in parents if window.wants(p) and _has_role(p, fan_out.only_if_access_role)]
            window.visited(parents)
            if wanted:
                yield self._gather(child, [p["id"] for p in wanted], window)

        return dlt.transformer(children, data_from=listing, **self._hints(child))

    async def _gather(self, child: Endpoint, parent_ids: list[int], window: ListingWindow) -> Page:
        """Fetch the children of many parents at once, on our pool, off dlt's event loop."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        fetch = self._child_fetcher(child)
        futures = [loop.run_in_executor(pool, fetch, pid) for pid in parent_ids]
        with self._fails_the_run():
            try:
                pages = await _all_or_first_error(futures)
            except HarvestPermissionError as error:
                window.rollback()
                self._skip([child.table], error, child.permission)
                return []
            if any(rows is None for rows in pages):
                raise HarvestRunStopped(f"{child.table}: not every parent's children were read, the run is stopping")
        return [row for rows in pages for row in rows]

    def _child_fetcher(self, child: Endpoint) -> Callable[[int], Page | None]:
        fan_out = child.fan_out
        assert fan_out is not None and child.records_key is not None

        def fetch(parent_id: int) -> Page | None:
            rows: Page = []
            try:
                for page in self.client.iter_pages(child.path.format(parent_id=parent_id), child.records_key):
                    for row in page:
                        row[fan_out.parent_key] = parent_id
                    rows.extend(page)
            except HarvestRunStopped:
                # None, not the error: when the run stops, dlt's loop may drop ``_gather`` before this
                # ends, and asyncio would print the unretrieved error's traceback after the run's own
                return None
            except HarvestError as error:
                if error.status in fan_out.empty_on_status and not isinstance(error, HarvestPermissionError):
                    log.debug("%s: %s for parent %s, no children", child.table, error.status, parent_id)
                    return []
                raise
            return rows

        return fetch

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="harvest-fanout")
        return self._pool


async def _all_or_first_error(futures: list[asyncio.Future[Page | None]]) -> list[Page | None]:
    """Every result in order, or the first error with the rest cancelled and their errors consumed.

    ``asyncio.gather`` leaves the siblings running; when dlt's loop stops before a failing one ends, its
    error is never retrieved and asyncio prints its traceback after the run's one clear error."""
    done, pending = await asyncio.wait(futures, return_when=asyncio.FIRST_EXCEPTION)
    failed = [f for f in futures if f in done and f.exception() is not None]
    if not failed:
        return [f.result() for f in futures]
    for future in pending:
        future.cancel()  # not started: never runs; running: its outcome is dropped, not logged
    permission = [f for f in failed if isinstance(f.exception(), HarvestPermissionError)]
    raise (permission or failed)[0].exception()


def _has_role(parent: dict[str, Any], role: str | None) -> bool:
    return role is None or role in (parent.get("access_roles") or ())


def appendable(endpoint: Endpoint) -> bool:
    """Plain merged lists keyed by one column: their first load may append (see ``first_load``)."""
    return (
        endpoint.fan_out is None
        and not children_of(endpoint.table)
        and len(endpoint.primary_key) == 1
        and not endpoint.replaced_whole
    )


def appendable_tables() -> list[str]:
    return [e.table for e in ENDPOINTS if appendable(e)]
