"""The rotating child sweep: which parents' children a run re-reads although the parent did not change.

A child change that bumps its parent's ``updated_at`` (a payment, a sent estimate) is read by the next
run through the listing window. One that does not (a reminder, a rate change, a deleted message) is only
seen by asking again. Asking for every parent every day spends most of a large account's rate budget on
invoices paid years ago, so parents are split by Harvest's data model:

* **live**: still moving (``LIVE_WHEN``: draft and open invoices, draft and sent estimates, active users)
  or updated within ``RECENT_DAYS``: each is revisited within ``live_hours`` (``sweep_interval_hours``, 24);
* **cold**: every other parent (paid or closed invoices, accepted or declined estimates, archived users):
  revisited within ``cold_hours`` (``verify_days`` x 24).

Each parent has a fixed slot in each cycle (a hash of its id), and a run re-reads the parents whose slot
lies in the hours since the previous run reached (``Rotation.due``): hourly runs spread the work evenly,
a daily run takes a day's slots at once, a run after a long pause takes every slot once. Nothing here
makes a request; ``listing_window`` applies it to one child table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pendulum

# parent table -> (field, values that mark a parent still moving). Harvest's states: an invoice is
# draft -> open -> paid|closed, an estimate draft -> sent -> accepted|declined; users are active or archived.
LIVE_WHEN: dict[str, tuple[str, frozenset[Any]]] = {
    "invoices": ("state", frozenset({"draft", "open"})),
    "estimates": ("state", frozenset({"draft", "sent"})),
    "users": ("is_active", frozenset({True})),
}
RECENT_DAYS = 30  # a parent updated this recently counts as live whatever its state

_HOUR_S = 3600
_MIX = 0x9E3779B1  # Knuth's multiplicative hash: consecutive ids land in scattered slots


def hour_index(moment: pendulum.DateTime) -> int:
    """Hours since the epoch: the rotation's clock."""
    return int(moment.timestamp()) // _HOUR_S


def slot(parent_id: int, cycle_hours: int) -> int:
    """The hour of the cycle in which this parent is revisited."""
    return ((int(parent_id) * _MIX) & 0xFFFFFFFF) % cycle_hours


def due_slots(last_hour: int, hour: int, cycle_hours: int) -> frozenset[int] | None:
    """The slots of the hours after ``last_hour`` up to ``hour``; None: every slot (a whole cycle passed)."""
    if hour - last_hour >= cycle_hours:
        return None
    return frozenset(h % cycle_hours for h in range(last_hour + 1, hour + 1))


@dataclass(frozen=True)
class Rotation:
    """One child table's rotation for this run: what is due since the hour the last run reached."""

    parent: str
    live_hours: int
    cold_hours: int
    last_hour: int
    hour: int
    recent_since: str  # Harvest-format timestamp: a parent updated at or after it is live
    live_slots: frozenset[int] | None  # due this run; None: all
    cold_slots: frozenset[int] | None

    @classmethod
    def open(cls, parent: str, last_hour: int, now: pendulum.DateTime, live_hours: float,
             cold_hours: float) -> Rotation:
        live = max(1, round(live_hours))
        cold = max(live, round(cold_hours))
        since = now.in_timezone("UTC").subtract(days=RECENT_DAYS).format("YYYY-MM-DDTHH:mm:ss[Z]")
        hour = hour_index(now)
        return cls(parent, live, cold, last_hour, hour, since,
                   due_slots(last_hour, hour, live), due_slots(last_hour, hour, cold))

    @property
    def anything_due(self) -> bool:
        return self.hour > self.last_hour

    def is_live(self, row: Mapping[str, Any]) -> bool:
        rule = LIVE_WHEN.get(self.parent)
        if rule is not None and row.get(rule[0]) in rule[1]:
            return True
        return str(row.get("updated_at") or "") >= self.recent_since

    def due(self, row: Mapping[str, Any]) -> bool:
        """Whether this run revisits the parent ``row``'s children."""
        if not self.anything_due:
            return False
        if self.is_live(row):
            cycle, slots = self.live_hours, self.live_slots
        else:
            cycle, slots = self.cold_hours, self.cold_slots
        return slots is None or slot(row["id"], cycle) in slots
