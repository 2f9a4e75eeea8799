"""Analyst views, created in the dataset next to the tables after each load.

The SQL is written once and runs unchanged on DuckDB (and MotherDuck) and PostgreSQL: plain joins and
aggregates, ``EXTRACT``, ``date - integer`` and ``date - date`` arithmetic, ``CURRENT_DATE``, ``CAST`` to
``DECIMAL``/``INTEGER``. Every view joins on ids and reads names from the entity tables (``clients``,
``projects``, ``tasks``, ``users``), never the names embedded in time entries and expenses, which are as
Harvest sent them at the record's last update and go stale after a rename.

Definitions (README "Query your data" repeats them for analysts):

- ``v_time_entries``: one row per time entry with current names. ``billable_amount`` = hours x
  ``billable_rate`` for billable entries and 0 for non-billable ones (also 0 when a billable entry has no
  rate), so it always sums; in the client's ``currency``. ``cost_amount`` = hours x the entry's
  ``cost_rate``, NULL when Harvest recorded no cost rate (unknown, not free).
- ``v_utilization_weekly``: per user and week. Weeks start on ``company.week_start_day`` (Saturday, Sunday
  or Monday; Monday when unknown). ``capacity_hours`` = ``users.weekly_capacity`` / 3600 (the user's
  current capacity: Harvest keeps no history of it). ``utilization`` = billable hours / capacity hours
  (a fraction, 0.85 = 85 %; NULL for a zero capacity); ``total_utilization`` = all hours / capacity hours.
  Only weeks in which the user tracked time appear.
- ``v_uninvoiced``: per project with billable time or expenses not invoiced yet (``billable`` and not
  ``is_billed``): ``uninvoiced_hours``, ``uninvoiced_amount`` (hours x billable rate of that time),
  ``uninvoiced_expenses`` (``total_cost`` of those expenses), ``uninvoiced_total`` (amount + expenses).
  Running timers count with the hours tracked so far.
- ``v_invoice_aging``: invoices in state ``open``; ``days_overdue`` = ``CURRENT_DATE - due_date``, at
  least 0; ``aging_bucket`` ``current`` (not yet due, or due today), ``1-30``, ``31-60``, ``61-90``, ``90+``.
- ``v_project_budget``: per project with a budget (``budget_by`` not ``none``). Hour budgets
  (``project``, ``task``, ``person``): ``spent`` = all hours tracked on the project. Money budgets
  (``project_cost``, ``task_fees``): ``spent`` = billable amount of the project's time (as in
  ``v_time_entries``), plus its billable expenses for ``project_cost`` when ``cost_budget_include_expenses``.
  ``budget`` = ``projects.budget`` for ``project``; ``COALESCE(projects.budget, sum of the task (or
  person) assignment budgets)`` for ``task`` (``person``); ``COALESCE(projects.cost_budget,
  projects.budget)`` for ``project_cost``; ``COALESCE(projects.cost_budget, projects.budget, sum of the
  task assignment budgets)`` for ``task_fees``. A monthly budget (``budget_is_monthly``) counts only the
  current calendar month. ``remaining`` = budget - spent (negative when over); ``percent_used`` =
  100 x spent / budget, NULL without a positive budget.
- ``v_contractor_payouts``: per contractor (``users.is_contractor``) and calendar month (``month`` = its
  first day): all hours, billable or not, and ``amount`` = sum of hours x the entry's ``cost_rate``,
  falling back to the user's current ``users.cost_rate`` when the entry has none; hours with neither
  rate are in ``hours_without_rate`` and add nothing to ``amount``.

Hours are Harvest's ``hours`` (not ``rounded_hours``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("harvest_source")

# destinations whose SQL dialect these views are written (and tested) for
SUPPORTED_DESTINATIONS = ("duckdb", "motherduck", "postgres")


@dataclass(frozen=True)
class View:
    name: str
    requires: tuple[str, ...]  # tables that must exist in the dataset
    select: str  # the SELECT, with {table} placeholders for qualified table names


_USER_NAME = "u.first_name || ' ' || u.last_name"
_BILLABLE_AMOUNT = "CASE WHEN {alias}.billable THEN {alias}.hours * COALESCE({alias}.billable_rate, 0) ELSE 0 END"
_MONTH_START = "{d} - CAST(EXTRACT(DAY FROM {d}) AS INTEGER) + 1"
_MONEY = "DECIMAL(38, 9)"

VIEWS: tuple[View, ...] = (
    View(
        "v_time_entries",
        ("time_entries", "users", "clients", "projects", "tasks"),
        f"""
SELECT
    te.id,
    te.spent_date,
    te.user__id AS user_id,
    {_USER_NAME} AS user_name,
    te.client__id AS client_id,
    c.name AS client_name,
    te.project__id AS project_id,
    p.name AS project_name,
    p.code AS project_code,
    te.task__id AS task_id,
    t.name AS task_name,
    te.notes,
    te.hours,
    te.billable,
    te.is_billed,
    te.is_running,
    te.invoice__id AS invoice_id,
    te.billable_rate,
    te.cost_rate,
    CAST({_BILLABLE_AMOUNT.format(alias="te")} AS {_MONEY}) AS billable_amount,
    CAST(te.hours * te.cost_rate AS {_MONEY}) AS cost_amount,
    c.currency
FROM {{time_entries}} AS te
LEFT JOIN {{users}} AS u ON u.id = te.user__id
LEFT JOIN {{clients}} AS c ON c.id = te.client__id
LEFT JOIN {{projects}} AS p ON p.id = te.project__id
LEFT JOIN {{tasks}} AS t ON t.id = te.task__id
""",
    ),
    View(
        "v_utilization_weekly",
        ("time_entries", "users", "company"),
        f"""
WITH week_setting AS (
    SELECT CASE MAX(week_start_day) WHEN 'Sunday' THEN 0 WHEN 'Saturday' THEN 6 ELSE 1 END AS start_dow
    FROM {{company}}
),
entries AS (
    SELECT
        te.user__id AS user_id,
        te.spent_date - (CAST(EXTRACT(DOW FROM te.spent_date) AS INTEGER) - ws.start_dow + 7) % 7 AS week_start,
        te.hours,
        CASE WHEN te.billable THEN te.hours ELSE 0 END AS billable_hours
    FROM {{time_entries}} AS te
    CROSS JOIN week_setting AS ws
),
weekly AS (
    SELECT user_id, week_start, SUM(hours) AS hours, SUM(billable_hours) AS billable_hours
    FROM entries
    GROUP BY user_id, week_start
)
SELECT
    w.week_start,
    w.week_start + 6 AS week_end,
    w.user_id,
    {_USER_NAME} AS user_name,
    u.is_contractor,
    CAST(w.hours AS {_MONEY}) AS hours,
    CAST(w.billable_hours AS {_MONEY}) AS billable_hours,
    CAST(CAST(u.weekly_capacity AS {_MONEY}) / 3600 AS DECIMAL(38, 4)) AS capacity_hours,
    CAST(w.billable_hours * 3600 / NULLIF(u.weekly_capacity, 0) AS DECIMAL(38, 4)) AS utilization,
    CAST(w.hours * 3600 / NULLIF(u.weekly_capacity, 0) AS DECIMAL(38, 4)) AS total_utilization
FROM weekly AS w
LEFT JOIN {{users}} AS u ON u.id = w.user_id
""",
    ),
    View(
        "v_uninvoiced",
        ("time_entries", "expenses", "projects", "clients"),
        f"""
WITH open_time AS (
    SELECT
        project__id AS project_id,
        SUM(hours) AS hours,
        SUM(hours * COALESCE(billable_rate, 0)) AS amount
    FROM {{time_entries}}
    WHERE billable AND NOT is_billed
    GROUP BY project__id
),
open_expenses AS (
    SELECT project__id AS project_id, SUM(total_cost) AS amount
    FROM {{expenses}}
    WHERE billable AND NOT is_billed
    GROUP BY project__id
)
SELECT
    p.id AS project_id,
    p.name AS project_name,
    p.code AS project_code,
    p.client__id AS client_id,
    c.name AS client_name,
    c.currency,
    p.is_fixed_fee,
    CAST(COALESCE(ot.hours, 0) AS {_MONEY}) AS uninvoiced_hours,
    CAST(COALESCE(ot.amount, 0) AS {_MONEY}) AS uninvoiced_amount,
    CAST(COALESCE(oe.amount, 0) AS {_MONEY}) AS uninvoiced_expenses,
    CAST(COALESCE(ot.amount, 0) + COALESCE(oe.amount, 0) AS {_MONEY}) AS uninvoiced_total
FROM {{projects}} AS p
LEFT JOIN {{clients}} AS c ON c.id = p.client__id
LEFT JOIN open_time AS ot ON ot.project_id = p.id
LEFT JOIN open_expenses AS oe ON oe.project_id = p.id
WHERE ot.project_id IS NOT NULL OR oe.project_id IS NOT NULL
""",
    ),
    View(
        "v_invoice_aging",
        ("invoices", "clients"),
        """
WITH open_invoices AS (
    SELECT i.*, CAST(CURRENT_DATE - i.due_date AS INTEGER) AS days_past_due
    FROM {invoices} AS i
    WHERE i.state = 'open'
)
SELECT
    i.id AS invoice_id,
    i.number,
    i.client__id AS client_id,
    c.name AS client_name,
    i.currency,
    i.issue_date,
    i.due_date,
    i.amount,
    i.due_amount,
    GREATEST(i.days_past_due, 0) AS days_overdue,
    CASE
        WHEN i.days_past_due <= 0 THEN 'current'
        WHEN i.days_past_due <= 30 THEN '1-30'
        WHEN i.days_past_due <= 60 THEN '31-60'
        WHEN i.days_past_due <= 90 THEN '61-90'
        ELSE '90+'
    END AS aging_bucket
FROM open_invoices AS i
LEFT JOIN {clients} AS c ON c.id = i.client__id
""",
    ),
    View(
        "v_project_budget",
        ("projects", "clients", "time_entries", "expenses", "task_assignments", "user_assignments"),
        f"""
WITH this_month AS (
    SELECT {_MONTH_START.format(d="CURRENT_DATE")} AS month_start
),
time_spent AS (
    SELECT
        te.project__id AS project_id,
        SUM(te.hours) AS hours,
        SUM({_BILLABLE_AMOUNT.format(alias="te")}) AS fees,
        SUM(CASE WHEN te.spent_date >= m.month_start THEN te.hours ELSE 0 END) AS month_hours,
        SUM(CASE WHEN te.spent_date >= m.month_start THEN {_BILLABLE_AMOUNT.format(alias="te")} ELSE 0 END)
            AS month_fees
    FROM {{time_entries}} AS te
    CROSS JOIN this_month AS m
    GROUP BY te.project__id
),
expenses_spent AS (
    SELECT
        x.project__id AS project_id,
        SUM(x.total_cost) AS amount,
        SUM(CASE WHEN x.spent_date >= m.month_start THEN x.total_cost ELSE 0 END) AS month_amount
    FROM {{expenses}} AS x
    CROSS JOIN this_month AS m
    WHERE x.billable
    GROUP BY x.project__id
),
task_budgets AS (
    SELECT project__id AS project_id, SUM(budget) AS budget FROM {{task_assignments}} GROUP BY project__id
),
person_budgets AS (
    SELECT project__id AS project_id, SUM(budget) AS budget FROM {{user_assignments}} GROUP BY project__id
),
budgets AS (
    SELECT
        p.id AS project_id,
        p.name AS project_name,
        p.client__id AS client_id,
        c.name AS client_name,
        p.budget_by,
        CASE WHEN p.budget_by IN ('project_cost', 'task_fees') THEN 'money' ELSE 'hours' END AS budget_unit,
        p.budget_is_monthly,
        CASE p.budget_by
            WHEN 'project' THEN p.budget
            WHEN 'task' THEN COALESCE(p.budget, tb.budget)
            WHEN 'person' THEN COALESCE(p.budget, pb.budget)
            WHEN 'project_cost' THEN COALESCE(p.cost_budget, p.budget)
            WHEN 'task_fees' THEN COALESCE(p.cost_budget, p.budget, tb.budget)
        END AS budget,
        CASE
            WHEN p.budget_by IN ('project', 'task', 'person') THEN
                CASE WHEN p.budget_is_monthly THEN COALESCE(ts.month_hours, 0) ELSE COALESCE(ts.hours, 0) END
            ELSE
                CASE WHEN p.budget_is_monthly THEN COALESCE(ts.month_fees, 0) ELSE COALESCE(ts.fees, 0) END
                + CASE
                    WHEN p.budget_by <> 'project_cost' OR NOT p.cost_budget_include_expenses THEN 0
                    WHEN p.budget_is_monthly THEN COALESCE(es.month_amount, 0)
                    ELSE COALESCE(es.amount, 0)
                END
        END AS spent
    FROM {{projects}} AS p
    LEFT JOIN {{clients}} AS c ON c.id = p.client__id
    LEFT JOIN time_spent AS ts ON ts.project_id = p.id
    LEFT JOIN expenses_spent AS es ON es.project_id = p.id
    LEFT JOIN task_budgets AS tb ON tb.project_id = p.id
    LEFT JOIN person_budgets AS pb ON pb.project_id = p.id
    WHERE p.budget_by IN ('project', 'project_cost', 'task', 'task_fees', 'person')
)
SELECT
    project_id,
    project_name,
    client_id,
    client_name,
    budget_by,
    budget_unit,
    budget_is_monthly,
    CAST(budget AS {_MONEY}) AS budget,
    CAST(spent AS {_MONEY}) AS spent,
    CAST(budget - spent AS {_MONEY}) AS remaining,
    CAST(CASE WHEN budget > 0 THEN 100 * spent / budget END AS DECIMAL(38, 2)) AS percent_used
FROM budgets
""",
    ),
    View(
        "v_contractor_payouts",
        ("time_entries", "users"),
        f"""
WITH entries AS (
    SELECT
        te.user__id AS user_id,
        {_MONTH_START.format(d="te.spent_date")} AS month,
        te.hours,
        COALESCE(te.cost_rate, u.cost_rate) AS rate
    FROM {{time_entries}} AS te
    JOIN {{users}} AS u ON u.id = te.user__id
    WHERE u.is_contractor
)
SELECT
    e.user_id,
    {_USER_NAME} AS user_name,
    e.month,
    CAST(SUM(e.hours) AS {_MONEY}) AS hours,
    CAST(COALESCE(SUM(e.hours * e.rate), 0) AS {_MONEY}) AS amount,
    CAST(SUM(CASE WHEN e.rate IS NULL THEN e.hours ELSE 0 END) AS {_MONEY}) AS hours_without_rate
FROM entries AS e
JOIN {{users}} AS u ON u.id = e.user_id
GROUP BY e.user_id, u.first_name, u.last_name, e.month
""",
    ),
)

VIEW_NAMES: tuple[str, ...] = tuple(v.name for v in VIEWS)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def view_sql(view: View, dataset: str) -> str:
    """The ``CREATE OR REPLACE VIEW`` statement for ``view`` in ``dataset`` (tables qualified by the dataset)."""
    tables = {t: f"{_quote(dataset)}.{_quote(t)}" for t in view.requires}
    return f"CREATE OR REPLACE VIEW {_quote(dataset)}.{_quote(view.name)} AS{view.select.format(**tables)}"


def _destination_name(pipeline: Any) -> str:
    destination = getattr(pipeline, "destination", None)
    kind = getattr(destination, "destination_type", "") or ""
    return str(kind).rsplit(".", 1)[-1]


def _existing_tables(client: Any, dataset: str) -> set[str]:
    rows = client.execute_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        f"AND table_schema = {_literal(dataset)} AND table_type = 'BASE TABLE'"
    )
    return {r[0] for r in rows or []}


def create_views(pipeline: Any) -> list[str]:
    """Create (or replace) the analyst views in ``pipeline``'s dataset; return the names created.

    Runs on DuckDB, MotherDuck and PostgreSQL; other destinations are left alone (returns ``[]``). A view
    whose source tables are not in the dataset (e.g. only some resources were loaded, or the token may
    not read them) is skipped, and so is one the database refuses (logged as a warning); neither fails
    the call. PostgreSQL's ``CREATE OR REPLACE VIEW`` cannot change a view's columns, so when that is
    refused the old view is dropped and created anew in one transaction.
    """
    kind = _destination_name(pipeline)
    if kind not in SUPPORTED_DESTINATIONS:
        log.info("Analyst views are created on %s only; not on %s", ", ".join(SUPPORTED_DESTINATIONS), kind)
        return []
    dataset = pipeline.dataset_name
    created: list[str] = []
    with pipeline.sql_client() as client:
        existing = _existing_tables(client, dataset)
        for view in VIEWS:
            missing = [t for t in view.requires if t not in existing]
            if missing:
                log.info("View %s not created: table(s) %s not loaded", view.name, ", ".join(missing))
                continue
            statement = view_sql(view, dataset)
            try:
                client.execute_sql(statement)
            except Exception as first_error:  # PostgreSQL: the view's columns changed
                try:
                    with client.begin_transaction():
                        client.execute_sql(f"DROP VIEW IF EXISTS {_quote(dataset)}.{_quote(view.name)}")
                        client.execute_sql(statement)
                except Exception as error:
                    log.warning("View %s not created: %s (first attempt: %s)", view.name, error, first_error)
                    continue
            created.append(view.name)
    return created


def drop_views(pipeline: Any) -> list[str]:
    """Drop the analyst views from ``pipeline``'s dataset; return the names that existed.

    Call it before a full refresh on PostgreSQL: dlt drops the tables with ``DROP TABLE`` (no
    ``CASCADE``), which PostgreSQL refuses while views depend on them. DuckDB does not track view
    dependencies, so there it is optional. ``create_views`` after the load puts the views back.
    """
    kind = _destination_name(pipeline)
    if kind not in SUPPORTED_DESTINATIONS:
        return []
    dataset = pipeline.dataset_name
    with pipeline.sql_client() as client:
        if not client.has_dataset():
            return []
        rows = client.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
            f"AND table_schema = {_literal(dataset)} AND table_type = 'VIEW'"
        )
        present = {r[0] for r in rows or []}
        dropped = [name for name in VIEW_NAMES if name in present]
        for name in dropped:
            client.execute_sql(f"DROP VIEW IF EXISTS {_quote(dataset)}.{_quote(name)}")
    return dropped
