"""The analyst views (harvest_source/views/) against figures this file computes itself from the
simulator's raw records: on DuckDB always, on PostgreSQL when HARVEST_TEST_POSTGRES_DSN is set.

One ``small`` account is prepared with changes that reach every branch of the views (renamed entities,
invoices due in every aging bucket, monthly and fallback budgets, contractor time without a cost rate),
loaded once per warehouse, and every view is compared row by row with the expectation.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from harvest_source.runner import EXIT_OK, RunSettings, make_pipeline, run_load
from harvest_source.settings import STAGING_DATASET_LAYOUT
from harvest_source.simulator import run_simulator
from harvest_source.views import VIEW_NAMES, create_views

DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")
NO_DSN = "HARVEST_TEST_POSTGRES_DSN is not set (CI starts a server with .ci/postgres.sh)"
FAST = {"rate_limit_window_s": 0.001}  # the simulator does not rate-limit; do not pace requests
RECORD_KEYS = ("time_entries", "users", "clients", "projects", "tasks", "expenses", "invoices",
               "task_assignments", "user_assignments", "company")
FIRST_WEEKDAY = {"Monday": 0, "Sunday": 6, "Saturday": 5}  # Python weekday() of a week's first day
MONEY_BUDGETS = ("project_cost", "task_fees")
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


# -- helpers ---------------------------------------------------------------------------------------------
def dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def full_name(user: dict) -> str:
    return f"{user['first_name']} {user['last_name']}"


def billable_amount(entry: dict) -> Decimal:
    if entry["billable"] and entry["billable_rate"] is not None:
        return dec(entry["hours"]) * dec(entry["billable_rate"])
    return Decimal(0)


def day(value: str) -> date:
    return date.fromisoformat(value)


def week_start(spent: date, first_day: str) -> date:
    return spent - timedelta(days=(spent.weekday() - FIRST_WEEKDAY.get(first_day, 0)) % 7)


def close(actual: Any, expected: Decimal | None, tolerance: str) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    return abs(Decimal(str(actual)) - expected) <= Decimal(tolerance)


@contextmanager
def isolated(folder: Path) -> Iterator[pytest.MonkeyPatch]:
    """What tests/conftest.py's autouse fixture does, for a module-scoped load."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("SOURCES__", "DESTINATION__", "HARVEST__")):
                mp.delenv(name)
        mp.setenv("DLT_DATA_DIR", str(folder / "dlt_home"))
        mp.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        mp.chdir(folder)
        yield mp


@dataclass
class Warehouse:
    kind: str
    dataset: str
    created: list[str]
    query: Callable[[str], list[tuple]]
    file: str | None = None  # the DuckDB file

    def view(self, name: str, columns: str = "*") -> list[tuple]:
        return self.query(f'SELECT {columns} FROM "{self.dataset}"."{name}"')

    def today(self) -> date:
        value = self.query("SELECT CURRENT_DATE")[0][0]
        return value if isinstance(value, date) else date.fromisoformat(str(value))


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
def records(account: Any) -> dict[str, list[dict]]:
    return {key: account.records(key) for key in RECORD_KEYS}


def _load(account: Any, settings: RunSettings) -> list[str]:
    result = run_load(settings, account.admin_token, str(account.account_id), account.base_url)
    assert result.exit_code == EXIT_OK, result.error
    return create_views(make_pipeline(settings))


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request: pytest.FixtureRequest, account: Any, tmp_path_factory: pytest.TempPathFactory):
    kind = request.param
    if kind == "postgres" and not DSN:
        pytest.skip(NO_DSN)
    folder = tmp_path_factory.mktemp(f"views_{kind}")
    dataset = "harvest_data" if kind == "duckdb" else f"harvest_views_{uuid.uuid4().hex[:10]}"
    settings = RunSettings(
        destination=kind, dataset=dataset, duckdb_file=str(folder / "views.duckdb"), pipeline_name="views",
        pipelines_dir=str(folder / "pipelines"), source_options=dict(FAST),
    )
    with isolated(folder) as mp:
        if kind == "postgres":
            mp.setenv("DESTINATION__POSTGRES__CREDENTIALS", DSN)
        created = _load(account, settings)
    if kind == "duckdb":
        def query(sql: str) -> list[tuple]:
            with duckdb.connect(settings.duckdb_file, read_only=True) as con:
                return con.execute(sql).fetchall()

        yield Warehouse(kind, dataset, created, query, settings.duckdb_file)
        return
    import psycopg2

    con = psycopg2.connect(DSN)
    con.autocommit = True

    def pg_query(sql: str) -> list[tuple]:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    try:
        yield Warehouse(kind, dataset, created, pg_query)
    finally:
        with con.cursor() as cur:
            cur.execute("SET client_min_messages = warning")
            cur.execute(f'DROP SCHEMA IF EXISTS "{dataset}" CASCADE')
            cur.execute(f'DROP SCHEMA IF EXISTS "{STAGING_DATASET_LAYOUT % dataset}" CASCADE')
        con.close()


# -- the tests -------------------------------------------------------------------------------------------
def test_every_view_is_created_and_creating_again_is_harmless(warehouse: Warehouse):
    assert warehouse.created == list(VIEW_NAMES)
    for name in VIEW_NAMES:
        assert warehouse.view(name, "count(*)")[0][0] > 0, name


def test_v_time_entries_has_current_names_and_amounts(warehouse: Warehouse, records: dict):
    users = {u["id"]: u for u in records["users"]}
    clients = {c["id"]: c for c in records["clients"]}
    projects = {p["id"]: p for p in records["projects"]}
    tasks = {t["id"]: t for t in records["tasks"]}
    expected = {}
    for e in records["time_entries"]:
        client, project = clients[e["client"]["id"]], projects[e["project"]["id"]]
        cost = dec(e["hours"]) * dec(e["cost_rate"]) if e["cost_rate"] is not None else None
        expected[e["id"]] = (
            day(e["spent_date"]), full_name(users[e["user"]["id"]]), client["name"], project["name"],
            project["code"], tasks[e["task"]["id"]]["name"], dec(e["hours"]), billable_amount(e), cost,
            client["currency"],
        )
    rows = warehouse.view(
        "v_time_entries",
        "id, spent_date, user_name, client_name, project_name, project_code, task_name, hours, billable_amount, "
        "cost_amount, currency",
    )
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
        f'JOIN "{warehouse.dataset}".v_time_entries v ON v.id = te.id WHERE te.client__name <> v.client_name'
    )[0][0]
    assert stale > 0
    # a billable entry without a rate counts 0, never NULL
    assert warehouse.view("v_time_entries", "count(*)")[0][0] == len(expected)
    assert warehouse.query(
        f'SELECT count(*) FROM "{warehouse.dataset}".v_time_entries WHERE billable_amount IS NULL'
    ) == [(0,)]
    assert any(e["billable"] and e["billable_rate"] is None for e in records["time_entries"])


def test_v_utilization_weekly(warehouse: Warehouse, records: dict):
    first_day = records["company"][0]["week_start_day"]
    users = {u["id"]: u for u in records["users"]}
    sums: dict[tuple[int, date], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for e in records["time_entries"]:
        key = (e["user"]["id"], week_start(day(e["spent_date"]), first_day))
        sums[key][0] += dec(e["hours"])
        if e["billable"]:
            sums[key][1] += dec(e["hours"])
    rows = warehouse.view(
        "v_utilization_weekly",
        "user_id, week_start, week_end, user_name, hours, billable_hours, capacity_hours, utilization, "
        "total_utilization",
    )
    assert len(rows) == len(sums)
    over = 0
    for user_id, start, end, name, hours, billable_hours, capacity, utilization, total in rows:
        user = users[user_id]
        expected_hours, expected_billable = sums[(user_id, start)]
        capacity_expected = Decimal(user["weekly_capacity"]) / 3600
        assert start.weekday() == FIRST_WEEKDAY[first_day] and end == start + timedelta(days=6)
        assert name == full_name(user)
        assert (hours, billable_hours) == (expected_hours, expected_billable), (user_id, start)
        assert close(capacity, capacity_expected, "0.0001")
        assert close(utilization, expected_billable / capacity_expected, "0.0001"), (user_id, start)
        assert close(total, expected_hours / capacity_expected, "0.0001"), (user_id, start)
        over += hours > capacity
    assert 0 < over < len(rows)  # the data has weeks over and under capacity


def test_v_uninvoiced(warehouse: Warehouse, records: dict):
    clients = {c["id"]: c for c in records["clients"]}
    time_open: dict[int, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for e in records["time_entries"]:
        if e["billable"] and not e["is_billed"]:
            time_open[e["project"]["id"]][0] += dec(e["hours"])
            time_open[e["project"]["id"]][1] += billable_amount(e)
    expenses_open: dict[int, Decimal] = defaultdict(Decimal)
    for x in records["expenses"]:
        if x["billable"] and not x["is_billed"]:
            expenses_open[x["project"]["id"]] += dec(x["total_cost"])
    expected = {}
    for p in records["projects"]:
        if p["id"] not in time_open and p["id"] not in expenses_open:
            continue
        hours, amount = time_open.get(p["id"], (Decimal(0), Decimal(0)))
        spent = expenses_open.get(p["id"], Decimal(0))
        client = clients[p["client"]["id"]]
        expected[p["id"]] = (p["name"], client["name"], client["currency"], hours, amount, spent, amount + spent)
    rows = warehouse.view(
        "v_uninvoiced",
        "project_id, project_name, client_name, currency, uninvoiced_hours, uninvoiced_amount, "
        "uninvoiced_expenses, uninvoiced_total",
    )
    assert {r[0]: tuple(r[1:]) for r in rows} == expected
    assert len(rows) == len(expected)
    assert any(v[3] > 0 for v in expected.values()) and any(v[5] > 0 for v in expected.values())
    # time already invoiced is left out: the view's hours are below all billable hours
    billed = sum(dec(e["hours"]) for e in records["time_entries"] if e["billable"] and e["is_billed"])
    assert billed > 0


def test_v_invoice_aging(warehouse: Warehouse, records: dict):
    clients = {c["id"]: c for c in records["clients"]}
    rows = warehouse.query(
        "SELECT invoice_id, number, client_name, due_date, due_amount, days_overdue, aging_bucket, CURRENT_DATE "
        f'FROM "{warehouse.dataset}".v_invoice_aging'
    )
    today = rows[0][-1] if rows else warehouse.today()
    expected = {}
    for i in records["invoices"]:
        if i["state"] != "open":
            continue
        late = (today - day(i["due_date"])).days
        bucket = ("current" if late <= 0 else "1-30" if late <= 30 else "31-60" if late <= 60
                  else "61-90" if late <= 90 else "90+")
        expected[i["id"]] = (i["number"], clients[i["client"]["id"]]["name"], day(i["due_date"]),
                             dec(i["due_amount"]), max(late, 0), bucket)
    assert {r[0]: tuple(r[1:-1]) for r in rows} == expected
    assert {r[6] for r in rows} == {"current", "1-30", "31-60", "61-90", "90+"}
    assert all(r[5] == 0 for r in rows if r[6] == "current")


def test_v_invoice_payments(warehouse: Warehouse, account: Any, records: dict):
    clients = {c["id"]: c for c in records["clients"]}
    expected = {}
    for invoice in records["invoices"]:
        for payment in account.records("invoice_payments", parent_id=invoice["id"]):
            paid = day(payment["paid_date"])
            expected[payment["id"]] = (
                invoice["id"], invoice["number"], invoice["client"]["id"], clients[invoice["client"]["id"]]["name"],
                dec(payment["amount"]), invoice["currency"], paid, paid.replace(day=1),
            )
    rows = warehouse.view(
        "v_invoice_payments",
        "payment_id, invoice_id, invoice_number, client_id, client_name, amount, currency, paid_date, month",
    )
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
    today = warehouse.today()
    month_start = today.replace(day=1)
    clients = {c["id"]: c for c in records["clients"]}
    assignment_budgets: dict[str, dict[int, Decimal]] = {"task": defaultdict(Decimal), "person": defaultdict(Decimal)}
    for kind, key in (("task", "task_assignments"), ("person", "user_assignments")):
        has_budget: set[int] = set()
        for a in records[key]:
            if a["budget"] is not None:
                assignment_budgets[kind][a["project"]["id"]] += dec(a["budget"])
                has_budget.add(a["project"]["id"])
        assignment_budgets[kind] = {pid: v for pid, v in assignment_budgets[kind].items() if pid in has_budget}
    hours, fees, month_hours, month_fees = (defaultdict(Decimal) for _ in range(4))
    for e in records["time_entries"]:
        pid = e["project"]["id"]
        hours[pid] += dec(e["hours"])
        fees[pid] += billable_amount(e)
        if day(e["spent_date"]) >= month_start:
            month_hours[pid] += dec(e["hours"])
            month_fees[pid] += billable_amount(e)
    expenses, month_expenses = defaultdict(Decimal), defaultdict(Decimal)
    for x in records["expenses"]:
        if x["billable"]:
            expenses[x["project"]["id"]] += dec(x["total_cost"])
            if day(x["spent_date"]) >= month_start:
                month_expenses[x["project"]["id"]] += dec(x["total_cost"])

    def first(*values: Any) -> Decimal | None:
        return next((dec(v) for v in values if v is not None), None)

    expected = {}
    for p in records["projects"]:
        kind, pid, monthly = p["budget_by"], p["id"], p["budget_is_monthly"]
        if kind not in ("project", "project_cost", "task", "task_fees", "person"):
            continue
        budget = {
            "project": first(p["budget"]),
            "task": first(p["budget"], assignment_budgets["task"].get(pid)),
            "person": first(p["budget"], assignment_budgets["person"].get(pid)),
            "project_cost": first(p["cost_budget"], p["budget"]),
            "task_fees": first(p["cost_budget"], p["budget"], assignment_budgets["task"].get(pid)),
        }[kind]
        if kind in MONEY_BUDGETS:
            spent = month_fees[pid] if monthly else fees[pid]
            if kind == "project_cost" and p["cost_budget_include_expenses"]:
                spent += month_expenses[pid] if monthly else expenses[pid]
        else:
            spent = month_hours[pid] if monthly else hours[pid]
        unit = "money" if kind in MONEY_BUDGETS else "hours"
        remaining = None if budget is None else budget - spent
        expected[pid] = (p["name"], clients[p["client"]["id"]]["name"], kind, unit, monthly, budget, spent,
                         remaining, 100 * spent / budget if budget else None)
    rows = warehouse.view(
        "v_project_budget",
        "project_id, project_name, client_name, budget_by, budget_unit, budget_is_monthly, budget, spent, "
        "remaining, percent_used",
    )
    actual = {r[0]: tuple(r[1:]) for r in rows}
    assert set(actual) == set(expected) and len(rows) == len(expected)
    for pid, row in actual.items():
        assert row[:-1] == expected[pid][:-1], pid
        assert close(row[-1], expected[pid][-1], "0.005"), pid
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
    sums: dict[tuple[int, date], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    fallback_used = False
    for e in records["time_entries"]:
        user = users[e["user"]["id"]]
        if not user["is_contractor"]:
            continue
        key = (user["id"], day(e["spent_date"]).replace(day=1))
        rate = e["cost_rate"] if e["cost_rate"] is not None else user.get("cost_rate")
        fallback_used |= e["cost_rate"] is None and rate is not None
        sums[key][0] += dec(e["hours"])
        if rate is None:
            sums[key][2] += dec(e["hours"])
        else:
            sums[key][1] += dec(e["hours"]) * dec(rate)
    rows = warehouse.view("v_contractor_payouts", "user_id, month, user_name, hours, amount, hours_without_rate")
    actual = {(r[0], r[1]): tuple(r[2:]) for r in rows}
    expected = {k: (full_name(users[k[0]]), *v) for k, v in sums.items()}
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
    assert {row[0] for row in late} == {"1-30", "31-60", "61-90", "90+"}
    payments = next(a for q, a in zip(queries, answers, strict=True) if "v_invoice_payments" in q)
    assert payments and all(row[2] > 0 for row in payments)
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
