"""Which rows of a parent listing a table must take this run, kept in dlt resource state.

A child (invoice payments, user rates, ...) has no account-wide list, so we ask Harvest
once per parent. Asking for every parent on every run wastes the rate limit; asking only
for changed parents misses child changes that do not touch the parent's ``updated_at``
(a reminder message, a rate change). So each child table keeps its own window:

* ``since`` / ``boundary_ids``: the highest parent ``updated_at`` it has visited, and the
  parents sitting exactly on it (``updated_since`` is inclusive, so they come back);
* ``swept_at``: when it last visited every parent. Once ``sweep_interval`` has passed (or
  on the first run, or when forced) it visits them all again.

The parent's own table (invoices, estimates, users) keeps the same kind of window over the
listing, so a sweep also reloads every parent row: a parent field that changed without a
new ``updated_at`` (Harvest does not promise one) is corrected at the next sweep.

The state lives in the table's resource state, so it is committed with the load that
carried the rows and rolled back when extract fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pendulum

STATE_KEY = "listing_window"


def iso(moment: pendulum.DateTime) -> str:
    """Harvest's timestamp format: UTC, second precision, ``Z``."""
    return moment.in_timezone("UTC").format("YYYY-MM-DDTHH:mm:ss[Z]")


def shift(timestamp: str, seconds: float) -> str:
    """``timestamp`` moved back by ``seconds``, in Harvest's format."""
    return iso(pendulum.parse(timestamp).subtract(seconds=seconds))


@dataclass
class ListingWindow:
    """One table's decision for this run over a parent listing, and the state it leaves."""

    state: MutableMapping[str, Any]
    sweep: bool
    lookback_s: float
    now: str
    skipped: bool = False  # a 403 stopped this child part-way; it loads nothing more this run
    _since: str | None = None
    _boundary: set[int] = field(default_factory=set)
    _new_since: str | None = None
    _new_boundary: set[int] = field(default_factory=set)
    _original: Any = None

    @classmethod
    def open(
        cls,
        state: MutableMapping[str, Any],
        *,
        now: pendulum.DateTime,
        sweep_interval_h: float,
        force_sweep: bool,
        lookback_s: float,
    ) -> ListingWindow:
        """Read the stored window and decide whether this run sweeps every parent."""
        saved = state.get(STATE_KEY) or {}
        since, swept_at = saved.get("since"), saved.get("swept_at")
        due = swept_at is None or pendulum.parse(swept_at).add(hours=sweep_interval_h) <= now
        window = cls(state, sweep=force_sweep or since is None or due, lookback_s=lookback_s, now=iso(now))
        window._since = since
        window._boundary = set(saved.get("boundary_ids") or ())
        window._new_since = since
        window._new_boundary = set(window._boundary)
        window._original = state.get(STATE_KEY)
        return window

    def listing_bound(self) -> str | None:
        """The ``updated_since`` this child needs from the parent listing (None: all parents)."""
        if self.sweep or self._since is None:
            return None
        return shift(self._since, self.lookback_s) if self.lookback_s else self._since

    def wants(self, parent: Mapping[str, Any]) -> bool:
        """Whether this parent's children must be (re)read this run."""
        if self.sweep or self._since is None:
            return True
        updated = parent["updated_at"]
        if self.lookback_s:
            return updated >= shift(self._since, self.lookback_s)
        return updated > self._since or (updated == self._since and parent["id"] not in self._boundary)

    def visited(self, parents: Iterable[Mapping[str, Any]]) -> None:
        """Record a page of parents as handled and write the resulting window to state."""
        for parent in parents:
            updated = parent["updated_at"]
            if self._new_since is None or updated > self._new_since:
                self._new_since, self._new_boundary = updated, {parent["id"]}
            elif updated == self._new_since:
                self._new_boundary.add(parent["id"])
        saved = dict(self.state.get(STATE_KEY) or {})
        saved.update(since=self._new_since, boundary_ids=sorted(self._new_boundary))
        if self.sweep:
            saved["swept_at"] = self.now
        self.state[STATE_KEY] = saved

    def rollback(self) -> None:
        """Forget this run's progress (the child was skipped part-way, e.g. on a 403)."""
        self.skipped = True
        if self._original is None:
            self.state.pop(STATE_KEY, None)
        else:
            self.state[STATE_KEY] = self._original


def combine_bounds(bounds: Iterable[str | None], floor: str | None) -> str | None:
    """One listing serves several consumers: ask from the earliest bound any of them needs."""
    values = list(bounds)
    if not values or any(b is None for b in values):
        return floor
    earliest = min(values)  # type: ignore[type-var]
    return max(earliest, floor) if floor else earliest

