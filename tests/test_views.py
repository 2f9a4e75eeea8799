"""The analyst views (harvest_source/views/) against figures this file computes itself from the
simulator's raw records: on DuckDB always, on PostgreSQL when HARVEST_TEST_POSTGRES_DSN is set.

One ``small`` account is prepared with changes that reach every branch of the views (renamed entities,
invoices due in every aging bucket, monthly and fallback budgets, contractor time without a cost rate),
loaded once per warehouse, and every view is compared row by row with the expectation. The expectations
are in ``views_expected.py``, shared with tests/test_views_accounts.py (several accounts in one dataset).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import views_expected as expect
from views_expected import FIRST_WEEKDAY, WAREHOUSES, Warehouse, day, dec, loaded_warehouse, week_start

from harvest_source.runner import EXIT_OK, RunSettings, make_pipeline, run_load
from harvest_source.simulator import run_simulator
from harvest_source.views import VIEW_NAMES, create_views

FAST = {"rate_limit_window_s": 0.001}  # the simulator does not rate-limit; do not pace requests
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


# -- the account -----------------------------------------------------------------------------------------
def _create_entries(sim: Any, projects: list[dict], count: int, **params: Any) -> dict:
    """``count`` new time entries on the first of ``projects`` that has an active assignment."""
    for project in projects:
        try:
            for _ in range(count):
                sim.mutate("create", key="time_entries", project_id=project["id"], **params)
            return project
        except ValueError:  # no active user assignment on this project
            continue
    raise AssertionError("no project with an active user assignment to add time to")


def _prepare(sim: Any) -> None:
    """Changes that make every branch of every view matter (made before the first load)."""
    today = date.today()
    entries = sim.records("time_entries")
    # renamed entities: the names embedded in time entries go stale, the views must not use them
    first = entries[0]
    sim.mutate("update", key="clients", id=first["client"]["id"], fields={"name": "Renamed Client Ltd"})
    sim.mutate("update", key="projects", id=first["project"]["id"], fields={"name": "Renamed Project"})
    sim.mutate("update", key="tasks", id=first["task"]["id"], fields={"name": "Renamed Task"})
    sim.mutate("update", key="users", id=first["user"]["id"], fields={"first_name": "Renamed"})
    # a billable entry without a billable rate
    billable = next(e for e in entries if e["billable"] and e["billable_rate"] is not None)
    sim.mutate("update", key="time_entries", id=billable["id"], fields={"billable_rate": None})
    # open invoices due in every aging bucket, at both edges
    open_invoices = [i for i in sim.records("invoices") if i["state"] == "open"]
    assert len(open_invoices) >= 10
    for invoice, days_late in zip(open_invoices, (-10, 0, 1, 30, 31, 60, 61, 90, 91, 400), strict=False):
        due = (today - timedelta(days=days_late)).isoformat()
        sim.mutate("update", key="invoices", id=invoice["id"], fields={"due_date": due})
    # budgets: monthly ones with time (and expenses) this month, and ones that fall back to assignments
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for project in sim.records("projects"):
        by_kind[project["budget_by"]].append(project)
    hours_monthly = _create_entries(sim, by_kind["project"], 3, spent_date=today.isoformat(), hours=2.5)
    sim.mutate("update", key="projects", id=hours_monthly["id"], fields={"budget_is_monthly": True})
    billable_cost = [p for p in by_kind["project_cost"] if p["is_billable"]]
    fees_monthly = _create_entries(sim, billable_cost, 5, spent_date=today.isoformat(), hours=1.5)
    sim.mutate("update", key="projects", id=fees_monthly["id"],
               fields={"budget_is_monthly": True, "cost_budget_include_expenses": True})
    sim.mutate("create", key="expenses", project_id=fees_monthly["id"], spent_date=today.isoformat(),
               total_cost=123.45)
    others = [p for p in billable_cost if p["id"] != fees_monthly["id"]]
    if others:
        sim.mutate("update", key="projects", id=others[0]["id"],
                   fields={"budget_is_monthly": False, "cost_budget_include_expenses": True})
    for kind, fields in (("task", {"budget": None}), ("person", {"budget": None}),
                         ("task_fees", {"budget": None, "cost_budget": None})):
        sim.mutate("update", key="projects", id=by_kind[kind][0]["id"], fields=fields)
    # contractors: time without a cost rate (falls back to the user's), and a contractor with no rate at all
    by_user: dict[int, list[dict]] = defaultdict(list)
    for entry in sim.records("time_entries"):
        by_user[entry["user"]["id"]].append(entry)
    contractors = [u for u in sim.records("users") if u["is_contractor"] and by_user[u["id"]]]
    assert len(contractors) >= 2, "the account needs two contractors who tracked time"
    with_rate = next(u for u in contractors if u.get("cost_rate") is not None)
    sim.mutate("update", key="time_entries", id=by_user[with_rate["id"]][0]["id"], fields={"cost_rate": None})
    without = next(u for u in contractors if u["id"] != with_rate["id"])
    sim.mutate("update", key="users", id=without["id"], fields={"cost_rate": None})
    sim.mutate("update", key="time_entries", id=by_user[without["id"]][-1]["id"], fields={"cost_rate": None})


@pytest.fixture(scope="module")
def account() -> Iterator[Any]:
    with run_simulator(scale="small", seed=5) as sim:
        _prepare(sim)
        yield sim


@pytest.fixture(scope="module")
def records(account: Any) -> dict[str, Any]:
    return expect.account_records(account)


@pytest.fixture(scope="module", params=WAREHOUSES)
def warehouse(request: pytest.FixtureRequest, account: Any, tmp_path_factory: pytest.TempPathFactory):
    def load(settings: RunSettings) -> list[str]:
        result = run_load(settings, account.admin_token, str(account.account_id), account.base_url)
        assert result.exit_code == EXIT_OK, result.error
        return create_views(make_pipeline(settings))

    folder = tmp_path_factory.mktemp(f"views_{request.param}")
    with loaded_warehouse(request.param, folder, load, pipeline_name="views", source_options=dict(FAST)) as found:
        yield found


# -- the tests -------------------------------------------------------------------------------------------
def test_every_view_is_created_and_creating_again_is_harmless(warehouse: Warehouse, account: Any):
    assert warehouse.created == list(VIEW_NAMES)
    for name in VIEW_NAMES:
        assert warehouse.view(name, "count(*)")[0][0] > 0, name
        # account_id first, and it is the loaded account's
        assert warehouse.view(name, "DISTINCT account_id") == [(account.account_id,)], name
    first_columns = warehouse.query(
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = '{warehouse.dataset}' AND ordinal_position = 1 AND table_name LIKE 'v\\_%' ESCAPE '\\'"
    )
    assert dict(first_columns) == dict.fromkeys(VIEW_NAMES, "account_id")


def test_v_time_entries_has_current_names_and_amounts(warehouse: Warehouse, records: dict):
    expected = expect.time_entries(records)
    rows = warehouse.view("v_time_entries", expect.COLUMNS["v_time_entries"])
    actual = {r[0]: tuple(r[1:]) for r in rows}
    assert len(rows) == len(actual) == len(expected)
    assert actual == expected
    # the renames reached the view although the embedded names are stale
    assert any(row[2] == "Renamed Client Ltd" for row in actual.values())
    assert any(row[3] == "Renamed Project" for row in actual.values())
    assert any(row[5] == "Renamed Task" for row in actual.values())
    assert any(row[1].startswith("Renamed ") for row in actual.values())
    stale = warehouse.query(
        f'SELECT count(*) FROM "{warehouse.dataset}".time_entries te '
        f'JOIN "{warehouse.dataset}".v_time_entries v ON v.account_id = te.account_id AND v.id = te.id '
        "WHERE te.client__name <> v.client_name"
    )[0][0]
    assert stale > 0
    # a billable entry without a rate counts 0, never NULL
    assert warehouse.query(
        f'SELECT count(*) FROM "{warehouse.dataset}".v_time_entries WHERE billable_amount IS NULL'
    ) == [(0,)]
    assert any(e["billable"] and e["billable_rate"] is None for e in records["time_entries"])


def test_v_utilization_weekly(warehouse: Warehouse, records: dict):
    first_day = records["company"][0]["week_start_day"]
    expected = expect.utilization_weekly(records)
    rows = warehouse.view("v_utilization_weekly", expect.COLUMNS["v_utilization_weekly"])
    expect.assert_utilization(rows, expected)
    assert {r[1].weekday() for r in rows} == {FIRST_WEEKDAY[first_day]}
    over = sum(r[4] > r[6] for r in rows)
    assert 0 < over < len(rows)  # the data has weeks over and under capacity


def test_v_uninvoiced(warehouse: Warehouse, records: dict):
    expected = expect.uninvoiced(records)
    rows = warehouse.view("v_uninvoiced", expect.COLUMNS["v_uninvoiced"])
    assert {r[0]: tuple(r[1:]) for r in rows} == expected
    assert len(rows) == len(expected)
    assert any(v[3] > 0 for v in expected.values()) and any(v[5] > 0 for v in expected.values())
    # time already invoiced is left out: the view's hours are below all billable hours
    billed = sum(dec(e["hours"]) for e in records["time_entries"] if e["billable"] and e["is_billed"])
    assert billed > 0


def test_v_invoice_aging(warehouse: Warehouse, records: dict):
    rows = warehouse.query(
        f'SELECT {expect.COLUMNS["v_invoice_aging"]}, CURRENT_DATE FROM "{warehouse.dataset}".v_invoice_aging'
    )
    today = rows[0][-1] if rows else warehouse.today()
    assert {r[0]: tuple(r[1:-1]) for r in rows} == expect.invoice_aging(records, today)
    assert {r[6] for r in rows} == {"current", "1-30", "31-60", "61-90", "90+"}
    assert all(r[5] == 0 for r in rows if r[6] == "current")


def test_v_invoice_payments(warehouse: Warehouse, records: dict):
    expected = expect.invoice_payments(records)
    rows = warehouse.view("v_invoice_payments", expect.COLUMNS["v_invoice_payments"])
    assert {r[0]: tuple(r[1:]) for r in rows} == expected
    assert len(rows) == len(expected) > 0
    assert len({v[1] for v in expected.values()}) > 1  # payments of several invoices
    # payments per month, as the README's example sums them
    per_month = warehouse.query(
        f'SELECT month, currency, sum(amount) FROM "{warehouse.dataset}".v_invoice_payments GROUP BY month, currency'
    )
    sums: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for v in expected.values():
        sums[(v[7], v[5])] += v[4]
    assert {(r[0], r[1]): r[2] for r in per_month} == sums


def test_v_project_budget(warehouse: Warehouse, records: dict):
    expected = expect.project_budget(records, warehouse.today())
    expect.assert_budgets(warehouse.view("v_project_budget", expect.COLUMNS["v_project_budget"]), expected)
    # the data reaches every kind, monthly budgets with spending this month, and the fallbacks
    assert {v[2] for v in expected.values()} == {"project", "project_cost", "task", "task_fees", "person"}
    assert any(v[4] and v[6] > 0 and v[3] == "hours" for v in expected.values())
    assert any(v[4] and v[6] > 0 and v[3] == "money" for v in expected.values())
    fallbacks = [p for p in records["projects"] if p["budget_by"] in ("task", "person", "task_fees")
                 and p["budget"] is None and expected[p["id"]][5] is not None]
    assert len(fallbacks) >= 3
    assert any(v[7] is not None and v[7] < 0 for v in expected.values())  # some project is over budget


def test_v_contractor_payouts(warehouse: Warehouse, records: dict):
    users = {u["id"]: u for u in records["users"]}
    fallback_used = any(
        e["cost_rate"] is None and users[e["user"]["id"]].get("cost_rate") is not None
        for e in records["time_entries"] if users[e["user"]["id"]]["is_contractor"])
    rows = warehouse.view("v_contractor_payouts", expect.COLUMNS["v_contractor_payouts"])
    actual = {(r[0], r[1]): tuple(r[2:]) for r in rows}
    expected = expect.contractor_payouts(records)
    assert actual == expected and len(rows) == len(expected)
    assert fallback_used and any(v[3] > 0 for v in expected.values())
    assert all(users[uid]["is_contractor"] for uid, _ in actual)


def readme_section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_queries_run_and_answer(warehouse: Warehouse):
    section = readme_section("Query your data")
    queries = re.findall(r"```sql\n(.*?)\n```", section, re.S)
    assert len(queries) >= 7
    answers = [warehouse.query(q.replace("harvest_data.", f'"{warehouse.dataset}".').strip().rstrip(";"))
               for q in queries]
    this_month, capacity, uninvoiced, late = answers[:4]
    assert this_month and capacity and uninvoiced
    assert {row[1] for row in late} == {"1-30", "31-60", "61-90", "90+"}
    payments = next(a for q, a in zip(queries, answers, strict=True) if "v_invoice_payments" in q)
    assert payments and all(row[3] > 0 for row in payments)
    assert all(row[0] == answers[0][0][0] for answer in answers for row in answer)  # account_id first
    if warehouse.kind == "duckdb":  # the README's one-liner opens the file and prints a table
        command = next(b for b in re.findall(r"```bash\n(.*?)\n```", section, re.S) if "import duckdb" in b)
        argv = shlex.split(command.replace("harvest.duckdb", warehouse.file))
        assert argv[0] == "python"
        shown = subprocess.run([sys.executable, *argv[1:]], capture_output=True, text=True, check=True).stdout
        assert "uninvoiced_total" in shown and "project_name" in shown


# -- DuckDB only: settings that need their own load ----------------------------------------------------
def _pipeline(loader: Any):
    return make_pipeline(RunSettings(duckdb_file=loader.file, pipeline_name=loader.name,
                                     pipelines_dir=str(loader.folder / "pipelines")))


def test_weeks_start_on_the_company_week_start_day(loader_for):
    with run_simulator(scale="tiny", seed=2) as sim:
        loader = loader_for(sim)
        for first_day in ("Sunday", "Saturday"):
            sim.mutate("update", key="company", id=0, fields={"week_start_day": first_day})
            assert loader.run(source_options=dict(FAST)).exit_code == EXIT_OK
            assert "v_utilization_weekly" in create_views(_pipeline(loader))
            expected: dict[tuple[int, date], Decimal] = defaultdict(Decimal)
            for e in sim.records("time_entries"):
                expected[(e["user"]["id"], week_start(day(e["spent_date"]), first_day))] += dec(e["hours"])
            rows = loader.query("SELECT user_id, week_start, hours FROM v_utilization_weekly")
            assert {(r[0], r[1]): r[2] for r in rows} == expected, first_day
            assert {r[1].weekday() for r in rows} == {FIRST_WEEKDAY[first_day]}


def test_a_view_whose_tables_are_not_loaded_is_skipped(loader_for):
    with run_simulator(scale="tiny", seed=3) as sim:
        loader = loader_for(sim)
        assert loader.run(resources=["time_entries", "users", "company"], source_options=dict(FAST)).exit_code == 0
        assert create_views(_pipeline(loader)) == ["v_utilization_weekly", "v_contractor_payouts"]
        views = {r[0] for r in loader.query(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'VIEW'")}
        assert views == {"v_utilization_weekly", "v_contractor_payouts"}
        assert loader.query("SELECT sum(hours) FROM v_utilization_weekly")[0][0] == sum(
            dec(e["hours"]) for e in sim.records("time_entries"))
        assert loader.run(source_options=dict(FAST)).exit_code == EXIT_OK
        assert create_views(_pipeline(loader)) == list(VIEW_NAMES)
