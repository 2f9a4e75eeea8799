"""The fan-out gather pool: the children of many parents fetched at once, on our threads.

dlt runs an async transformer's coroutine on its own event loop; the requests are blocking
(``HarvestClient``), so they run on a thread pool of ``concurrency`` threads, all under the client's
one shared pacer. The first error ends the gather with the others cancelled and their errors consumed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .catalog import Endpoint
from .client import HarvestClient
from .errors import HarvestError, HarvestPermissionError, HarvestRunStopped
from .listing_window import ListingWindow
from .skips import RunGuard

log = logging.getLogger("harvest_source")

Page = list[dict[str, Any]]


class GatherPool:
    """One thread pool per source, started at the first fan-out, shared by every child table."""

    def __init__(self, client: HarvestClient, concurrency: int, guard: RunGuard,
                 on_read: Callable[[str, int, list[int]], None] | None = None) -> None:
        """``on_read(table, parent_id, child_ids)``: told of every parent whose children were read whole, with
        the ids that came back (the deletion pass removes or marks the old ones a re-read did not replace:
        all of them when it loads no row, and in soft mode the ones missing from it)."""
        self.client, self.concurrency, self.guard = client, concurrency, guard
        self.on_read = on_read
        self._pool: ThreadPoolExecutor | None = None

    async def gather(self, child: Endpoint, parent_ids: list[int], window: ListingWindow) -> Page:
        """Fetch the children of many parents at once, on our pool, off dlt's event loop."""
        loop = asyncio.get_running_loop()
        pool = self._executor()
        fetch = self._fetcher(child)
        futures = [loop.run_in_executor(pool, fetch, pid) for pid in parent_ids]
        with self.guard.fails_the_run():
            try:
                pages = await all_or_first_error(futures)
            except HarvestPermissionError as error:
                window.rollback()
                self.guard.skip([child.table], error, child.permission)
                return []
            if any(rows is None for rows in pages):
                raise HarvestRunStopped(f"{child.table}: not every parent's children were read, the run is stopping")
        return [row for rows in pages for row in rows]

    def _fetcher(self, child: Endpoint) -> Callable[[int], Page | None]:
        fan_out = child.fan_out
        assert fan_out is not None and child.records_key is not None
        records_key = child.records_key

        def fetch(parent_id: int) -> Page | None:
            rows: Page = []
            try:
                for page in self.client.iter_pages(child.path.format(parent_id=parent_id), records_key):
                    for row in page:
                        row[fan_out.parent_key] = parent_id
                    rows.extend(page)
            except HarvestRunStopped:
                # None, not the error: when the run stops, dlt's loop may drop ``gather`` before this
                # ends, and asyncio would print the unretrieved error's traceback after the run's own
                return None
            except HarvestError as error:
                if error.status in fan_out.empty_on_status and not isinstance(error, HarvestPermissionError):
                    log.debug("%s: %s for parent %s, no children", child.table, error.status, parent_id)
                    rows = []
                else:
                    raise
            if self.on_read is not None:
                self.on_read(child.table, parent_id, [row["id"] for row in rows])
            return rows

        return fetch

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="harvest-fanout")
        return self._pool


async def all_or_first_error(futures: list[asyncio.Future[Page | None]]) -> list[Page | None]:
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
