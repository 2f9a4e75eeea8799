"""Resource-level workarounds on dlt 1.31 (checked by ``tests/test_dlt_compat_resources.py``).

* ``parallelized``: ``.parallelize()`` again after binding. dlt drops ``parallelized=True`` when a resource
  whose function takes an incremental is called (bound), so those resources would run in dlt's main
  thread, one by one.
* ``AfterIncremental``: a map step that dlt keeps right behind the incremental step. dlt places pipe steps
  by ``placement_affinity`` (incremental 1, ``add_limit`` 1.1); a plain ``add_map`` lands *before* the
  incremental, where the arrow path's cursor must still be text.
* ``append_hints``: the hints an item carries to make its table append for this load. dlt merges a hint
  given with an item into the resource (``dlt.mark.with_hints``), and it cannot remove a column hint
  that way: a merge-only hint (``dedup_sort``) is cleared by setting it to its default, ``None``, which
  dlt treats as absent (no warning, nothing stored).
* ``current_load_id``: the load package being extracted, or None outside a pipeline run (dlt raises a
  private exception type there).
* ``is_iso_timestamp``: dlt's own test for a text that its row path types as a timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dlt
from dlt.common.schema.detections import is_iso_timestamp
from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable
from dlt.extract.items_transform import MapItem
from dlt.extract.resource import DltResource

__all__ = ["AfterIncremental", "append_hints", "current_load_id", "is_iso_timestamp", "parallelized"]


def parallelized(bound: DltResource) -> DltResource:
    """``bound`` (a resource already called with its arguments) set to run in dlt's thread pool."""
    return bound.parallelize()


class AfterIncremental(MapItem):
    """A map step placed right behind dlt's incremental step, even when dlt re-adds that step."""

    placement_affinity = 1.05


def append_hints(merge_only_columns: Iterable[str]) -> Any:
    """Hints for ``dlt.mark.with_hints``: the table appends, the merge-only column hints are cleared."""
    columns = {name: {"name": name, "dedup_sort": None} for name in merge_only_columns}
    return dlt.mark.make_hints(write_disposition="append", columns=columns or None)


def current_load_id() -> str | None:
    """The id of the load package being extracted; None when items are read outside a pipeline run."""
    try:
        return str(dlt.current.load_package_state()["load_id"])
    except CurrentLoadPackageStateNotAvailable:
        return None
