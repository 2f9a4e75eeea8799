"""The ``account_id`` column every row carries: one dataset holds many Harvest accounts.

Harvest's ids are unique within an account only, so the account is part of every key (``rules``). The
source stamps it as a map step on each table's resource, whatever the item: a record, a page's records
(dlt maps a list item by item) or an arrow table (the arrow path), so no reader has to remember it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from .rules import ACCOUNT

_FIELD = pa.field(ACCOUNT, pa.int64(), nullable=False)


def account_number(account_id: str | int) -> int:
    """The account id as the column holds it (a 64-bit integer, like every Harvest id)."""
    return int(str(account_id).strip())


def stamp(account_id: str | int) -> Callable[[Any], Any]:
    """A map step that sets ``account_id`` on a record or adds it as the first column of an arrow table."""
    number = account_number(account_id)

    def add_account(item: Any) -> Any:
        if isinstance(item, dict):
            item[ACCOUNT] = number
            return item
        if isinstance(item, pa.Table):
            values = pa.nulls(item.num_rows, pa.int64()).fill_null(number)
            if ACCOUNT in item.column_names:  # a decoder that knows the stored schema left it empty
                return item.set_column(item.column_names.index(ACCOUNT), _FIELD, values)
            return item.add_column(0, _FIELD, values)
        return item

    return add_account


__all__ = ["account_number", "stamp"]
