"""A fan-out parent and its children: one hidden listing feeding the parent's table and one
transformer per child.

The parents are listed once per run, from the earliest bound any selected consumer needs
(``listing_window.combine_bounds``); each consumer's ``ListingWindow`` then picks the rows it must take
(the parent's table) or the parents whose children it must read (a child, through ``gather``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import dlt
import pendulum
from dlt.sources import DltResource

from .catalog import Endpoint
from .client import HarvestClient
from .errors import HarvestPermissionError
from .gather import GatherPool, Page
from .listing_window import ListingWindow, combine_bounds
from .reading import read_pages
from .rules import resource_hints, start_bound
from .skips import RunGuard

if TYPE_CHECKING:
    from .resources import Options


def family_resources(parent: Endpoint, children: tuple[Endpoint, ...], client: HarvestClient, guard: RunGuard,
                     pool: GatherPool, options: Options) -> list[DltResource]:
    """The hidden ``<parent>_listing`` resource, the parent's table, and its children's tables."""
    run: dict[str, ListingWindow] = {}
    consumers = [parent.table, *(c.table for c in children)]
    plan = guard.report.deletions

    def listing() -> Iterator[Page]:
        selected = [t for t in consumers if t in dlt.current.source().selected_resources]
        states = dlt.current.source_state().setdefault("resources", {})
        run.clear()
        for table in selected:
            rotate = parent.table if table != parent.table else None
            run[table] = _open_window(states.setdefault(table, {}), options, rotate)
        if plan is not None:  # the deletion sweep runs when a child's sweep interval ends (``deletion_pass``)
            plan.child_windows([w.sweep or w.day_due for t, w in run.items() if t != parent.table])
        since = combine_bounds([w.listing_bound() for w in run.values()], start_bound(parent, options.start))
        with guard.fails_the_run():
            try:
                yield from read_pages(client, parent, since)
            except HarvestPermissionError as error:
                guard.skip(selected, error, parent.permission)

    listing_resource = dlt.resource(listing, name=f"{parent.table}_listing", selected=False, parallelized=True)

    def own_table(page: Page) -> Page:
        window = run.get(parent.table)
        if window is None:
            return []
        rows = [row for row in page if window.wants(row)]
        window.visited(page)
        return rows

    table = dlt.transformer(own_table, data_from=listing_resource, **resource_hints(parent))
    on_empty = plan.no_children if plan is not None else None
    deletes = plan.mode if plan is not None else None
    return [listing_resource, table,
            *(_child(c, listing_resource, run, pool, on_empty, deletes) for c in children)]


def _open_window(state: dict[str, Any], options: Options, rotate_parent: str | None) -> ListingWindow:
    return ListingWindow.open(
        state,
        now=pendulum.parse(options.sweep_now) if options.sweep_now else pendulum.now("UTC"),
        sweep_interval_h=options.sweep_interval_h,
        force_sweep=options.force_sweep,
        lookback_s=options.lookback_s,
        rotate_parent=rotate_parent,
        verify_days=options.verify_days,
    )


def _child(child: Endpoint, listing: DltResource, run: dict[str, ListingWindow], pool: GatherPool,
           on_empty: Callable[[str, int], None] | None, deletes: str | None) -> DltResource:
    fan_out = child.fan_out
    assert fan_out is not None

    def children(parents: Page) -> Iterator[Any]:
        window = run.get(child.table)
        if window is None or window.skipped:
            return
        wanted = [p for p in parents if window.wants(p)]
        window.visited(parents)
        readable = [p for p in wanted if _has_role(p, fan_out.only_if_access_role)]
        if on_empty is not None and len(readable) < len(wanted):
            # Harvest keeps these children only for that role (teammates: managers), so a parent without
            # it has none: the deletion pass drops what it had (a manager who stopped being one)
            for parent in wanted:
                if not _has_role(parent, fan_out.only_if_access_role):
                    on_empty(child.table, parent["id"])
        if readable:
            yield pool.gather(child, [p["id"] for p in readable], window)

    return dlt.transformer(children, data_from=listing, **resource_hints(child, deletes))


def _has_role(parent: dict[str, Any], role: str | None) -> bool:
    return role is None or role in (parent.get("access_roles") or ())
