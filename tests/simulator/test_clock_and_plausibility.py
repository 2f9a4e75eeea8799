"""The account's clock (pinned for tests, today for a demo) and the plausibility of its numbers: the
figures an analyst checks first (hours per day, weekly utilization, budget use, invoice lateness)."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import date, timedelta

import pytest

from harvest_source.simulator import Simulator
from harvest_source.simulator.clock import NOW_ENV, PINNED_NOW, iso, start_ts

TOP_LEVEL = ("users", "clients", "contacts", "projects", "tasks", "task_assignments", "user_assignments",
             "time_entries", "expenses", "estimates", "estimate_messages", "invoices", "roles")


def test_start_ts_prefers_the_argument_then_the_environment_then_the_wall_clock(monkeypatch):
    monkeypatch.setenv(NOW_ENV, "2025-03-04T05:06:07Z")
    assert iso(start_ts("2024-12-02T17:00:00Z")) == "2024-12-02T17:00:00Z"
    assert iso(start_ts("2024-12-02")) == "2024-12-02T17:00:00Z"  # a date alone: that afternoon
    assert iso(start_ts(0)) == "1970-01-01T00:00:00Z"
    assert iso(start_ts()) == "2025-03-04T05:06:07Z"
    monkeypatch.delenv(NOW_ENV)
    assert abs(start_ts() - time.time()) < 120


def test_the_suite_pins_the_clock():
    assert Simulator("tiny", 1).now() == PINNED_NOW


def test_the_data_ends_on_the_clocks_day():
    sim = Simulator("tiny", 1, now="2026-03-15T10:30:00Z")
    assert sim.now() == "2026-03-15T10:30:00Z"
    assert max(r["spent_date"] for r in sim.records("time_entries")) == "2026-03-15"  # running timers
    assert max(r["updated_at"] for r in sim.records("invoices")) < "2026-03-15T10:30:00Z"


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_top_level_counts_do_not_depend_on_the_date(scale):
    counts = [Simulator(scale, 3, now=now).counts() for now in (PINNED_NOW, "2026-01-01", "2027-02-28")]
    for key in TOP_LEVEL:
        assert counts[0][key] == counts[1][key] == counts[2][key], key


@pytest.fixture(scope="module")
def small() -> Simulator:
    return Simulator("small", 1, now="2026-12-06T12:00:00Z")


def _share(values: list[bool]) -> float:
    return sum(values) / len(values)


def test_user_days_stay_under_ten_hours(small):
    days: dict[tuple, float] = defaultdict(float)
    for r in small.records("time_entries"):
        days[(r["user"]["id"], r["spent_date"])] += r["hours"]
    assert _share([h < 10 for h in days.values()]) > 0.95
    assert max(days.values()) <= 12


def test_weekly_utilization_is_mostly_50_to_110_percent(small):
    capacity = {u["id"]: u["weekly_capacity"] / 3600 for u in small.records("users")}
    weeks: dict[tuple, float] = defaultdict(float)
    for r in small.records("time_entries"):
        day = date.fromisoformat(r["spent_date"])
        weeks[(r["user"]["id"], day - timedelta(days=day.weekday()))] += r["hours"]
    ratios = [hours / capacity[uid] for (uid, _), hours in weeks.items()]
    assert _share([0.5 <= x <= 1.1 for x in ratios]) > 0.8
    assert not [x for x in ratios if x > 1.5]


def test_hour_budgets_are_mostly_10_to_130_percent_used(small):
    hours: dict[int, float] = defaultdict(float)
    for r in small.records("time_entries"):
        hours[r["project"]["id"]] += r["hours"]
    used = [hours[p["id"]] / p["budget"] for p in small.records("projects")
            if p["budget_by"] == "project" and not p["budget_is_monthly"] and p["budget"]]
    assert used and _share([0.1 <= x <= 1.3 for x in used]) >= 0.8


def test_open_invoices_are_mostly_current_or_under_60_days_late_and_paid_after_issue(small):
    today = date.fromisoformat(small.now()[:10])
    invoices = small.records("invoices")
    late = [(today - date.fromisoformat(i["due_date"])).days for i in invoices if i["state"] == "open"]
    assert _share([d < 60 for d in late]) > 0.8
    assert any(1 <= d <= 30 for d in late) and any(31 <= d <= 60 for d in late)
    for inv in invoices:
        for pay in small.records("invoice_payments", parent_id=inv["id"]):
            assert pay["paid_date"] >= inv["issue_date"]
