"""Views of people's time: entries with current names, weekly utilization, contractor payouts.

- ``v_time_entries``: one row per time entry with current names. ``billable_amount`` = hours x
  ``billable_rate`` for billable entries and 0 for non-billable ones (also 0 when a billable entry has no
  rate), so it always sums; in the client's ``currency``. ``cost_amount`` = hours x the entry's
  ``cost_rate``, NULL when Harvest recorded no cost rate (unknown, not free).
- ``v_utilization_weekly``: per user and week. Weeks start on ``company.week_start_day`` (Saturday, Sunday
  or Monday; Monday when unknown). ``capacity_hours`` = ``users.weekly_capacity`` / 3600 (the user's
  current capacity: Harvest keeps no history of it). ``utilization`` = billable hours / capacity hours
  (a fraction, 0.85 = 85 %; NULL for a zero capacity); ``total_utilization`` = all hours / capacity hours.
  Only weeks in which the user tracked time appear.
- ``v_contractor_payouts``: per contractor (``users.is_contractor``) and calendar month (``month`` = its
  first day): all hours, billable or not, and ``amount`` = sum of hours x the entry's ``cost_rate``,
  falling back to the user's current ``users.cost_rate`` when the entry has none; hours with neither
  rate are in ``hours_without_rate`` and add nothing to ``amount``.

Every view starts with ``account_id``; users, weeks and months are per account (the week start is each
account's own ``company.week_start_day``). Hours are Harvest's ``hours`` (not ``rounded_hours``).
"""

from __future__ import annotations

from .base import BILLABLE_AMOUNT, MONEY, MONTH_START, USER_NAME, View

V_TIME_ENTRIES = View(
    "v_time_entries",
    ("time_entries", "users", "clients", "projects", "tasks"),
    f"""
SELECT
    te.account_id,
    te.id,
    te.spent_date,
    te.user__id AS user_id,
    {USER_NAME} AS user_name,
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
    CAST({BILLABLE_AMOUNT.format(alias="te")} AS {MONEY}) AS billable_amount,
    CAST(te.hours * te.cost_rate AS {MONEY}) AS cost_amount,
    c.currency
FROM {{time_entries}} AS te
LEFT JOIN {{users}} AS u ON u.account_id = te.account_id AND u.id = te.user__id
LEFT JOIN {{clients}} AS c ON c.account_id = te.account_id AND c.id = te.client__id
LEFT JOIN {{projects}} AS p ON p.account_id = te.account_id AND p.id = te.project__id
LEFT JOIN {{tasks}} AS t ON t.account_id = te.account_id AND t.id = te.task__id
""",
)


V_UTILIZATION_WEEKLY = View(
    "v_utilization_weekly",
    ("time_entries", "users", "company"),
    f"""
WITH week_setting AS (
    SELECT
        co.account_id,
        CASE MAX(co.week_start_day) WHEN 'Sunday' THEN 0 WHEN 'Saturday' THEN 6 ELSE 1 END AS start_dow
    FROM {{company}} AS co
    GROUP BY co.account_id
),
entries AS (
    SELECT
        te.account_id,
        te.user__id AS user_id,
        te.spent_date - (CAST(EXTRACT(DOW FROM te.spent_date) AS INTEGER) - COALESCE(ws.start_dow, 1) + 7) % 7
            AS week_start,
        te.hours,
        CASE WHEN te.billable THEN te.hours ELSE 0 END AS billable_hours
    FROM {{time_entries}} AS te
    LEFT JOIN week_setting AS ws ON ws.account_id = te.account_id
),
weekly AS (
    SELECT account_id, user_id, week_start, SUM(hours) AS hours, SUM(billable_hours) AS billable_hours
    FROM entries
    GROUP BY account_id, user_id, week_start
)
SELECT
    w.account_id,
    w.week_start,
    w.week_start + 6 AS week_end,
    w.user_id,
    {USER_NAME} AS user_name,
    u.is_contractor,
    CAST(w.hours AS {MONEY}) AS hours,
    CAST(w.billable_hours AS {MONEY}) AS billable_hours,
    CAST(CAST(u.weekly_capacity AS {MONEY}) / 3600 AS DECIMAL(38, 4)) AS capacity_hours,
    CAST(w.billable_hours * 3600 / NULLIF(u.weekly_capacity, 0) AS DECIMAL(38, 4)) AS utilization,
    CAST(w.hours * 3600 / NULLIF(u.weekly_capacity, 0) AS DECIMAL(38, 4)) AS total_utilization
FROM weekly AS w
LEFT JOIN {{users}} AS u ON u.account_id = w.account_id AND u.id = w.user_id
""",
)


V_CONTRACTOR_PAYOUTS = View(
    "v_contractor_payouts",
    ("time_entries", "users"),
    f"""
WITH entries AS (
    SELECT
        te.account_id,
        te.user__id AS user_id,
        {MONTH_START.format(d="te.spent_date")} AS month,
        te.hours,
        COALESCE(te.cost_rate, u.cost_rate) AS rate
    FROM {{time_entries}} AS te
    JOIN {{users}} AS u ON u.account_id = te.account_id AND u.id = te.user__id
    WHERE u.is_contractor
)
SELECT
    e.account_id,
    e.user_id,
    {USER_NAME} AS user_name,
    e.month,
    CAST(SUM(e.hours) AS {MONEY}) AS hours,
    CAST(COALESCE(SUM(e.hours * e.rate), 0) AS {MONEY}) AS amount,
    CAST(SUM(CASE WHEN e.rate IS NULL THEN e.hours ELSE 0 END) AS {MONEY}) AS hours_without_rate
FROM entries AS e
JOIN {{users}} AS u ON u.account_id = e.account_id AND u.id = e.user_id
GROUP BY e.account_id, e.user_id, u.first_name, u.last_name, e.month
""",
)
