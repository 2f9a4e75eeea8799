"""The analyst views over three Harvest accounts in one dataset whose ids collide, over real HTTP to the
multi-account simulator: each account's view rows equal what that account's own records give (never a join
into another account, never a total summed across accounts), on DuckDB and PostgreSQL.

The simulator keeps the accounts' ids apart (``accounts.ID_STRIDE``); here every account's ids start where
the first's do, so projects, users, clients, tasks, invoices and time entries share ids across accounts, as
real Harvest accounts can. Rows marked deleted (``SOFT_DELETED_COLUMN``) are left out of the views once a
table has that column.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import views_expected as expect
from views_expected import WAREHOUSES, Warehouse, loaded_warehouse

from harvest_source.runner import EXIT_OK, RunSettings, run_load
from harvest_source.settings import SOFT_DELETED_COLUMN
from harvest_source.simulator import accounts as sim_accounts
from harvest_source.simulator import run_simulator
from harvest_source.views import VIEW_NAMES, VIEWS, view_sql

FAST = {"rate_limit_window_s": 0.001}
SEED = 7  # with colliding ids, this seed's three tiny accounts share ids in every table the views read
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
COLLIDING = ("projects", "users", "clients", "tasks", "invoices", "time_entries", "expenses")


# -- the SQL itself --------------------------------------------------------------------------------------
def test_every_join_and_group_by_of_every_view_includes_account_id():
    for view in VIEWS:
        sql = view.select
        joins = re.findall(r"\bJOIN\s+(\S+)\s+AS\s+\w+\s+ON\s+(.+)", sql)
        assert joins, view.name
        for table, condition in joins:
            assert "account_id" in condition, (view.name, table, condition)
        assert set(re.findall(r"CROSS JOIN (\w+)", sql)) <= {"this_month"}, view.name  # the one-row CTE only
        for group_by in re.findall(r"GROUP BY (.+)", sql):
            assert "account_id" in group_by, (view.name, group_by)
        first = re.findall(r"^SELECT\n\s+(\S+?),", sql, re.MULTILINE)[-1]  # of the outermost SELECT
        assert first.split(".")[-1] == "account_id", (view.name, first)


def test_a_table_with_the_soft_delete_column_is_read_through_its_live_rows():
    view = next(v for v in VIEWS if v.name == "v_time_entries")
    plain = view_sql(view, "ds")
    assert SOFT_DELETED_COLUMN not in plain
    live = view_sql(view, "ds", {"time_entries", "users"})
    assert f'(SELECT * FROM "ds"."time_entries" WHERE "{SOFT_DELETED_COLUMN}" IS NULL) AS te' in live
    assert f'(SELECT * FROM "ds"."users" WHERE "{SOFT_DELETED_COLUMN}" IS NULL) AS u' in live
    assert '"ds"."projects" AS p' in live


# -- three accounts whose ids collide --------------------------------------------------------------------
def _prepare(sim: Any) -> None:
    """Per-account settings the views must not mix: each account its own week start, contractors with ids
    that the other accounts use for other people."""
    first, second, third = (sim.account(a) for a in sim.account_ids)
    second.mutate("update", key="company", id=0, fields={"week_start_day": "Sunday"})
    third.mutate("update", key="company", id=0, fields={"week_start_day": "Saturday"})
    first_users = {u["id"] for u in first.records("users")}
    for acct in (second, third):
        tracked = {e["user"]["id"] for e in acct.records("time_entries")}
        shared = sorted(u["id"] for u in acct.records("users") if u["id"] in first_users and u["id"] in tracked)
        pick = shared[0] if shared else min(tracked)
        acct.mutate("update", key="users", id=pick, fields={"is_contractor": True})


@pytest.fixture(scope="module")
def sim() -> Iterator[Any]:
    patch = pytest.MonkeyPatch()
    patch.setattr(sim_accounts, "ID_STRIDE", 0)  # every account's ids start where the first's do
    try:
        context = run_simulator(scale="tiny", seed=SEED, accounts=3)
        simulator = context.__enter__()
    finally:
        patch.undo()  # the accounts are generated: later ids come from each account's own store
    try:
        _prepare(simulator)
        yield simulator
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def records(sim: Any) -> dict[int, dict[str, Any]]:
    return {a: expect.account_records(sim.account(a)) for a in sim.account_ids}


@pytest.fixture(scope="module", params=WAREHOUSES)
def warehouse(request: pytest.FixtureRequest, sim: Any, tmp_path_factory: pytest.TempPathFactory):
    def load(settings: RunSettings) -> list[str]:
        result = run_load(settings, sim.admin_token, ",".join(map(str, sim.account_ids)), sim.base_url)
        assert result.exit_code == EXIT_OK, result.error
        return result.views

    folder = tmp_path_factory.mktemp(f"views_accounts_{request.param}")
    with loaded_warehouse(request.param, folder, load, pipeline_name="harvest", source_options=dict(FAST)) as found:
        yield found


def _view_equals_expectation(warehouse: Warehouse, account_id: int, records: dict, name: str) -> None:
    rows = warehouse.view(name, expect.COLUMNS[name], f"account_id = {account_id}")
    today = warehouse.today()
    if name == "v_utilization_weekly":
        expect.assert_utilization(rows, expect.utilization_weekly(records))
    elif name == "v_project_budget":
        expect.assert_budgets(rows, expect.project_budget(records, today))
    elif name == "v_contractor_payouts":
        assert {(r[0], r[1]): tuple(r[2:]) for r in rows} == expect.contractor_payouts(records)
    else:
        expected = {
            "v_time_entries": expect.time_entries,
            "v_uninvoiced": expect.uninvoiced,
            "v_invoice_payments": expect.invoice_payments,
            "v_invoice_aging": lambda r: expect.invoice_aging(r, today),
        }[name](records)
        assert {r[0]: tuple(r[1:]) for r in rows} == expected, (name, account_id)
    assert len(rows) == len({tuple(r[:2]) for r in rows}), (name, account_id)  # no row twice


def test_ids_collide_between_the_accounts(warehouse: Warehouse, sim: Any):
    for table in COLLIDING:
        shared = warehouse.query(
            f'SELECT count(*) FROM (SELECT id FROM "{warehouse.dataset}"."{table}" GROUP BY id '
            "HAVING count(DISTINCT account_id) > 1) AS s")[0][0]
        assert shared > 0, table
    # a project id that two accounts both tracked time on, under different names
    both = warehouse.query(
        f'SELECT te.project__id FROM "{warehouse.dataset}".time_entries te GROUP BY te.project__id '
        "HAVING count(DISTINCT te.account_id) > 1")
    assert both
    names = warehouse.view("v_time_entries", "DISTINCT account_id, project_name", f"project_id = {both[0][0]}")
    assert len({n for _, n in names}) == len(names) > 1


def test_every_view_holds_each_accounts_own_rows(warehouse: Warehouse, sim: Any, records: dict):
    assert warehouse.created == list(VIEW_NAMES)
    for name in VIEW_NAMES:
        assert {r[0] for r in warehouse.view(name, "DISTINCT account_id")} == set(sim.account_ids), name
        for account_id in sim.account_ids:
            _view_equals_expectation(warehouse, account_id, records[account_id], name)


def test_weeks_start_on_each_accounts_own_week_start_day(warehouse: Warehouse, sim: Any):
    starts = warehouse.query(f'SELECT DISTINCT account_id, EXTRACT(DOW FROM week_start) '
                             f'FROM "{warehouse.dataset}".v_utilization_weekly')
    first, second, third = sim.account_ids
    assert {(a, int(d)) for a, d in starts} == {(first, 1), (second, 0), (third, 6)}


def test_totals_per_account_equal_the_sums_of_that_accounts_records(warehouse: Warehouse, sim: Any, records: dict):
    totals = {
        "v_time_entries": "sum(hours), sum(billable_amount)",
        "v_uninvoiced": "sum(uninvoiced_hours), sum(uninvoiced_total)",
        "v_invoice_aging": "count(*), sum(due_amount)",
        "v_invoice_payments": "count(*), sum(amount)",
        "v_contractor_payouts": "sum(hours), sum(amount)",
        "v_utilization_weekly": "sum(hours), sum(billable_hours)",
    }
    got = {name: {r[0]: tuple(r[1:]) for r in warehouse.query(
        f'SELECT account_id, {columns} FROM "{warehouse.dataset}"."{name}" GROUP BY account_id')}
        for name, columns in totals.items()}
    today = warehouse.today()
    for account_id in sim.account_ids:
        acct = records[account_id]
        entries = acct["time_entries"]
        uninvoiced = expect.uninvoiced(acct).values()
        aging = expect.invoice_aging(acct, today).values()
        payments = expect.invoice_payments(acct).values()
        payouts = expect.contractor_payouts(acct).values()
        expected = {
            "v_time_entries": (sum(expect.dec(e["hours"]) for e in entries),
                               sum(expect.billable_amount(e) for e in entries)),
            "v_uninvoiced": (sum(v[3] for v in uninvoiced), sum(v[6] for v in uninvoiced)),
            "v_invoice_aging": (len(aging), sum(v[3] for v in aging)),
            "v_invoice_payments": (len(payments), sum(v[4] for v in payments)),
            "v_contractor_payouts": (sum(v[1] for v in payouts), sum(v[2] for v in payouts)),
            "v_utilization_weekly": (sum(expect.dec(e["hours"]) for e in entries),
                                     sum(expect.dec(e["hours"]) for e in entries if e["billable"])),
        }
        for name, values in expected.items():
            assert got[name].get(account_id) == values, (name, account_id)
    # the accounts differ, so a total summed across accounts could not pass as any one account's
    assert len({v for v in got["v_time_entries"].values()}) == 3


def test_rows_marked_deleted_are_left_out_once_the_column_exists(warehouse: Warehouse, sim: Any, records: dict):
    first, second, third = sim.account_ids
    ds = f'"{warehouse.dataset}"'
    # a time entry whose id another account also has, an open invoice without payments, a billable expense
    shared_entry = warehouse.query(
        f"SELECT id FROM {ds}.time_entries GROUP BY id HAVING count(DISTINCT account_id) > 1 ORDER BY id")[0][0]
    open_invoice = next(i["id"] for i in records[second]["invoices"]
                        if i["state"] == "open" and not records[second]["payments"][i["id"]])
    expense = next(x["id"] for x in records[third]["expenses"] if x["billable"] and not x["is_billed"])
    marked = {(first, "time_entries"): shared_entry, (second, "invoices"): open_invoice,
              (third, "expenses"): expense}
    column = f'"{SOFT_DELETED_COLUMN}"'
    for table in ("time_entries", "invoices", "expenses"):
        warehouse.execute(f"ALTER TABLE {ds}.{table} ADD COLUMN {column} TIMESTAMP")
    try:
        for (account_id, table), row_id in marked.items():
            warehouse.execute(f"UPDATE {ds}.{table} SET {column} = CURRENT_TIMESTAMP "
                              f"WHERE account_id = {account_id} AND id = {row_id}")
        assert warehouse.recreate_views() == list(VIEW_NAMES)
        live: dict[int, dict[str, Any]] = defaultdict(dict)
        for account_id in sim.account_ids:
            live[account_id] = {key: list(value) if isinstance(value, list) else value
                                for key, value in records[account_id].items()}
        for (account_id, table), row_id in marked.items():
            live[account_id][table] = [r for r in live[account_id][table] if r["id"] != row_id]
        for account_id in sim.account_ids:
            for name in VIEW_NAMES:
                _view_equals_expectation(warehouse, account_id, live[account_id], name)
        # the other account's entry with the same id is still there
        owners = warehouse.view("v_time_entries", "account_id", f"id = {shared_entry}")
        assert first not in {r[0] for r in owners} and owners
    finally:  # back to the dataset the other tests read (PostgreSQL: no column dropped under a view)
        warehouse.drop_views()
        for table in ("time_entries", "invoices", "expenses"):
            warehouse.execute(f"ALTER TABLE {ds}.{table} DROP COLUMN {column}")
        assert warehouse.recreate_views() == list(VIEW_NAMES)


def test_the_readme_queries_answer_per_account(warehouse: Warehouse, sim: Any, records: dict):
    section = README.split("\n## Query your data\n", 1)[1].split("\n## ", 1)[0]
    queries = re.findall(r"```sql\n(.*?)\n```", section, re.S)
    answers = [warehouse.query(q.replace("harvest_data.", f'"{warehouse.dataset}".').strip().rstrip(";"))
               for q in queries]
    for query, answer in zip(queries, answers, strict=True):
        assert query.lstrip().startswith(("SELECT account_id", "SELECT te.account_id")), query
        assert {row[0] for row in answer} <= set(sim.account_ids), query
    # the README's own join of the tables: each account's hours are its records' hours, ids colliding or not
    join = next(a for q, a in zip(queries, answers, strict=True) if "JOIN harvest_data.projects" in q)
    hours: dict[int, Decimal] = defaultdict(Decimal)
    for account_id, _, _, value in join:
        hours[account_id] += value
    assert hours == {a: sum(expect.dec(e["hours"]) for e in records[a]["time_entries"]) for a in sim.account_ids}
