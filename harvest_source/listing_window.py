"""Which rows of a parent listing a table must take this run, kept in dlt resource state.

A child (invoice payments, user rates, ...) has no account-wide list, so we ask Harvest
once per parent. Asking for every parent on every run wastes the rate limit; asking only
for changed parents misses child changes that do not touch the parent's ``updated_at``
(a reminder message, a rate change). So each child table keeps its own window:

* ``since`` / ``boundary_ids``: the highest parent ``updated_at`` it has visited, and the
  parents sitting exactly on it (``updated_since`` is inclusive, so they come back);
* ``rotated_to``: the hour the rotating sweep (``rotation``) has reached. Each run also
  revisits the parents whose slot fell in the hours since, so every live parent is asked
  again within ``sweep_interval_hours`` and every other one within ``verify_days``; on the
  first run, or when forced (``--sweep``), it visits them all;
* ``swept_at``: when a ``sweep_interval`` last began. It schedules the deletion sweep
  (``deletion_pass``) and, for the parent's own table (invoices, estimates, users, which
  keep the same kind of window over the listing), a reload of every parent row: a parent
  field that changed without a new ``updated_at`` (Harvest does not promise one) is
  corrected then, at no extra request (the rotation lists every parent anyway).

The state lives in the table's resource state, so it is committed with the load that
carried the rows and rolled back when extract fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import pendulum

from .rotation import Rotation, hour_index

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
    day_due: bool = False  # a sweep interval has passed: the deletion sweep's turn, parent rows re-taken
    rotation: Rotation | None = None  # a child's rotating sweep this run (None: all or nothing rotates)
    rotated: int = 0  # parents this run revisited for the rotation alone (they had not changed)
    _reached: int | None = None  # the hour the rotation has reached once this run is loaded
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
        rotate_parent: str | None = None,
        verify_days: float = 7.0,
    ) -> ListingWindow:
        """Read the stored window and decide which parents this run visits. ``rotate_parent``: this is a
        child of that parent table, and it rotates (a parent's own table re-takes every row when due)."""
        saved = state.get(STATE_KEY) or {}
        since, swept_at = saved.get("since"), saved.get("swept_at")
        due = swept_at is None or interval_passed(pendulum.parse(swept_at), now, sweep_interval_h)
        sweep = force_sweep or since is None or (due and rotate_parent is None)
        window = cls(state, sweep=sweep, lookback_s=lookback_s, now=iso(now), day_due=due)
        if rotate_parent is not None:
            window._reached = hour_index(now)
            if not sweep:
                last = saved.get("rotated_to")
                if last is None:  # a window from before the rotation: its last full sweep covered everything
                    last = hour_index(pendulum.parse(swept_at)) if swept_at else window._reached - 1
                window.rotation = Rotation.open(rotate_parent, int(last), now, sweep_interval_h, verify_days * 24)
        window._since = since
        window._boundary = set(saved.get("boundary_ids") or ())
        window._new_since = since
        window._new_boundary = set(window._boundary)
        window._original = state.get(STATE_KEY)
        return window

    def listing_bound(self) -> str | None:
        """The ``updated_since`` this child needs from the parent listing (None: all parents)."""
        if self.sweep or self._since is None or (self.rotation is not None and self.rotation.anything_due):
            return None
        return shift(self._since, self.lookback_s) if self.lookback_s else self._since

    def wants(self, parent: Mapping[str, Any]) -> bool:
        """Whether this parent's children must be (re)read this run."""
        if self.sweep or self._since is None:
            return True
        updated = parent["updated_at"]
        if self.lookback_s:
            changed = updated >= shift(self._since, self.lookback_s)
        else:
            changed = updated > self._since or (updated == self._since and parent["id"] not in self._boundary)
        if changed:
            return True
        if self.rotation is not None and self.rotation.due(parent):
            self.rotated += 1
            return True
        return False

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
        if self.sweep or self.day_due:
            saved["swept_at"] = self.now
        if self._reached is not None:
            saved["rotated_to"] = self._reached
        self.state[STATE_KEY] = saved

    def rollback(self) -> None:
        """Forget this run's progress (the child was skipped part-way, e.g. on a 403)."""
        self.skipped = True
        if self._original is None:
            self.state.pop(STATE_KEY, None)
        else:
            self.state[STATE_KEY] = self._original


def interval_passed(since: pendulum.DateTime, now: pendulum.DateTime, hours: float) -> bool:
    """Whether ``hours`` have passed, counted in clock hours when it is an hour or more: ``swept_at`` is
    stamped seconds into a run, so tomorrow's run at the same scheduled minute may start a little earlier,
    and it must still find the day passed (else the daily work slips to the run after)."""
    if hours >= 1:
        return hour_index(now) - hour_index(since) >= round(hours)
    return since.add(hours=hours) <= now


def combine_bounds(bounds: Iterable[str | None], floor: str | None) -> str | None:
    """One listing serves several consumers: ask from the earliest bound any of them needs."""
    values = list(bounds)
    if not values or any(b is None for b in values):
        return floor
    earliest = min(values)  # type: ignore[type-var]
    return max(earliest, floor) if floor else earliest

