"""Views of money: what can be invoiced, what is owed, what was paid, and project budgets.

- ``v_uninvoiced``: per project with billable time or expenses not invoiced yet (``billable`` and not
  ``is_billed``): ``uninvoiced_hours``, ``uninvoiced_amount`` (hours x billable rate of that time),
  ``uninvoiced_expenses`` (``total_cost`` of those expenses), ``uninvoiced_total`` (amount + expenses).
  Running timers count with the hours tracked so far.
- ``v_invoice_aging``: invoices in state ``open``; ``days_overdue`` = ``CURRENT_DATE - due_date``, at
  least 0; ``aging_bucket`` ``current`` (not yet due, or due today), ``1-30``, ``31-60``, ``61-90``, ``90+``.
- ``v_invoice_payments``: one row per payment recorded against an invoice: ``amount``, the invoice's
  ``number`` (``invoice_number``), client and ``currency`` (a payment is in its invoice's currency; Harvest
  does not repeat it on the payment), ``paid_date`` and ``month`` (the first day of its month).
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

Every view starts with ``account_id``; projects, invoices and budgets are per account. Hours are Harvest's
``hours`` (not ``rounded_hours``).
"""

from __future__ import annotations

from .base import BILLABLE_AMOUNT, MONEY, MONTH_START, View

V_UNINVOICED = View(
    "v_uninvoiced",
    ("time_entries", "expenses", "projects", "clients"),
    f"""
WITH open_time AS (
    SELECT
        te.account_id,
        te.project__id AS project_id,
        SUM(te.hours) AS hours,
        SUM(te.hours * COALESCE(te.billable_rate, 0)) AS amount
    FROM {{time_entries}} AS te
    WHERE te.billable AND NOT te.is_billed
    GROUP BY te.account_id, te.project__id
),
open_expenses AS (
    SELECT x.account_id, x.project__id AS project_id, SUM(x.total_cost) AS amount
    FROM {{expenses}} AS x
    WHERE x.billable AND NOT x.is_billed
    GROUP BY x.account_id, x.project__id
)
SELECT
    p.account_id,
    p.id AS project_id,
    p.name AS project_name,
    p.code AS project_code,
    p.client__id AS client_id,
    c.name AS client_name,
    c.currency,
    p.is_fixed_fee,
    CAST(COALESCE(ot.hours, 0) AS {MONEY}) AS uninvoiced_hours,
    CAST(COALESCE(ot.amount, 0) AS {MONEY}) AS uninvoiced_amount,
    CAST(COALESCE(oe.amount, 0) AS {MONEY}) AS uninvoiced_expenses,
    CAST(COALESCE(ot.amount, 0) + COALESCE(oe.amount, 0) AS {MONEY}) AS uninvoiced_total
FROM {{projects}} AS p
LEFT JOIN {{clients}} AS c ON c.account_id = p.account_id AND c.id = p.client__id
LEFT JOIN open_time AS ot ON ot.account_id = p.account_id AND ot.project_id = p.id
LEFT JOIN open_expenses AS oe ON oe.account_id = p.account_id AND oe.project_id = p.id
WHERE ot.project_id IS NOT NULL OR oe.project_id IS NOT NULL
""",
)


V_INVOICE_AGING = View(
    "v_invoice_aging",
    ("invoices", "clients"),
    """
WITH open_invoices AS (
    SELECT i.*, CAST(CURRENT_DATE - i.due_date AS INTEGER) AS days_past_due
    FROM {invoices} AS i
    WHERE i.state = 'open'
)
SELECT
    i.account_id,
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
LEFT JOIN {clients} AS c ON c.account_id = i.account_id AND c.id = i.client__id
""",
)


V_INVOICE_PAYMENTS = View(
    "v_invoice_payments",
    ("invoice_payments", "invoices", "clients"),
    f"""
SELECT
    ip.account_id,
    ip.id AS payment_id,
    ip.invoice_id,
    i.number AS invoice_number,
    i.client__id AS client_id,
    c.name AS client_name,
    CAST(ip.amount AS {MONEY}) AS amount,
    i.currency,
    ip.paid_date,
    {MONTH_START.format(d="ip.paid_date")} AS month
FROM {{invoice_payments}} AS ip
LEFT JOIN {{invoices}} AS i ON i.account_id = ip.account_id AND i.id = ip.invoice_id
LEFT JOIN {{clients}} AS c ON c.account_id = i.account_id AND c.id = i.client__id
""",
)


V_PROJECT_BUDGET = View(
    "v_project_budget",
    ("projects", "clients", "time_entries", "expenses", "task_assignments", "user_assignments"),
    f"""
WITH this_month AS (
    SELECT {MONTH_START.format(d="CURRENT_DATE")} AS month_start
),
time_spent AS (
    SELECT
        te.account_id,
        te.project__id AS project_id,
        SUM(te.hours) AS hours,
        SUM({BILLABLE_AMOUNT.format(alias="te")}) AS fees,
        SUM(CASE WHEN te.spent_date >= m.month_start THEN te.hours ELSE 0 END) AS month_hours,
        SUM(CASE WHEN te.spent_date >= m.month_start THEN {BILLABLE_AMOUNT.format(alias="te")} ELSE 0 END)
            AS month_fees
    FROM {{time_entries}} AS te
    CROSS JOIN this_month AS m
    GROUP BY te.account_id, te.project__id
),
expenses_spent AS (
    SELECT
        x.account_id,
        x.project__id AS project_id,
        SUM(x.total_cost) AS amount,
        SUM(CASE WHEN x.spent_date >= m.month_start THEN x.total_cost ELSE 0 END) AS month_amount
    FROM {{expenses}} AS x
    CROSS JOIN this_month AS m
    WHERE x.billable
    GROUP BY x.account_id, x.project__id
),
task_budgets AS (
    SELECT ta.account_id, ta.project__id AS project_id, SUM(ta.budget) AS budget
    FROM {{task_assignments}} AS ta
    GROUP BY ta.account_id, ta.project__id
),
person_budgets AS (
    SELECT ua.account_id, ua.project__id AS project_id, SUM(ua.budget) AS budget
    FROM {{user_assignments}} AS ua
    GROUP BY ua.account_id, ua.project__id
),
budgets AS (
    SELECT
        p.account_id,
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
    LEFT JOIN {{clients}} AS c ON c.account_id = p.account_id AND c.id = p.client__id
    LEFT JOIN time_spent AS ts ON ts.account_id = p.account_id AND ts.project_id = p.id
    LEFT JOIN expenses_spent AS es ON es.account_id = p.account_id AND es.project_id = p.id
    LEFT JOIN task_budgets AS tb ON tb.account_id = p.account_id AND tb.project_id = p.id
    LEFT JOIN person_budgets AS pb ON pb.account_id = p.account_id AND pb.project_id = p.id
    WHERE p.budget_by IN ('project', 'project_cost', 'task', 'task_fees', 'person')
)
SELECT
    account_id,
    project_id,
    project_name,
    client_id,
    client_name,
    budget_by,
    budget_unit,
    budget_is_monthly,
    CAST(budget AS {MONEY}) AS budget,
    CAST(spent AS {MONEY}) AS spent,
    CAST(budget - spent AS {MONEY}) AS remaining,
    CAST(CASE WHEN budget > 0 THEN 100 * spent / budget END AS DECIMAL(38, 2)) AS percent_used
FROM budgets
""",
)
