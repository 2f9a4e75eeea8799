"""One endpoint's pages, as the resources yield them: a single object, dict pages, or arrow tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dlt
import pyarrow as pa

from . import settings
from .arrow_pages import PageDecoder
from .catalog import Endpoint, Kind
from .client import HarvestClient
from .rules import request_params


def read_pages(client: HarvestClient, endpoint: Endpoint, since: str | None,
               decoder: PageDecoder | None = None) -> Iterator[Any]:
    """The endpoint's records changed since ``since`` (None: all), page by page (call at extract time)."""
    # remembered so a later run can refuse to mix two accounts in one dataset
    dlt.current.source_state()[settings.ACCOUNT_ID_STATE_KEY] = client.account_id
    params = request_params(endpoint, since)
    if endpoint.kind is Kind.SINGLE:
        yield [client.get_json(endpoint.path)]
    elif decoder is not None:
        decoder.seed(dlt.current.source_schema())
        # pages parsed in parallel, read ahead (``read_ahead``); their columns settled in page order.
        # ``settings.READ_AHEAD_PAGES`` is read here, at run time, so benchmarks/ab.py can switch it
        pages = client.iter_decoded(endpoint.path, decoder.parse, params, ahead=settings.READ_AHEAD_PAGES)
        # arrow tables (several pages each), or a page's dicts when it must take the row path
        yield from batched(decoder.settle(page).item for page in pages)
    else:
        assert endpoint.records_key is not None
        yield from client.iter_pages(endpoint.path, endpoint.records_key, params)


def batched(items: Iterator[Any], min_rows: int = settings.BATCH_ROWS) -> Iterator[Any]:
    """Arrow pages joined into tables of at least ``min_rows`` rows; dict pages pass through in order.

    dlt spends a fixed ~15 ms per item on an arrow table's schema (merging ~60 column hints), so ten
    pages in one table cost a tenth of it; the rows are the same.
    """
    pending: list[pa.Table] = []
    rows = 0
    for item in items:
        if isinstance(item, pa.Table):
            if pending and item.schema != pending[0].schema:
                yield _concat(pending)
                pending, rows = [], 0
            pending.append(item)
            rows += item.num_rows
            if rows >= min_rows:
                yield _concat(pending)
                pending, rows = [], 0
            continue
        if pending:
            yield _concat(pending)
            pending, rows = [], 0
        yield item
    if pending:
        yield _concat(pending)


def _concat(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)
