"""Which warehouse rows a deletion sweep may delete: the decisions, kept apart from the I/O.

Harvest has no deleted-records feed: a record is deleted when a complete listing of its table no longer
returns its id. Every rule here errs on keeping a row: a listing that failed, was cut short, changed
length while it was read, or comes from a token Harvest narrows deletes nothing, and a record created or
changed since the sweep began is never deleted (it is missing from the listing because it moved, not
because it is gone). Ids are per account: callers pass one account's ids only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import HarvestConfigError
from .settings import DELETE_MODES, NARROWED_TABLES


def parse_deletes(value: Any) -> str:
    """The ``deletes`` setting (hard | soft | off), or a clear error naming the valid values."""
    mode = str(value or "").strip().lower()
    if mode not in DELETE_MODES:
        raise HarvestConfigError(
            f"deletes {value!r} is not one of {', '.join(DELETE_MODES)}",
            hint="set SOURCES__HARVEST__DELETES (or sources.harvest.deletes) to hard, soft or off",
        )
    return mode


@dataclass
class SweepListing:
    """One table's id listing for a sweep, page by page, and whether it can be trusted to be complete.

    Complete means: every page answered, the pages ran to the end Harvest announced (``total_pages``),
    the table's length did not change while it was read (``total_entries`` the same on every page: a
    record created or deleted mid-listing shifts the pages, and a shift can hide an id), and at least
    that many distinct ids came back.
    """

    table: str
    ids: set[int] = field(default_factory=set)
    pages: int = 0
    total_pages: int | None = None
    total_entries: set[int] = field(default_factory=set)
    failed: str | None = None  # why the listing cannot be used (an error, a 403), None while it is fine

    def add_page(self, records: Iterable[Mapping[str, Any]], total_entries: int | None = None,
                 total_pages: int | None = None) -> None:
        self.pages += 1
        self.ids.update(int(r["id"]) for r in records)
        if total_entries is not None:
            self.total_entries.add(int(total_entries))
        if total_pages is not None and self.total_pages is None:
            self.total_pages = int(total_pages)

    def fail(self, why: str) -> None:
        self.failed = self.failed or why

    def why_incomplete(self) -> str | None:
        """None when the listing is complete; else the reason nothing may be deleted from it."""
        if self.failed:
            return self.failed
        if len(self.total_entries) > 1:
            return "the table changed while it was listed"
        if self.total_pages is not None and self.pages < self.total_pages:
            return f"the listing stopped after {self.pages} of {self.total_pages} pages"
        expected = next(iter(self.total_entries), None)
        if expected is not None and len(self.ids) < expected:
            return f"the listing returned {len(self.ids)} of {expected} ids"
        return None


def deleted_ids(warehouse: Mapping[int, str | None], listing: SweepListing, sweep_started: str,
                changed_since_start: Iterable[int] = ()) -> set[int]:
    """The warehouse ids (id -> its ``updated_at``) to delete after a sweep's listing; empty unless complete.

    Kept: every listed id, every id Harvest reports changed since the sweep began (``changed_since_start``:
    an ``updated_since`` listing read after the sweep), and every row whose ``updated_at`` is at or after
    the sweep's start (ISO text, Harvest's format: compares as text).
    """
    if listing.why_incomplete() is not None:
        return set()
    keep = listing.ids | {int(i) for i in changed_since_start}
    return {i for i, updated in warehouse.items()
            if i not in keep and not (updated is not None and str(updated) >= sweep_started)}


def narrowed(table: str, me: Mapping[str, Any] | None) -> bool:
    """Whether Harvest narrows this table's listing for the token (``GET /v2/users/me``): a table that
    shows a member only their own records must never delete the rows of others. Unknown role: narrowed."""
    if table not in NARROWED_TABLES:
        return False
    roles = (me or {}).get("access_roles") or ()
    return "administrator" not in roles


def orphaned_children(parents_read: Iterable[int], warehouse_children: Mapping[int, Iterable[int]],
                      children_read: Mapping[int, Iterable[int]],
                      deleted_parents: Iterable[int] = ()) -> dict[int, set[int]]:
    """Per parent, the warehouse children to delete: those its re-read no longer returned (all of them
    when it has none left), and every child of a deleted parent. Parents not re-read keep theirs."""
    out: dict[int, set[int]] = {}
    for parent in parents_read:
        gone = set(warehouse_children.get(parent, ())) - set(children_read.get(parent, ()))
        if gone:
            out[parent] = gone
    for parent in deleted_parents:
        children = set(warehouse_children.get(parent, ()))
        if children:
            out[parent] = children
    return out


__all__ = ["SweepListing", "deleted_ids", "narrowed", "orphaned_children", "parse_deletes"]
