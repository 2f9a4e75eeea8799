"""Taking a merge key off a table that was loaded with one (soft deletes' child tables, ``rules.resource_hints``).

dlt 1.31 keeps a table's hints in the pipeline's stored schema and merges each load's hints into it. A merge key
is a compound hint: a load that declares one replaces the stored one, but a load that declares none (no
``merge_key`` argument, ``merge_key=[]``, or ``apply_hints(merge_key="")``) leaves the stored one in place, so
the table would go on replacing rows by it. What does clear it is an explicit ``merge_key: False`` on each of
the columns: a column hint, merged over the stored column like any other. Declaring the key again later (back
to hard deletes) puts it back. ``tests/dlt_compat/test_merge_keys.py`` pins all three down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def without_merge_key(columns: Mapping[str, Mapping[str, Any]], keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``columns`` (dlt column hints) with ``merge_key: False`` on every column of ``keys``: a table loaded with
    these hints merges on its primary key only, whatever merge key an earlier load left in the schema."""
    out = {name: dict(hints) for name, hints in columns.items()}
    for key in keys:
        out.setdefault(key, {})["merge_key"] = False
    return out


__all__ = ["without_merge_key"]
