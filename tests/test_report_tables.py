"""Report tables (issue 14 section 1): rows equal Harvest's report answers per period, a re-read period
replaces its rows, periods beyond the reports budget are carried to the next run, members skip."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest

from harvest_source.catalog import BY_TABLE, REPORTS, Kind
from harvest_source.report_tables import period_of, periods
from harvest_source.runner import EXIT_OK, EXIT_PARTIAL
from harvest_source.simulator import run_simulator
from harvest_source.summary import format_summary

TODAY = "2024-12-02"  # the simulator's pinned now (tests/conftest.py)
DATED = [e.table for e in REPORTS if e.kind is Kind.REPORT]
ALL_REPORTS = [e.table for e in REPORTS]


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=7, member_token="member-token") as simulator:
        yield simulator


def _opts(**extra: object) -> dict[str, object]:
    return {"source_options": {"reports_today": TODAY, **extra}}


def _harvest(sim, path: str, start: date, end: date, token: str | None = None) -> list[dict]:
    headers = sim.headers(token) if token else sim.headers()
    params = {"from": start.strftime("%Y%m%d"), "to": end.strftime("%Y%m%d")}
    doc = httpx.get(f"{sim.base_url}/{path}", params=params, headers=headers).json()
    return doc["results"]


def _subject(table: str) -> str:
    return BY_TABLE[table].primary_key[2]


def _table_rows(loader, table: str, start: date) -> dict[tuple, tuple]:
    subject = _subject(table)
    metrics = [c for c, t in BY_TABLE[table].columns.items() if t == "decimal"]
    rows = loader.query(f"SELECT {subject}, currency, {', '.join(metrics)} FROM {table} "
                        f"WHERE period_start = DATE '{start.isoformat()}'")
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def _expected(sim, table: str, start: date, end: date) -> dict[tuple, tuple]:
    subject = _subject(table)
    metrics = [c for c, t in BY_TABLE[table].columns.items() if t == "decimal"]
    return {(r[subject], r["currency"]): tuple(Decimal(str(r[m])) for m in metrics)
            for r in _harvest(sim, BY_TABLE[table].path, start, end)}


def test_periods_are_calendar_months_or_years_newest_first():
    assert period_of(date(2024, 2, 10), "month") == (date(2024, 2, 1), date(2024, 2, 29))
    assert period_of(date(2024, 2, 10), "year") == (date(2024, 1, 1), date(2024, 12, 31))
    got = periods(date(2024, 9, 15), date(2024, 12, 2), "month")
    assert [p[0].month for p in got] == [12, 11, 10, 9]


def test_report_rows_equal_harvests_answer_for_each_period(sim, loader_for):
    loader = loader_for(sim)
    result = loader.run(resources=ALL_REPORTS, **_opts(reports_start_date="2024-09-01"))
    assert result.exit_code == EXIT_OK, result.error
    assert result.reports_pending == 0
    for table in DATED:
        for start, end in periods(date(2024, 9, 1), date(2024, 12, 2), "month"):
            assert _table_rows(loader, table, start) == _expected(sim, table, start, end), (table, start)
        types = dict(loader.query(f"SELECT column_name, data_type FROM information_schema.columns "
                                  f"WHERE table_name = '{table}'"))
        assert types["period_start"] == "DATE" and types["currency"] == "VARCHAR"
        assert types["billable_amount" if "uninvoiced" not in table else "uninvoiced_amount"].startswith("DECIMAL")
    budget = httpx.get(f"{sim.base_url}/reports/project_budget", headers=sim.headers()).json()["results"]
    assert loader.count("reports_project_budget") == len(budget)
    # the same periods again: replaced, not doubled
    counts = {t: loader.count(t) for t in ALL_REPORTS}
    assert loader.run(resources=ALL_REPORTS, **_opts(reports_start_date="2024-09-01")).exit_code == EXIT_OK
    assert {t: loader.count(t) for t in ALL_REPORTS} == counts


def test_a_rerun_after_editing_old_time_replaces_the_affected_period(sim, loader_for):
    loader = loader_for(sim)
    opts = _opts(reports_start_date="2024-09-01")
    assert loader.run(resources=["reports_time_team", "reports_time_projects"], **opts).exit_code == EXIT_OK
    november = (date(2024, 11, 1), date(2024, 11, 30))
    entry = next(r for r in sim.records("time_entries") if r["spent_date"].startswith("2024-11"))
    sim.mutate("update", key="time_entries", id=entry["id"], fields={"hours": entry["hours"] + 5})
    before = _table_rows(loader, "reports_time_team", november[0])
    assert loader.run(resources=["reports_time_team", "reports_time_projects"], **opts).exit_code == EXIT_OK
    after = _table_rows(loader, "reports_time_team", november[0])
    assert after != before
    for table in ("reports_time_team", "reports_time_projects"):
        assert _table_rows(loader, table, november[0]) == _expected(sim, table, *november)


def test_periods_beyond_the_reports_budget_are_carried_to_the_next_run(loader_for):
    # Harvest's windows 15000x faster on both sides: reports 100 per 60 ms, general 100 per 1 ms. Between two
    # runs (normalize, load) far more than 60 ms pass: each run starts with the whole budget free.
    with run_simulator(scale="tiny", seed=7, rate_limit="harvest", time_scale=15000.0) as sim:
        loader = loader_for(sim)
        opts = _opts(reports_start_date="2023-01-01", rate_limit_window_s=0.001)  # 24 months x 9 reports
        first = loader.run(resources=DATED, **opts)
        assert first.exit_code == EXIT_OK, first.error
        # 99 requests (one slot kept for project_budget) of the 216: the rest carried
        assert first.reports_pending == 216 - 99
        assert "reports pending: 117 period(s)" in format_summary(first)
        second = loader.run(resources=DATED, **opts)
        # each run re-reads the 2 newest periods per report (18) before the older pending ones
        assert second.reports_pending == 117 + 18 - 99
        third = loader.run(resources=DATED, **opts)
        assert third.reports_pending == 0
        assert third.throttled == 0
        months = {r["spent_date"][:7] for r in sim.records("time_entries") if r["spent_date"] >= "2023-01"}
        loaded = loader.query("SELECT DISTINCT strftime(period_start, '%Y-%m') FROM reports_time_team")
        assert {r[0] for r in loaded} == months


def test_a_member_gets_own_rows_and_skips_the_admin_reports(sim, loader_for):
    loader = loader_for(sim, token="member-token")
    own = max(r["spent_date"] for r in sim.records("time_entries") if r["user"]["id"] == sim.member_user_id)
    result = loader.run(resources=ALL_REPORTS, source_options={"reports_today": own, "reports_start_date": own})
    assert result.exit_code == EXIT_PARTIAL, result.error
    assert set(result.skipped) == {"reports_uninvoiced", "reports_project_budget"}
    assert "administrator" in result.skipped["reports_uninvoiced"]
    users = {r[0] for r in loader.query("SELECT DISTINCT user_id FROM reports_time_team")}
    assert users == {sim.member_user_id}
    admin_users = {r["user_id"] for r in _harvest(sim, "reports/time/team", *period_of(date.fromisoformat(own),
                                                                                     "month"))}
    assert len(admin_users) > 1
