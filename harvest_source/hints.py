"""Turn catalog column types into dlt column and nested-table hints."""

from __future__ import annotations

from typing import Any

import dlt

from .endpoints import Endpoint

_TIMESTAMP = {"data_type": "timestamp", "nullable": True}


def _column(data_type: str) -> dict[str, Any]:
    return {"data_type": data_type, "nullable": True}


def table_columns(endpoint: Endpoint) -> dict[str, dict[str, Any]]:
    """Column hints of the endpoint's root table: types, keys, parent id and dedup order."""
    columns = {name: _column(kind) for name, kind in endpoint.columns.items()}
    for key in endpoint.primary_key:
        columns[key] = {"data_type": "bigint", "nullable": False}
    if endpoint.fan_out:
        columns[endpoint.fan_out.parent_key] = {"data_type": "bigint", "nullable": False}
    if endpoint.timestamps:
        columns["created_at"] = dict(_TIMESTAMP)
        # delete-insert keeps the newest version when one load carries an id twice
        columns["updated_at"] = dict(_TIMESTAMP)
        if endpoint.primary_key and not endpoint.replaced_whole:
            columns["updated_at"]["dedup_sort"] = "desc"
    return columns


def nested_hints(endpoint: Endpoint) -> dict[str, Any] | None:
    """Types for child tables made from arrays (line items, task assignments, role user ids)."""
    if not endpoint.nested:
        return None
    return {
        field: dlt.mark.make_nested_hints(columns={n: _column(k) for n, k in types.items()})
        for field, types in endpoint.nested.items()
    }
