"""The /v2 routes: which paths exist, which filters and pagination mode each honours, who may call it.

Modelled from the reference (section 4), not from the connector's catalog. Handlers run after
authentication and rate limiting; they only read the store (under its lock).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from . import reports
from .auth import Principal
from .http_types import (
    ApiError,
    Request,
    Response,
    forbidden,
    html_not_found,
    json_response,
    not_found_json,
    unprocessable,
)
from .query import apply_filters, carried_params, envelope_from_bytes, paginate, parse_bool, parse_filters
from .store import Row, Store


@dataclass(frozen=True)
class ListSpec:
    table: str  # store table == records key
    mode: str  # "cursor" | "page"
    filters: tuple[str, ...]
    admin_only: bool = True
    narrow: bool = False  # members silently see only their own rows


_US = "updated_since"
TOP_LEVEL: dict[str, ListSpec] = {
    "clients": ListSpec("clients", "cursor", ("is_active", _US)),
    "contacts": ListSpec("contacts", "cursor", ("client_id", _US)),
    "invoices": ListSpec("invoices", "page", ("client_id", "project_id:in", _US, "from", "to", "state")),
    "invoice_item_categories": ListSpec("invoice_item_categories", "cursor", (_US,)),
    "estimates": ListSpec("estimates", "page", ("client_id", _US, "from", "to", "state")),
    "estimate_item_categories": ListSpec("estimate_item_categories", "cursor", (_US,)),
    "expenses": ListSpec(
        "expenses", "page", ("user_id", "client_id", "project_id", "is_billed", _US, "from", "to"),
        admin_only=False, narrow=True,
    ),
    "expense_categories": ListSpec("expense_categories", "cursor", ("is_active", _US)),
    "tasks": ListSpec("tasks", "cursor", ("is_active", _US)),
    "time_entries": ListSpec(
        "time_entries", "page",
        ("user_id", "client_id", "project_id", "task_id", "external_reference_id", "is_billed", "is_running", _US,
         "from", "to"),
        admin_only=False, narrow=True,
    ),
    "projects": ListSpec("projects", "cursor", ("is_active", "client_id", _US)),
    "user_assignments": ListSpec("user_assignments", "cursor", ("user_id", "is_active", _US)),
    "task_assignments": ListSpec("task_assignments", "cursor", ("is_active", _US)),
    "roles": ListSpec("roles", "cursor", ()),  # updated_since is not supported: ignored
    "users": ListSpec("users", "cursor", ("is_active", _US)),
}
# (parent collection, child segment) -> spec of the nested list
NESTED: dict[tuple[str, str], ListSpec] = {
    ("invoices", "messages"): ListSpec("invoice_messages", "cursor", (_US,)),
    ("invoices", "payments"): ListSpec("invoice_payments", "cursor", (_US,)),
    ("estimates", "messages"): ListSpec("estimate_messages", "cursor", (_US,)),
    ("projects", "user_assignments"): ListSpec("user_assignments", "page", ("user_id", "is_active", _US)),
    ("projects", "task_assignments"): ListSpec("task_assignments", "page", ("is_active", _US)),
    ("users", "project_assignments"): ListSpec("project_assignments", "cursor", (_US,), admin_only=False),
    ("users", "billable_rates"): ListSpec("billable_rates", "cursor", ()),
    ("users", "cost_rates"): ListSpec("cost_rates", "cursor", ()),
    ("users", "teammates"): ListSpec("teammates", "cursor", ()),
}
# single-object GETs /v2/{collection}/{id}
SINGLE = (
    "clients", "contacts", "invoices", "invoice_item_categories", "estimates", "estimate_item_categories",
    "expenses", "expense_categories", "tasks", "time_entries", "projects", "roles", "users",
)
NARROWED = ("time_entries", "expenses")

_ID = r"(\d+)"
_TOP = "|".join(TOP_LEVEL)
_NESTED_PARENT = "invoices|estimates|projects|users"
_NESTED_CHILD = "messages|payments|user_assignments|task_assignments|project_assignments|billable_rates|" \
                "cost_rates|teammates"


class Api:
    """Dispatches an authenticated /v2 request to its handler."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.routes: list[tuple[re.Pattern, Callable[..., Response]]] = [
            (re.compile(r"^/v2/company$"), self.company),
            (re.compile(r"^/v2/users/me$"), self.me),
            (re.compile(r"^/v2/users/me/project_assignments$"), self.my_project_assignments),
            (re.compile(rf"^/v2/({_TOP})$"), self.top_level),
            (re.compile(rf"^/v2/({'|'.join(SINGLE)})/{_ID}$"), self.single),
            (re.compile(rf"^/v2/invoices/{_ID}/messages/new$"), self.message_template),
            (re.compile(rf"^/v2/({_NESTED_PARENT})/{_ID}/({_NESTED_CHILD})$"), self.nested),
            (re.compile(rf"^/v2/projects/{_ID}/(user_assignments|task_assignments)/{_ID}$"), self.nested_single),
            (re.compile(rf"^/v2/users/{_ID}/(billable_rates|cost_rates)/{_ID}$"), self.nested_single_user),
            (re.compile(r"^/v2/reports/time/(clients|projects|tasks|team)$"), self.time_report),
            (re.compile(r"^/v2/reports/expenses/(clients|projects|categories|team)$"), self.expense_report),
            (re.compile(r"^/v2/reports/uninvoiced$"), self.uninvoiced_report),
            (re.compile(r"^/v2/reports/project_budget$"), self.project_budget_report),
        ]

    def dispatch(self, req: Request) -> Response:
        path = req.path
        for pattern, handler in self.routes:
            m = pattern.match(path)
            if m:
                try:
                    with self.store.lock:
                        return handler(req, *m.groups())
                except ApiError as err:
                    return err.response
        return html_not_found()

    # -- helpers ------------------------------------------------------------------------------------
    @staticmethod
    def _admin(req: Request) -> None:
        p: Principal = req.principal
        if not p.is_admin:
            raise ApiError(forbidden())

    def _rows(self, spec: ListSpec, parent: int | None, filters: tuple, narrow_user: int | None) -> list[Row]:
        store = self.store

        def compute() -> list[Row]:
            table = store.table(spec.table)
            rows = table.ordered() if parent is None else table.children(parent)
            if narrow_user is not None:
                rows = [r for r in rows if r.user_id == narrow_user]
            return apply_filters(rows, filters)

        return store.cached(("list", spec.table, parent, filters, narrow_user), compute)

    def _list(self, req: Request, spec: ListSpec, parent: int | None = None, records_key: str | None = None,
              honour: tuple[str, ...] | None = None) -> Response:
        accepted = spec.filters if honour is None else honour
        filters = parse_filters(req.query, accepted)
        narrow = req.principal.user_id if spec.narrow and not req.principal.is_admin else None
        rows = self._rows(spec, parent, filters, narrow)
        order = self.store.tables[spec.table].order
        return paginate(req, records_key or spec.table, rows, mode=spec.mode,
                        carried=carried_params(req.query, accepted), order=order)

    def _need_parent(self, table: str, row_id: int) -> None:
        if self.store.row(table, row_id) is None:
            raise ApiError(not_found_json())

    # -- handlers -----------------------------------------------------------------------------------
    def company(self, req: Request) -> Response:
        return Response(200, self.store.company_bytes)

    def me(self, req: Request) -> Response:
        row = self.store.row("users", req.principal.user_id)
        if row is None:
            raise ApiError(not_found_json())
        return Response(200, row.data)

    def my_project_assignments(self, req: Request) -> Response:
        spec = ListSpec("project_assignments", "page", (), admin_only=False)
        return self._list(req, spec, parent=req.principal.user_id)

    def top_level(self, req: Request, collection: str) -> Response:
        spec = TOP_LEVEL[collection]
        if spec.admin_only:
            self._admin(req)
        return self._list(req, spec)

    def single(self, req: Request, collection: str, raw_id: str) -> Response:
        p: Principal = req.principal
        row_id = int(raw_id)
        if collection == "users" and row_id == p.user_id:
            pass
        elif collection not in NARROWED:
            self._admin(req)
        row = self.store.row(collection, row_id)
        if row is None or (collection in NARROWED and not p.is_admin and row.user_id != p.user_id):
            raise ApiError(not_found_json())
        return Response(200, row.data)

    def message_template(self, req: Request, raw_id: str) -> Response:
        self._admin(req)
        inv = self.store.obj("invoices", int(raw_id))
        if inv is None:
            raise ApiError(not_found_json())
        thank_you = bool(parse_bool(req.query.get("thank_you", "false")))
        reminder = bool(parse_bool(req.query.get("reminder", "false")))
        company = self.store.company.get("name", "")
        if thank_you:
            subject = f"Thank you for your payment of invoice #{inv['number']}"
        elif reminder:
            subject = f"Reminder: Invoice #{inv['number']} from {company}"
        else:
            subject = f"Invoice #{inv['number']} from {company}"
        body = (f"---------------------------------------------\r\nInvoice Summary\r\n"
                f"---------------------------------------------\r\nInvoice ID: {inv['number']}\r\n"
                f"Amount: {inv['due_amount']} {inv['currency']}\r\nDue: {inv['due_date']}")
        return json_response({"invoice_id": inv["id"], "subject": subject, "body": body, "reminder": reminder,
                              "thank_you": thank_you})

    def nested(self, req: Request, parent_collection: str, raw_id: str, child: str) -> Response:
        spec = NESTED.get((parent_collection, child))
        if spec is None:
            return html_not_found()
        parent_id = int(raw_id)
        p: Principal = req.principal
        if spec.table == "project_assignments":
            if parent_id != p.user_id:
                self._admin(req)
        else:
            self._admin(req)
        self._need_parent(parent_collection, parent_id)
        if spec.table == "teammates":
            user = self.store.objs("users")[parent_id]
            if "manager" not in user["access_roles"]:
                raise ApiError(unprocessable("Teammates can only be listed for users with the manager role"))
        return self._list(req, spec, parent=parent_id)

    def nested_single(self, req: Request, raw_pid: str, child: str, raw_id: str) -> Response:
        self._admin(req)
        row = self.store.row(child, int(raw_id))
        if row is None or row.parent != int(raw_pid):
            raise ApiError(not_found_json())
        return Response(200, row.data)

    def nested_single_user(self, req: Request, raw_uid: str, child: str, raw_id: str) -> Response:
        self._admin(req)
        row = self.store.row(child, int(raw_id))
        if row is None or row.parent != int(raw_uid):
            raise ApiError(not_found_json())
        return Response(200, row.data)

    # -- reports ------------------------------------------------------------------------------------
    def _report(self, req: Request, cache_key: tuple, compute: Callable[[], list[dict]],
                carried: tuple[str, ...]) -> Response:
        from ._json import dumps

        def build() -> list[Row]:
            out = []
            for i, item in enumerate(compute()):
                r = Row()
                r.id = i
                r.data = dumps(item)
                out.append(r)
            return out

        rows = self.store.cached(("report", *cache_key), build)
        return paginate(req, "results", rows, mode="page", carried=carried_params(req.query, carried))

    def time_report(self, req: Request, kind: str) -> Response:
        start, end = reports.date_range(req)
        fixed = reports.include_fixed_fee(req)
        user = None if req.principal.is_admin else req.principal.user_id
        return self._report(req, ("time", kind, start, end, fixed, user),
                            lambda: reports.time_report(self.store, kind, start, end, fixed, user),
                            ("from", "to", "include_fixed_fee"))

    def expense_report(self, req: Request, kind: str) -> Response:
        start, end = reports.date_range(req)
        user = None if req.principal.is_admin else req.principal.user_id
        return self._report(req, ("expenses", kind, start, end, user),
                            lambda: reports.expense_report(self.store, kind, start, end, user), ("from", "to"))

    def uninvoiced_report(self, req: Request) -> Response:
        self._admin(req)
        start, end = reports.date_range(req)
        fixed = reports.include_fixed_fee(req)
        return self._report(req, ("uninvoiced", start, end, fixed),
                            lambda: reports.uninvoiced_report(self.store, start, end, fixed),
                            ("from", "to", "include_fixed_fee"))

    def project_budget_report(self, req: Request) -> Response:
        self._admin(req)
        raw = req.query.get("is_active")
        active = parse_bool(raw) if raw is not None else None
        return self._report(req, ("budget", active), lambda: reports.project_budget_report(self.store, active),
                            ("is_active",))


__all__ = ["Api", "NESTED", "TOP_LEVEL", "envelope_from_bytes"]
