"""What each analyst view must hold for one account, computed in Python from the simulator's raw records,
and a loaded dataset to compare it with (DuckDB, or PostgreSQL when HARVEST_TEST_POSTGRES_DSN is set).

Shared by tests/test_views.py (one account, every branch of every view) and tests/test_views_accounts.py
(three accounts in one dataset whose ids collide: each account's rows must equal its own expectation).
``records`` maps a table to the account's records, plus ``payments`` (invoice id -> its payments).
"""

from __future__ import annotations

import os
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

from harvest_source.runner import RunSettings, make_pipeline
from harvest_source.settings import STAGING_DATASET_LAYOUT
from harvest_source.simulator.clock import PINNED_NOW
from harvest_source.views import create_views, drop_views

FIRST_WEEKDAY = {"Monday": 0, "Sunday": 6, "Saturday": 5}  # Python weekday() of a week's first day
MONEY_BUDGETS = ("project_cost", "task_fees")
RECORD_KEYS = ("time_entries", "users", "clients", "projects", "tasks", "expenses", "invoices",
               "task_assignments", "user_assignments", "company")

# the columns each expectation describes, key column(s) first (as the test queries them)
COLUMNS = {
    "v_time_entries": "id, spent_date, user_name, client_name, project_name, project_code, task_name, hours, "
                      "billable_amount, cost_amount, currency",
    "v_utilization_weekly": "user_id, week_start, week_end, user_name, hours, billable_hours, capacity_hours, "
                            "utilization, total_utilization",
    "v_uninvoiced": "project_id, project_name, client_name, currency, uninvoiced_hours, uninvoiced_amount, "
                    "uninvoiced_expenses, uninvoiced_total",
    "v_invoice_aging": "invoice_id, number, client_name, due_date, due_amount, days_overdue, aging_bucket",
    "v_invoice_payments": "payment_id, invoice_id, invoice_number, client_id, client_name, amount, currency, "
                          "paid_date, month",
    "v_project_budget": "project_id, project_name, client_name, budget_by, budget_unit, budget_is_monthly, budget, "
                        "spent, remaining, percent_used",
    "v_contractor_payouts": "user_id, month, user_name, hours, amount, hours_without_rate",
}


def account_records(account: Any) -> dict[str, Any]:
    """One simulator account's records as the expectations read them."""
    records: dict[str, Any] = {key: account.records(key) for key in RECORD_KEYS}
    records["payments"] = {i["id"]: account.records("invoice_payments", parent_id=i["id"])
                           for i in records["invoices"]}
    return records


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


def by_id(rows: list[dict]) -> dict[int, dict]:
    return {r["id"]: r for r in rows}


def time_entries(records: dict) -> dict[int, tuple]:
    """v_time_entries: id -> (spent_date, user_name, client_name, project_name, project_code, task_name,
    hours, billable_amount, cost_amount, currency)."""
    users, clients = by_id(records["users"]), by_id(records["clients"])
    projects, tasks = by_id(records["projects"]), by_id(records["tasks"])
    expected = {}
    for e in records["time_entries"]:
        client, project = clients[e["client"]["id"]], projects[e["project"]["id"]]
        cost = dec(e["hours"]) * dec(e["cost_rate"]) if e["cost_rate"] is not None else None
        expected[e["id"]] = (
            day(e["spent_date"]), full_name(users[e["user"]["id"]]), client["name"], project["name"],
            project["code"], tasks[e["task"]["id"]]["name"], dec(e["hours"]), billable_amount(e), cost,
            client["currency"],
        )
    return expected


def utilization_weekly(records: dict) -> dict[tuple[int, date], tuple]:
    """v_utilization_weekly: (user_id, week_start) -> (week_end, user_name, hours, billable_hours,
    capacity_hours, utilization, total_utilization); weeks start on the account's own week_start_day."""
    first_day = records["company"][0]["week_start_day"]
    users = by_id(records["users"])
    sums: dict[tuple[int, date], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for e in records["time_entries"]:
        key = (e["user"]["id"], week_start(day(e["spent_date"]), first_day))
        sums[key][0] += dec(e["hours"])
        if e["billable"]:
            sums[key][1] += dec(e["hours"])
    expected = {}
    for (user_id, start), (hours, billable) in sums.items():
        user = users[user_id]
        capacity = Decimal(user["weekly_capacity"]) / 3600
        expected[(user_id, start)] = (start + timedelta(days=6), full_name(user), hours, billable, capacity,
                                      billable / capacity if capacity else None,
                                      hours / capacity if capacity else None)
    return expected


def uninvoiced(records: dict) -> dict[int, tuple]:
    """v_uninvoiced: project_id -> (project_name, client_name, currency, hours, amount, expenses, total)."""
    clients = by_id(records["clients"])
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
    return expected


def aging_bucket(days_late: int) -> str:
    if days_late <= 0:
        return "current"
    return "1-30" if days_late <= 30 else "31-60" if days_late <= 60 else "61-90" if days_late <= 90 else "90+"


def invoice_aging(records: dict, today: date) -> dict[int, tuple]:
    """v_invoice_aging: invoice_id -> (number, client_name, due_date, due_amount, days_overdue, bucket)."""
    clients = by_id(records["clients"])
    expected = {}
    for i in records["invoices"]:
        if i["state"] != "open":
            continue
        late = (today - day(i["due_date"])).days
        expected[i["id"]] = (i["number"], clients[i["client"]["id"]]["name"], day(i["due_date"]),
                             dec(i["due_amount"]), max(late, 0), aging_bucket(late))
    return expected


def invoice_payments(records: dict) -> dict[int, tuple]:
    """v_invoice_payments: payment_id -> (invoice_id, invoice_number, client_id, client_name, amount,
    currency, paid_date, month)."""
    clients = by_id(records["clients"])
    expected = {}
    for invoice in records["invoices"]:
        for payment in records["payments"].get(invoice["id"], []):
            paid = day(payment["paid_date"])
            expected[payment["id"]] = (
                invoice["id"], invoice["number"], invoice["client"]["id"], clients[invoice["client"]["id"]]["name"],
                dec(payment["amount"]), invoice["currency"], paid, paid.replace(day=1),
            )
    return expected


def _first(*values: Any) -> Decimal | None:
    return next((dec(v) for v in values if v is not None), None)


def project_budget(records: dict, today: date) -> dict[int, tuple]:
    """v_project_budget: project_id -> (project_name, client_name, budget_by, budget_unit, budget_is_monthly,
    budget, spent, remaining, percent_used)."""
    month_start = today.replace(day=1)
    clients = by_id(records["clients"])
    assignment_budgets: dict[str, dict[int, Decimal]] = {}
    for kind, key in (("task", "task_assignments"), ("person", "user_assignments")):
        sums: dict[int, Decimal] = defaultdict(Decimal)
        for a in records[key]:
            if a["budget"] is not None:
                sums[a["project"]["id"]] += dec(a["budget"])
        assignment_budgets[kind] = dict(sums)
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
    expected = {}
    for p in records["projects"]:
        kind, pid, monthly = p["budget_by"], p["id"], p["budget_is_monthly"]
        if kind not in ("project", "project_cost", "task", "task_fees", "person"):
            continue
        budget = {
            "project": _first(p["budget"]),
            "task": _first(p["budget"], assignment_budgets["task"].get(pid)),
            "person": _first(p["budget"], assignment_budgets["person"].get(pid)),
            "project_cost": _first(p["cost_budget"], p["budget"]),
            "task_fees": _first(p["cost_budget"], p["budget"], assignment_budgets["task"].get(pid)),
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
    return expected


def contractor_payouts(records: dict) -> dict[tuple[int, date], tuple]:
    """v_contractor_payouts: (user_id, month) -> (user_name, hours, amount, hours_without_rate)."""
    users = by_id(records["users"])
    sums: dict[tuple[int, date], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0), Decimal(0)])
    for e in records["time_entries"]:
        user = users[e["user"]["id"]]
        if not user["is_contractor"]:
            continue
        key = (user["id"], day(e["spent_date"]).replace(day=1))
        rate = e["cost_rate"] if e["cost_rate"] is not None else user.get("cost_rate")
        sums[key][0] += dec(e["hours"])
        if rate is None:
            sums[key][2] += dec(e["hours"])
        else:
            sums[key][1] += dec(e["hours"]) * dec(rate)
    return {k: (full_name(users[k[0]]), *v) for k, v in sums.items()}


def assert_utilization(rows: list[tuple], expected: dict) -> None:
    """The view's rows (``COLUMNS`` order) against ``utilization_weekly``; ratios within 0.0001."""
    assert len(rows) == len(expected)
    for user_id, start, *values in rows:
        want = expected[(user_id, start)]
        assert tuple(values[:4]) == want[:4], (user_id, start)
        for got, wanted in zip(values[4:], want[4:], strict=True):
            assert close(got, wanted, "0.0001"), (user_id, start)


def assert_budgets(rows: list[tuple], expected: dict) -> None:
    """The view's rows (``COLUMNS`` order) against ``project_budget``; percent_used within 0.005."""
    actual = {r[0]: tuple(r[1:]) for r in rows}
    assert set(actual) == set(expected) and len(rows) == len(expected)
    for pid, row in actual.items():
        assert row[:-1] == expected[pid][:-1], pid
        assert close(row[-1], expected[pid][-1], "0.005"), pid


# -- a loaded dataset, on DuckDB or PostgreSQL -----------------------------------------------------------
DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")
NO_DSN = "HARVEST_TEST_POSTGRES_DSN is not set (CI starts a server with .ci/postgres.sh)"
WAREHOUSES = ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def isolated(folder: Path) -> Iterator[pytest.MonkeyPatch]:
    """What tests/conftest.py's autouse fixture does, for a module-scoped load."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("SOURCES__", "DESTINATION__", "HARVEST__")):
                mp.delenv(name)
        mp.setenv("DLT_DATA_DIR", str(folder / "dlt_home"))
        mp.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
        mp.setenv("SOURCES__HARVEST__SWEEP_NOW", PINNED_NOW)  # as conftest: no run rotates for the hour it is
        mp.chdir(folder)
        if DSN:
            mp.setenv("DESTINATION__POSTGRES__CREDENTIALS", DSN)
        yield mp


@dataclass
class Warehouse:
    kind: str
    dataset: str
    created: list[str]
    query: Callable[[str], list[tuple]]  # reads, and on PostgreSQL writes too (autocommit)
    settings: RunSettings
    folder: Path
    file: str | None = None  # the DuckDB file

    def view(self, name: str, columns: str = "*", where: str = "") -> list[tuple]:
        return self.query(f'SELECT {columns} FROM "{self.dataset}"."{name}"' + (f" WHERE {where}" if where else ""))

    def today(self) -> date:
        value = self.query("SELECT CURRENT_DATE")[0][0]
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    def execute(self, sql: str) -> None:
        """A statement that writes (DuckDB: on a read-write connection of its own)."""
        if self.file is None:
            self.query(sql)
            return
        with duckdb.connect(self.file) as con:
            con.execute(sql)

    def recreate_views(self) -> list[str]:
        with isolated(self.folder):
            return create_views(make_pipeline(self.settings))

    def drop_views(self) -> list[str]:
        with isolated(self.folder):
            return drop_views(make_pipeline(self.settings))


@contextmanager
def loaded_warehouse(kind: str, folder: Path, load: Callable[[RunSettings], list[str]],
                     **settings: Any) -> Iterator[Warehouse]:
    """``load(settings)`` into a fresh dataset on ``kind`` (a schema of its own on PostgreSQL, dropped at the
    end); yields the dataset to query. ``load`` returns the views it created."""
    if kind == "postgres" and not DSN:
        pytest.skip(NO_DSN)
    dataset = "harvest_data" if kind == "duckdb" else f"harvest_views_{uuid.uuid4().hex[:10]}"
    run_settings = RunSettings(destination=kind, dataset=dataset, duckdb_file=str(folder / "views.duckdb"),
                               pipelines_dir=str(folder / "pipelines"), **settings)
    with isolated(folder):
        created = load(run_settings)
    if kind == "duckdb":
        def query(sql: str) -> list[tuple]:
            with duckdb.connect(run_settings.duckdb_file, read_only=True) as con:
                return con.execute(sql).fetchall()

        yield Warehouse(kind, dataset, created, query, run_settings, folder, run_settings.duckdb_file)
        return
    import psycopg2

    con = psycopg2.connect(DSN)
    con.autocommit = True

    def pg_query(sql: str) -> list[tuple]:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []

    try:
        yield Warehouse(kind, dataset, created, pg_query, run_settings, folder)
    finally:
        with con.cursor() as cur:
            cur.execute("SET client_min_messages = warning")
            cur.execute(f'DROP SCHEMA IF EXISTS "{dataset}" CASCADE')
            cur.execute(f'DROP SCHEMA IF EXISTS "{STAGING_DATASET_LAYOUT % dataset}" CASCADE')
        con.close()
