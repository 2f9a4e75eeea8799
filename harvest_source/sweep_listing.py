"""A deletion sweep's requests: one table's ids listed whole, and what changed since the warehouse's newest row.

Only ids and the envelope's counts are kept (``per_page=2000``, so 10,000 records cost 5 requests). An
error of any kind (a 403, a 5xx after retries, a page that cannot be read) does not stop the run: it is
written into the ``SweepListing`` so that nothing is deleted from that table (``deletions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from .catalog import Endpoint
from .client import HarvestClient
from .deletions import SweepListing
from .errors import HarvestError, HarvestRunStopped
from .http.decoding import decode_json, records
from .rules import request_params


class IdPage(NamedTuple):
    """A list page reduced to what a sweep needs: its ids, and the envelope that drives paging."""

    envelope: dict[str, Any]
    ids: list[int]


def _id_page(records_key: str):  # noqa: ANN202 - a decode function for ``iter_decoded``
    def decode(raw: bytes, path: str) -> IdPage:
        data = decode_json(raw, path)
        found = records(data, records_key, path)
        del data[records_key]
        return IdPage(data, [int(r["id"]) for r in found])

    return decode


def list_ids(client: HarvestClient, endpoint: Endpoint, since: str | None = None) -> SweepListing:
    """Every id of ``endpoint`` (changed since ``since``, the ``start_date`` bound of a dated table, or all).

    Never raises a Harvest error: a failure marks the listing unusable (``SweepListing.failed``)."""
    assert endpoint.records_key is not None
    listing = SweepListing(endpoint.table)
    try:
        for page in client.iter_decoded(endpoint.path, _id_page(endpoint.records_key),
                                        request_params(endpoint, since)):
            listing.add_page([{"id": i} for i in page.ids], _count(page.envelope, "total_entries"),
                             _count(page.envelope, "total_pages"))
    except HarvestRunStopped:
        raise
    except HarvestError as error:
        listing.fail(_why(error))
    return listing


def list_changed(client: HarvestClient, endpoint: Endpoint, since: str) -> set[int] | str:
    """The ids Harvest reports changed at or after ``since``; the reason as text when they could not be read."""
    assert endpoint.records_key is not None
    ids: set[int] = set()
    try:
        for page in client.iter_decoded(endpoint.path, _id_page(endpoint.records_key),
                                        request_params(endpoint, since)):
            ids.update(page.ids)
    except HarvestRunStopped:
        raise
    except HarvestError as error:
        return _why(error)
    return ids


def _count(envelope: Mapping[str, Any], key: str) -> int | None:
    value = envelope.get(key)
    return int(value) if isinstance(value, int) else None


def _why(error: HarvestError) -> str:
    """The error in a few words (never secret: client errors carry no token)."""
    status = f"{error.status} " if error.status else ""
    return f"listing failed: {status}{error.message}"


__all__ = ["list_changed", "list_ids"]
