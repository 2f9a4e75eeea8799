"""A plain catalog row (a list without children, or a single object) as one dlt resource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dlt
from dlt.sources import DltResource

from .arrow_pages import PageDecoder, arrow_column_hints
from .catalog import Endpoint
from .client import HarvestClient
from .dlt_compat.resources import AfterIncremental, parallelized
from .errors import HarvestPermissionError
from .first_load import FirstLoads, first_load_pages
from .reading import read_pages
from .rules import (
    arrow_eligible,
    cursor_column,
    first_load_appendable,
    incremental,
    merge_only_columns,
    resource_hints,
    start_bound,
    table_columns,
)
from .settings import EPOCH
from .skips import RunGuard

if TYPE_CHECKING:
    from .resources import Options


def plain_resource(endpoint: Endpoint, client: HarvestClient, guard: RunGuard, first_loads: FirstLoads,
                   options: Options) -> DltResource:
    """The row's resource: changed pages (incremental) or all pages, arrow or dicts, first load appended."""
    decoder = _decoder(endpoint, options)
    appendable = first_load_appendable(endpoint)
    restore = merge_only_columns(endpoint)

    def guarded(since: str | None) -> Iterator[Any]:
        with guard.fails_the_run():
            pages = read_pages(client, endpoint, since, decoder)
            if appendable:
                pages = first_load_pages(pages, endpoint.table, endpoint.primary_key[0], restore, first_loads)
            try:
                yield from pages
            except HarvestPermissionError as error:
                guard.skip([endpoint.table], error, endpoint.permission)

    # dlt binds an incremental given as the default argument
    cursor = dlt.sources.incremental("updated_at", initial_value=start_bound(endpoint, options.start) or EPOCH,
                                     lag=options.lookback_s or None)

    def changed_pages(updated_at: dlt.sources.incremental[str] = cursor) -> Iterator[Any]:
        yield from guarded(updated_at.start_value)

    def all_pages() -> Iterator[Any]:
        yield from guarded(None)

    hints = resource_hints(endpoint)
    if decoder is not None:  # the arrow path adds _dlt_load_id/_dlt_id itself: give them dlt's hints
        hints["columns"] = {**hints["columns"], **arrow_column_hints()}
    resource = parallelized(dlt.resource(changed_pages if incremental(endpoint) else all_pages, **hints)())
    if decoder is not None:  # after dlt's incremental: cursor text -> timestamp, load id filled in
        resource.add_step(AfterIncremental(decoder.finalize))
    return resource


def _decoder(endpoint: Endpoint, options: Options) -> PageDecoder | None:
    """The arrow decoder for a flat table, when the arrow path is on (``Options.arrow``)."""
    if not (options.arrow and arrow_eligible(endpoint)):
        return None
    assert endpoint.records_key is not None
    return PageDecoder(endpoint.table, endpoint.records_key, table_columns(endpoint),
                       cursor=cursor_column(endpoint))
