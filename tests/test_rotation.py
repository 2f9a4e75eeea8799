"""The rotating child sweep: live parents revisited within a day, the others within verify_days, each once
per cycle, whatever the runs' cadence; the window state it leaves; the setting's validation."""

from __future__ import annotations

from collections import Counter

import pendulum
import pytest

from harvest_source import harvest_source
from harvest_source.errors import HarvestConfigError
from harvest_source.listing_window import STATE_KEY, ListingWindow
from harvest_source.rotation import Rotation, due_slots, hour_index, slot

START = pendulum.datetime(2026, 3, 2, 9, 30, tz="UTC")
OLD = "2020-01-01T00:00:00Z"  # far outside the 30 days that make a parent live


def _child(state: dict, now: pendulum.DateTime, *, force: bool = False, verify_days: float = 7.0) -> ListingWindow:
    return ListingWindow.open(state, now=now, sweep_interval_h=24, force_sweep=force, lookback_s=0,
                              rotate_parent="invoices", verify_days=verify_days)


def _invoices() -> list[dict]:
    live = [{"id": 1000 + i, "state": "open", "updated_at": OLD} for i in range(300)]
    cold = [{"id": 5000 + i, "state": "paid", "updated_at": OLD} for i in range(900)]
    return live + cold


def _visits(parents: list[dict], runs: list[pendulum.DateTime]) -> Counter:
    """Parents visited per run after a first (full) run at ``START``."""
    state: dict = {}
    first = _child(state, START)
    assert first.sweep and all(first.wants(p) for p in parents)
    first.visited(parents)
    seen: Counter = Counter()
    for now in runs:
        window = _child(state, now)
        assert not window.sweep and window.listing_bound() is None  # rotation needs the whole listing
        seen.update(p["id"] for p in parents if window.wants(p))
        window.visited(parents)
    return seen


def test_hourly_runs_visit_live_parents_once_a_day_and_cold_ones_once_a_week() -> None:
    parents = _invoices()
    day = _visits(parents, [START.add(hours=h) for h in range(1, 25)])
    assert {day[p["id"]] for p in parents if p["state"] == "open"} == {1}
    cold_day = sum(1 for p in parents if p["state"] == "paid" and day[p["id"]])
    assert 60 < cold_day < 200  # about a seventh of 900, spread over the day's slots
    week = _visits(parents, [START.add(hours=h) for h in range(1, 7 * 24 + 1)])
    assert {week[p["id"]] for p in parents if p["state"] == "paid"} == {1}
    assert {week[p["id"]] for p in parents if p["state"] == "open"} == {7}


def test_hourly_work_is_spread_evenly() -> None:
    parents = _invoices()
    state: dict = {}
    _child(state, START).visited(parents)
    per_run = []
    for h in range(1, 25):
        window = _child(state, START.add(hours=h))
        per_run.append(sum(1 for p in parents if window.wants(p)))
        window.visited(parents)
    assert max(per_run) <= 3 * (sum(per_run) / len(per_run))


def test_daily_runs_and_a_long_pause_still_cover_every_parent() -> None:
    parents = _invoices()
    daily = _visits(parents, [START.add(days=d) for d in range(1, 8)])
    assert {daily[p["id"]] for p in parents if p["state"] == "open"} == {7}
    assert {daily[p["id"]] for p in parents if p["state"] == "paid"} == {1}
    paused = _visits(parents, [START.add(days=30)])
    assert all(paused[p["id"]] == 1 for p in parents)


def test_a_second_run_within_the_hour_rotates_nothing_and_lists_only_changes() -> None:
    state: dict = {}
    _child(state, START).visited([{"id": 1, "state": "paid", "updated_at": "2026-03-01T00:00:00Z"}])
    again = _child(state, START.add(minutes=20))
    assert again.rotation is not None and not again.rotation.anything_due
    assert again.listing_bound() == "2026-03-01T00:00:00Z"
    assert not again.wants({"id": 1, "state": "paid", "updated_at": "2026-03-01T00:00:00Z"})
    assert again.wants({"id": 2, "state": "paid", "updated_at": "2026-03-02T00:00:00Z"})  # changed


def test_changed_parents_are_wanted_but_not_counted_as_rotation() -> None:
    state: dict = {}
    _child(state, START).visited([{"id": 1, "state": "paid", "updated_at": "2026-03-01T00:00:00Z"}])
    window = _child(state, START.add(days=30))  # every slot due
    assert window.wants({"id": 2, "state": "paid", "updated_at": "2026-03-20T00:00:00Z"})
    assert window.wants({"id": 1, "state": "paid", "updated_at": "2026-03-01T00:00:00Z"})
    assert window.rotated == 1


def test_the_state_records_the_hour_reached_and_the_day_for_the_deletion_sweep() -> None:
    state: dict = {}
    _child(state, START).visited([{"id": 1, "state": "paid", "updated_at": OLD}])
    assert state[STATE_KEY]["rotated_to"] == hour_index(START)
    later = _child(state, START.add(hours=25))
    assert later.day_due and not later.sweep  # the day's deletion sweep runs; the children still rotate
    later.visited([{"id": 1, "state": "paid", "updated_at": OLD}])
    assert state[STATE_KEY]["rotated_to"] == hour_index(START.add(hours=25))
    assert state[STATE_KEY]["swept_at"] == "2026-03-03T10:30:00Z"


def test_a_window_from_before_the_rotation_continues_from_its_last_full_sweep() -> None:
    state = {STATE_KEY: {"since": "2026-03-01T00:00:00Z", "boundary_ids": [], "swept_at": "2026-03-02T06:10:00Z"}}
    window = _child(state, START)
    assert window.rotation is not None
    assert window.rotation.last_hour == hour_index(pendulum.datetime(2026, 3, 2, 6, tz="UTC"))


def test_forced_sweep_visits_every_parent() -> None:
    state: dict = {}
    _child(state, START).visited([{"id": 1, "state": "paid", "updated_at": OLD}])
    forced = _child(state, START.add(hours=1), force=True)
    assert forced.sweep and forced.wants({"id": 1, "state": "paid", "updated_at": OLD})


@pytest.mark.parametrize(("parent", "row", "live"), [
    ("invoices", {"state": "draft"}, True), ("invoices", {"state": "open"}, True),
    ("invoices", {"state": "paid"}, False), ("invoices", {"state": "closed"}, False),
    ("estimates", {"state": "sent"}, True), ("estimates", {"state": "accepted"}, False),
    ("users", {"is_active": True}, True), ("users", {"is_active": False}, False),
    ("invoices", {"state": "paid", "updated_at": "2026-02-20T00:00:00Z"}, True),  # updated within 30 days
])
def test_what_counts_as_live(parent: str, row: dict, live: bool) -> None:
    rotation = Rotation.open(parent, hour_index(START) - 1, START, 24, 168)
    assert rotation.is_live({"id": 1, "updated_at": OLD, **row}) is live


def test_slots_cover_every_hour_of_a_cycle_and_due_slots_wrap() -> None:
    assert {slot(i, 24) for i in range(1000)} == set(range(24))
    assert due_slots(10, 12, 24) == {11, 12}
    assert due_slots(22, 25, 24) == {23, 0, 1}
    assert due_slots(0, 24, 24) is None


@pytest.mark.parametrize("value", [0, -1, "soon"])
def test_a_bad_verify_days_fails_with_the_setting_named(value: object) -> None:
    with pytest.raises(HarvestConfigError, match="verify_days"):
        harvest_source(access_token="t", account_id="1", verify_days=value)


def test_tomorrows_run_a_little_earlier_on_the_hour_still_finds_the_day_passed() -> None:
    """The daily work (deletion sweep, parent rows) must not slip a run because today's run started a few
    seconds sooner than yesterday's stamped its window."""
    state: dict = {}
    _child(state, pendulum.datetime(2026, 3, 2, 10, 0, 40, tz="UTC")).visited([{"id": 1, "state": "paid",
                                                                                  "updated_at": OLD}])
    assert _child(state, pendulum.datetime(2026, 3, 3, 10, 0, 5, tz="UTC")).day_due
    assert not _child(state, pendulum.datetime(2026, 3, 3, 9, 59, 59, tz="UTC")).day_due
