"""Report endpoints (reference 4.3): from/to required, at most a year, rows per subject and currency."""

from __future__ import annotations

import pytest

TIME = ("clients", "projects", "tasks", "team")
EXPENSES = ("clients", "projects", "categories", "team")
ENVELOPE = ["results", "per_page", "total_pages", "total_entries", "next_page", "previous_page", "page", "links"]


@pytest.mark.parametrize("path", [f"/reports/time/{k}" for k in TIME] + [f"/reports/expenses/{k}" for k in EXPENSES]
                         + ["/reports/uninvoiced"])
def test_report_requires_range_of_at_most_a_year(client, path):
    assert client.get(path).status_code == 400
    assert client.get(path, params={"from": "20240101"}).status_code == 400
    too_long = client.get(path, params={"from": "20120101", "to": "20130101"})  # 366 days apart (leap year)
    assert too_long.status_code == 400
    assert "must not exceed 1 year" in too_long.text
    ok = client.get(path, params={"from": "20231202", "to": "20241201"})
    assert ok.status_code == 200
    assert list(ok.json()) == ENVELOPE


def test_time_team_report_matches_time_entries(client, sim):
    frm, to = "2024-09-01", "2024-12-01"
    doc = client.get("/reports/time/team", params={"from": frm.replace("-", ""), "to": to.replace("-", "")}).json()
    expected: dict[tuple, float] = {}
    for r in sim.records("time_entries"):
        if frm <= r["spent_date"] <= to:
            k = (r["user"]["id"], r["client"]["currency"])
            expected[k] = expected.get(k, 0) + r["hours"]
    got = {(row["user_id"], row["currency"]): row["total_hours"] for row in doc["results"]}
    assert got.keys() == expected.keys()
    assert all(abs(got[k] - expected[k]) < 0.01 for k in got)
    row = doc["results"][0]
    assert list(row) == ["user_id", "user_name", "is_contractor", "total_hours", "billable_hours", "currency",
                         "billable_amount", "weekly_capacity", "avatar_url"]
    assert "task_id" not in row
    assert doc["links"]["first"].endswith("/v2/reports/time/team?from=20240901&page=1&per_page=2000&ref=first"
                                          "&to=20241201")


def test_rows_are_per_currency(client, sim):
    currencies = {c["currency"] for c in sim.records("clients")}
    doc = client.get("/reports/time/team", params={"from": "20231202", "to": "20241201"}).json()
    assert {row["currency"] for row in doc["results"]} <= currencies
    projects = client.get("/reports/time/projects", params={"from": "20231202", "to": "20241201"}).json()
    coded = [p for p in projects["results"] if p["project_name"].startswith("[")]
    assert coded, "project names carry the [CODE] prefix"


def test_uninvoiced_and_budget_reports(client):
    un = client.get("/reports/uninvoiced", params={"from": "20231202", "to": "20241201"}).json()
    assert un["results"] and list(un["results"][0]) == [
        "client_id", "client_name", "project_id", "project_name", "currency", "total_hours", "uninvoiced_hours",
        "uninvoiced_expenses", "uninvoiced_amount"]
    budget = client.get("/reports/project_budget").json()
    assert list(budget) == ENVELOPE
    for row in budget["results"]:
        assert list(row) == ["project_id", "project_name", "client_id", "client_name", "budget_is_monthly",
                             "budget_by", "is_active", "budget", "budget_spent", "budget_remaining"]


def test_member_reports_are_narrowed(member, sim):
    doc = member.get("/reports/time/team", params={"from": "20231202", "to": "20241201"}).json()
    assert {row["user_id"] for row in doc["results"]} <= {sim.member_user_id}
