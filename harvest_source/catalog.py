"""The endpoint catalog: one row per Harvest endpoint we load. The catalog declares; the rest derives.

Each row says what Harvest serves (path, records key, permission), its **kind** (a single object, a
list, or a child listed per parent) and the **request parameters** it sends; every rule computed from
a row (write disposition, keys, dedup, replace-whole, arrow eligibility, first-load append, dlt
column hints) lives in ``rules.py``. Resources, docs (``catalog_table``), tests and benchmarks read
this table, so adding an endpoint is adding a row. It is data only and imports nothing of ours. Facts
(paths, records keys, which endpoints take ``updated_since``, permissions) come from Harvest's API v2
documentation (https://help.getharvest.com/api-v2/).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

# Column type groups. Money, hours, rates and percentages load as exact decimals;
# ``date`` strings would otherwise stay text (dlt does not detect ISO dates).
DATE = "date"
DECIMAL = "decimal"
TIMESTAMP = "timestamp"
BIGINT = "bigint"
TEXT = "text"


# Request parameters a row may send (Harvest's names).
UPDATED_SINCE = "updated_since"  # changed records only: the incremental cursor
FROM_TO = "from/to"  # a report's inclusive date window (sent as ``from`` and ``to``, YYYYMMDD)


class Kind(StrEnum):
    """The shape of an endpoint's answer, which decides how a run reads it."""

    SINGLE = "single object"  # one object, no records list (company)
    LIST = "list"  # a paged records list, account-wide
    CHILD = "child per parent"  # a paged records list under each parent of another row (``fan_out``)
    REPORT = "report over a date window"  # a paged ``results`` list per period (``from``/``to``): ``report_tables``


@dataclass(frozen=True)
class FanOut:
    """How a child endpoint hangs under a parent listing (one request per parent)."""

    parent: str  # table name of the parent endpoint (its listing feeds the children)
    parent_key: str  # column added to every child row: the parent's id
    only_if_access_role: str | None = None  # fan out only over parents having this access role
    empty_on_status: tuple[int, ...] = (404,)  # statuses that mean "this parent has no children"


@dataclass(frozen=True)
class Endpoint:
    """One Harvest endpoint and how its records land in the destination."""

    table: str  # destination table name == Harvest records key
    path: str  # relative to the base URL; ``{parent_id}`` for fan-out children
    permission: str  # the Harvest role/permission it needs, for 403 warnings
    records_key: str | None = None  # the records list's key; None for a single object
    kind: Kind = Kind.LIST
    params: tuple[str, ...] = (UPDATED_SINCE,)  # request parameters it sends
    primary_key: tuple[str, ...] = ("id",)
    fan_out: FanOut | None = None  # for ``Kind.CHILD``: the parent listing it hangs under
    columns: dict[str, str] = field(default_factory=dict)  # column -> data type
    nested: dict[str, dict[str, str]] = field(default_factory=dict)  # list field -> its column types
    timestamps: bool = True  # records carry created_at / updated_at
    dated: bool = False  # a dated fact (time, money, report periods): ``start_date`` bounds it; else loaded whole
    note: str = ""  # a word for the README's table (e.g. why this path)


_ASSIGNMENT_MONEY = {"budget": DECIMAL, "hourly_rate": DECIMAL}
_LINE_ITEM = {"quantity": DECIMAL, "unit_price": DECIMAL, "amount": DECIMAL, "project__id": BIGINT}
_INVOICE_ADMIN = "administrator, or manager with invoice permission"
_ESTIMATE_ADMIN = "administrator, or manager with estimate permission"
_USER_ADMIN = "administrator, or manager of the user's team"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "company", "company", "any authenticated user", kind=Kind.SINGLE, params=(),
        primary_key=(), timestamps=False, columns={"weekly_capacity": BIGINT},
    ),
    Endpoint(
        "clients", "clients", "administrator, or manager allowed to edit clients",
        records_key="clients", columns={"address": TEXT},
    ),
    Endpoint(
        "contacts", "contacts", "administrator, or manager allowed to edit clients",
        records_key="contacts", columns={"title": TEXT, "client__id": BIGINT},
    ),
    Endpoint(
        "invoices", "invoices", _INVOICE_ADMIN, records_key="invoices",
        dated=True,
        columns={
            "amount": DECIMAL, "due_amount": DECIMAL, "tax": DECIMAL, "tax_amount": DECIMAL,
            "tax2": DECIMAL, "tax2_amount": DECIMAL, "discount": DECIMAL, "discount_amount": DECIMAL,
            "period_start": DATE, "period_end": DATE, "issue_date": DATE, "due_date": DATE,
            "paid_date": DATE, "sent_at": TIMESTAMP, "paid_at": TIMESTAMP, "closed_at": TIMESTAMP,
            "recurring_invoice_id": BIGINT, "estimate__id": BIGINT, "retainer__id": BIGINT,
            "client__id": BIGINT, "creator__id": BIGINT,
        },
        nested={"line_items": _LINE_ITEM},
    ),
    Endpoint(
        "invoice_messages", "invoices/{parent_id}/messages", _INVOICE_ADMIN,
        records_key="invoice_messages", kind=Kind.CHILD, params=(), fan_out=FanOut("invoices", "invoice_id"),
        dated=True,
        columns={"send_reminder_on": DATE, "event_type": TEXT},
    ),
    Endpoint(
        "invoice_payments", "invoices/{parent_id}/payments", _INVOICE_ADMIN,
        records_key="invoice_payments", kind=Kind.CHILD, params=(), fan_out=FanOut("invoices", "invoice_id"),
        dated=True,
        columns={
            "amount": DECIMAL, "paid_at": TIMESTAMP, "paid_date": DATE, "transaction_id": TEXT,
            "payment_gateway__id": BIGINT, "payment_gateway__name": TEXT,
        },
    ),
    Endpoint(
        "invoice_item_categories", "invoice_item_categories", "administrator or project manager",
        records_key="invoice_item_categories",
    ),
    Endpoint(
        "estimates", "estimates", _ESTIMATE_ADMIN, records_key="estimates",
        dated=True,
        columns={
            "amount": DECIMAL, "tax": DECIMAL, "tax_amount": DECIMAL, "tax2": DECIMAL,
            "tax2_amount": DECIMAL, "discount": DECIMAL, "discount_amount": DECIMAL,
            "issue_date": DATE, "sent_at": TIMESTAMP, "accepted_at": TIMESTAMP,
            "declined_at": TIMESTAMP, "client__id": BIGINT, "creator__id": BIGINT,
        },
        nested={"line_items": {k: v for k, v in _LINE_ITEM.items() if k != "project__id"}},
    ),
    Endpoint(
        "estimate_messages", "estimates/{parent_id}/messages", _ESTIMATE_ADMIN,
        records_key="estimate_messages", kind=Kind.CHILD, params=(), fan_out=FanOut("estimates", "estimate_id"),
        dated=True,
        columns={"event_type": TEXT},
    ),
    Endpoint(
        "estimate_item_categories", "estimate_item_categories", "administrator",
        records_key="estimate_item_categories",
    ),
    Endpoint(
        "expenses", "expenses", "any user (members see only their own expenses)",
        records_key="expenses",
        dated=True,
        columns={
            "total_cost": DECIMAL, "units": DECIMAL, "spent_date": DATE, "notes": TEXT,
            "locked_reason": TEXT, "receipt__url": TEXT, "receipt__file_name": TEXT,
            "receipt__file_size": BIGINT, "receipt__content_type": TEXT,
            "expense_category__unit_price": DECIMAL, "expense_category__unit_name": TEXT,
            "user_assignment__budget": DECIMAL, "user_assignment__hourly_rate": DECIMAL,
            "invoice__id": BIGINT, "invoice__number": TEXT, "user__id": BIGINT,
            "project__id": BIGINT, "client__id": BIGINT, "expense_category__id": BIGINT,
        },
    ),
    Endpoint(
        "expense_categories", "expense_categories", "administrator",
        records_key="expense_categories", columns={"unit_price": DECIMAL, "unit_name": TEXT},
    ),
    Endpoint(
        "tasks", "tasks", "administrator, or manager allowed to edit tasks",
        records_key="tasks", columns={"default_hourly_rate": DECIMAL},
    ),
    Endpoint(
        "time_entries", "time_entries", "any user (members see only their own time)",
        records_key="time_entries",
        dated=True,
        columns={
            "spent_date": DATE, "hours": DECIMAL, "hours_without_timer": DECIMAL,
            "rounded_hours": DECIMAL, "billable_rate": DECIMAL, "cost_rate": DECIMAL,
            "notes": TEXT, "locked_reason": TEXT, "timer_started_at": TIMESTAMP,
            "started_time": TEXT, "ended_time": TEXT, "approval_status": TEXT,
            "user__id": BIGINT, "client__id": BIGINT, "project__id": BIGINT, "task__id": BIGINT,
            "project__code": TEXT,
            "user_assignment__id": BIGINT, "user_assignment__budget": DECIMAL,
            "user_assignment__hourly_rate": DECIMAL,
            "task_assignment__id": BIGINT, "task_assignment__budget": DECIMAL,
            "task_assignment__hourly_rate": DECIMAL,
            "invoice__id": BIGINT, "invoice__number": TEXT,
            "external_reference__id": TEXT, "external_reference__group_id": TEXT,
            "external_reference__account_id": TEXT, "external_reference__permalink": TEXT,
            "external_reference__service": TEXT, "external_reference__service_icon_url": TEXT,
        },
    ),
    Endpoint(
        "projects", "projects", "administrator, or manager of the projects",
        records_key="projects",
        columns={
            "budget": DECIMAL, "over_budget_notification_percentage": DECIMAL,
            "cost_budget": DECIMAL, "hourly_rate": DECIMAL, "fee": DECIMAL,
            "starts_on": DATE, "ends_on": DATE, "over_budget_notification_date": DATE,
            "code": TEXT, "notes": TEXT, "client__id": BIGINT,
        },
    ),
    Endpoint(
        "user_assignments", "user_assignments", "administrator, or manager of the projects",
        records_key="user_assignments", note="top level, never per project",
        columns={**_ASSIGNMENT_MONEY, "project__id": BIGINT, "user__id": BIGINT, "project__code": TEXT},
    ),
    Endpoint(
        "task_assignments", "task_assignments", "administrator or project manager",
        records_key="task_assignments", note="top level, never per project",
        columns={**_ASSIGNMENT_MONEY, "project__id": BIGINT, "task__id": BIGINT, "project__code": TEXT},
    ),
    Endpoint(
        "project_assignments", "users/{parent_id}/project_assignments", _USER_ADMIN,
        records_key="project_assignments", kind=Kind.CHILD, params=(), fan_out=FanOut("users", "user_id"),
        columns={**_ASSIGNMENT_MONEY, "project__id": BIGINT, "client__id": BIGINT, "project__code": TEXT},
        nested={"task_assignments": {**_ASSIGNMENT_MONEY, "task__id": BIGINT}},
    ),
    Endpoint(
        "roles", "roles", "administrator", records_key="roles", params=(),
        nested={"user_ids": {"value": BIGINT}},
    ),
    Endpoint(
        "users", "users", _USER_ADMIN, records_key="users",
        columns={"default_hourly_rate": DECIMAL, "cost_rate": DECIMAL, "weekly_capacity": BIGINT},
    ),
    Endpoint(
        "billable_rates", "users/{parent_id}/billable_rates",
        "administrator, or manager allowed to edit billable rates", records_key="billable_rates",
        kind=Kind.CHILD, params=(), fan_out=FanOut("users", "user_id"),
        columns={"amount": DECIMAL, "start_date": DATE, "end_date": DATE},
    ),
    Endpoint(
        "cost_rates", "users/{parent_id}/cost_rates", "administrator", records_key="cost_rates",
        kind=Kind.CHILD, params=(), fan_out=FanOut("users", "user_id"),
        columns={"amount": DECIMAL, "start_date": DATE, "end_date": DATE},
    ),
    Endpoint(
        "teammates", "users/{parent_id}/teammates", "administrator", records_key="teammates",
        kind=Kind.CHILD, params=(), primary_key=("user_id", "id"), timestamps=False,
        fan_out=FanOut("users", "user_id", only_if_access_role="manager", empty_on_status=(404, 422)),
    ),
)

# The Reports API (reference 4.3, 5.23): one table per report, rows per period, subject and currency.
_REPORT_KEY = ("period_start", "period_end")
_REPORT_DATES = {"period_start": DATE, "period_end": DATE, "currency": TEXT}
_TIME_METRICS = {"total_hours": DECIMAL, "billable_hours": DECIMAL, "billable_amount": DECIMAL}
_EXPENSE_METRICS = {"total_amount": DECIMAL, "billable_amount": DECIMAL}
_OWN_ROWS = "any user (members get their own rows only)"
_PROJECTS_ADMIN = "administrator, or manager of the projects"


def _report(table: str, path: str, subject: str, metrics: dict[str, str], permission: str = _OWN_ROWS,
            **columns: str) -> Endpoint:
    return Endpoint(
        table, path, permission, records_key="results", kind=Kind.REPORT, params=(FROM_TO,),
        primary_key=(*_REPORT_KEY, subject, "currency"), timestamps=False,
        dated=True,
        columns={**_REPORT_DATES, subject: BIGINT, **metrics, **columns},
    )


REPORTS: tuple[Endpoint, ...] = (
    _report("reports_time_clients", "reports/time/clients", "client_id", _TIME_METRICS),
    _report("reports_time_projects", "reports/time/projects", "project_id", _TIME_METRICS, client_id=BIGINT),
    _report("reports_time_tasks", "reports/time/tasks", "task_id", _TIME_METRICS),
    _report("reports_time_team", "reports/time/team", "user_id", _TIME_METRICS, weekly_capacity=BIGINT,
            avatar_url=TEXT),
    _report("reports_expenses_clients", "reports/expenses/clients", "client_id", _EXPENSE_METRICS),
    _report("reports_expenses_projects", "reports/expenses/projects", "project_id", _EXPENSE_METRICS,
            client_id=BIGINT),
    _report("reports_expenses_categories", "reports/expenses/categories", "expense_category_id", _EXPENSE_METRICS),
    _report("reports_expenses_team", "reports/expenses/team", "user_id", _EXPENSE_METRICS),
    _report("reports_uninvoiced", "reports/uninvoiced", "project_id",
            {"total_hours": DECIMAL, "uninvoiced_hours": DECIMAL, "uninvoiced_expenses": DECIMAL,
             "uninvoiced_amount": DECIMAL}, _PROJECTS_ADMIN, client_id=BIGINT),
    Endpoint(
        "reports_project_budget", "reports/project_budget", _PROJECTS_ADMIN, records_key="results", params=(),
        primary_key=("project_id",), timestamps=False, note="no dates: replaced whole",
        columns={"client_id": BIGINT, "budget": DECIMAL, "budget_spent": DECIMAL, "budget_remaining": DECIMAL,
                 "budget_by": TEXT},
    ),
)
ENDPOINTS = ENDPOINTS + REPORTS

BY_TABLE: dict[str, Endpoint] = {e.table: e for e in ENDPOINTS}
TABLES: tuple[str, ...] = tuple(BY_TABLE)
FAN_OUT_PARENTS: tuple[str, ...] = tuple(dict.fromkeys(e.fan_out.parent for e in ENDPOINTS if e.fan_out))


def children_of(parent: str) -> tuple[Endpoint, ...]:
    """The endpoints that fan out over ``parent``'s ids."""
    return tuple(e for e in ENDPOINTS if e.fan_out and e.fan_out.parent == parent)
