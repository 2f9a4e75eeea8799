"""The text of dlt warnings we filter (dlt 1.31), matched here and nowhere else.

dlt warns when a nullable object column stays null for a whole load: "... did not receive any data
during this load ..." followed by the columns, one per line as ``  - name``. The filter in
``harvest_source.logs`` drops it for objects we already type through their flattened columns.
"""

from __future__ import annotations

import re

NULL_OBJECT_WARNING = "did not receive any data during this load"
LISTED_COLUMN = re.compile(r"^\s+- (\S+)$", re.M)


def null_object_columns(message: str) -> set[str] | None:
    """The columns a "did not receive any data" warning lists; None for any other message."""
    if NULL_OBJECT_WARNING not in message:
        return None
    return set(LISTED_COLUMN.findall(message))


__all__ = ["LISTED_COLUMN", "NULL_OBJECT_WARNING", "null_object_columns"]
