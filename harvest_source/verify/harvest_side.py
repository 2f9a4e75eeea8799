"""Harvest's side of verify: ``total_entries`` of each top-level list, and the monthly report figures.

Every request goes through the ``HarvestClient`` (the loader's pacing, retries and typed errors); report
paths use its reports bucket (100 requests per 15 minutes). Costs: one ``per_page=1`` request per
top-level table, and one request per breakdown and month (a page holds 2000 report rows).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..catalog import ENDPOINTS, Endpoint, Kind
from ..client import HarvestClient
from ..rules import harvest_report
from .checks import Breakdown, Figures, Key, Month

# Harvest's records, counted against total_entries; the report tables hold Harvest's sums, not records.
TOP_LEVEL: tuple[Endpoint, ...] = tuple(
    e for e in ENDPOINTS if e.kind == Kind.LIST and e.fan_out is None and not harvest_report(e)
)


def total_entries(client: HarvestClient, endpoint: Endpoint) -> int:
    """The list's ``total_entries`` from a one-record page."""
    return int(client.get_json(endpoint.path, {"per_page": 1})["total_entries"])


def report(client: HarvestClient, breakdown: Breakdown, month: Month) -> tuple[dict[Key, Figures], dict[Key, str]]:
    """The report's figures per (subject, currency) for the month, and the subjects' names."""
    params: dict[str, Any] = {"from": month.start, "to": month.end, **dict(breakdown.params)}
    figures: dict[Key, Figures] = {}
    names: dict[Key, str] = {}
    for rows in client.iter_pages(breakdown.report, "results", params):
        for row in rows:
            key = (row.get(breakdown.subject), row.get("currency"))
            into = figures.setdefault(key, {})
            for metric in breakdown.metrics:
                into[metric] = into.get(metric, Decimal(0)) + Decimal(str(row.get(metric) or 0))
            names[key] = str(row.get(breakdown.name_key) or "")
    return figures, names
