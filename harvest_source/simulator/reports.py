"""Report endpoints (reference 4.3): rows aggregated per subject *and currency*, under ``results``.

Computed from the same time entries and expenses the list endpoints serve, so a test can check a report
against the raw data. Results are cached until the next change to the store.
"""

from __future__ import annotations

from datetime import date

from .http_types import ApiError, Request, bad_request
from .query import parse_bool, parse_date
from .store import Store

TIME_REPORTS = ("clients", "projects", "tasks", "team")
EXPENSE_REPORTS = ("clients", "projects", "categories", "team")
MAX_DAYS = 365  # (to - from) in days; a 366-day leap-year window fails as recorded


def date_range(req: Request) -> tuple[str, str]:
    """Required ``from``/``to``; more than a year apart is 400 "Invalid timeframe"."""
    q = req.query
    missing = [n for n in ("from", "to") if not q.get(n)]
    if missing:
        raise ApiError(bad_request(f"Missing required parameter: {missing[0]}"))
    start, end = parse_date(q["from"], "from"), parse_date(q["to"], "to")
    delta = (date.fromisoformat(end) - date.fromisoformat(start)).days
    if delta < 0:
        raise ApiError(bad_request("Invalid timeframe: from must not be after to"))
    if delta > MAX_DAYS:
        raise ApiError(bad_request("Invalid timeframe: must not exceed 1 year"))
    return start, end


def _r2(x: float) -> float:
    return round(x + 0.0, 2)


def _project_label(p: dict) -> str:
    return f"[{p['code']}] {p['name']}" if p.get("code") else p["name"]


_NAME_KEYS = ("project_name", "client_name", "task_name", "user_name", "expense_category_name")


def _sorted(rows: list[dict]) -> list[dict]:
    """Reports have no documented order; ours is by subject name, then currency, then id (deterministic)."""

    def key(row: dict) -> tuple:
        name = next(row[k] for k in _NAME_KEYS if k in row)
        ident = next(row[k] for k in row if k.endswith("_id"))
        return (name, row.get("currency", ""), ident or 0)

    return sorted(rows, key=key)


def time_report(store: Store, kind: str, start: str, end: str, fixed_fee: bool, user: int | None) -> list[dict]:
    projects, clients = store.objs("projects"), store.objs("clients")
    tasks, users = store.objs("tasks"), store.objs("users")
    acc: dict[tuple, list[float]] = {}
    for r in store.tables["time_entries"].ordered():
        if r.date > end:
            continue
        if r.date < start:
            break  # ordered by spent_date desc
        if user is not None and r.user_id != user:
            continue
        p = projects.get(r.project_id)
        if not fixed_fee and p is not None and p["is_fixed_fee"]:
            continue
        hours, billable, rate, currency = r.extra
        subject = {"clients": r.client_id, "projects": r.project_id, "tasks": r.task_id, "team": r.user_id}[kind]
        a = acc.setdefault((subject, currency), [0.0, 0.0, 0.0])
        a[0] += hours
        if billable:
            a[1] += hours
            a[2] += hours * rate
    rows = []
    for (subject, currency), (total, bill_h, amount) in acc.items():
        metrics = {"total_hours": _r2(total), "billable_hours": _r2(bill_h), "currency": currency,
                   "billable_amount": _r2(amount)}
        if kind == "clients":
            c = clients.get(subject, {"name": ""})
            row = {"client_id": subject, "client_name": c["name"], **metrics}
        elif kind == "projects":
            p = projects.get(subject)
            c = clients.get(p["client"]["id"], {"id": None, "name": ""}) if p else {"id": None, "name": ""}
            row = {"project_id": subject, "project_name": _project_label(p) if p else "",
                   "client_id": p["client"]["id"] if p else None, "client_name": c["name"], **metrics}
        elif kind == "tasks":
            t = tasks.get(subject, {"name": ""})
            row = {"task_id": subject, "task_name": t["name"], **metrics}
        else:
            u = users.get(subject)
            row = {"user_id": subject, "user_name": f"{u['first_name']} {u['last_name']}" if u else "",
                   "is_contractor": bool(u and u["is_contractor"]), **metrics,
                   "weekly_capacity": u["weekly_capacity"] if u else 0, "avatar_url": u["avatar_url"] if u else ""}
        rows.append(row)
    return _sorted(rows)


def expense_report(store: Store, kind: str, start: str, end: str, user: int | None) -> list[dict]:
    projects, clients = store.objs("projects"), store.objs("clients")
    cats, users = store.objs("expense_categories"), store.objs("users")
    acc: dict[tuple, list[float]] = {}
    for r in store.tables["expenses"].ordered():
        if r.date > end:
            continue
        if r.date < start:
            break
        if user is not None and r.user_id != user:
            continue
        cost, billable, currency, cat_id = r.extra
        subject = {"clients": r.client_id, "projects": r.project_id, "categories": cat_id, "team": r.user_id}[kind]
        a = acc.setdefault((subject, currency), [0.0, 0.0])
        a[0] += cost
        if billable:
            a[1] += cost
    rows = []
    for (subject, currency), (total, billable) in acc.items():
        metrics = {"total_amount": _r2(total), "billable_amount": _r2(billable), "currency": currency}
        if kind == "clients":
            row = {"client_id": subject, "client_name": clients.get(subject, {"name": ""})["name"], **metrics}
        elif kind == "projects":
            p = projects.get(subject)
            cid = p["client"]["id"] if p else None
            row = {"client_id": cid, "client_name": clients.get(cid, {"name": ""})["name"], "project_id": subject,
                   "project_name": _project_label(p) if p else "", **metrics}
        elif kind == "categories":
            row = {"expense_category_id": subject,
                   "expense_category_name": cats.get(subject, {"name": ""})["name"], **metrics}
        else:
            u = users.get(subject)
            row = {"user_id": subject, "user_name": f"{u['first_name']} {u['last_name']}" if u else "",
                   "is_contractor": bool(u and u["is_contractor"]), **metrics}
        rows.append(row)
    return _sorted(rows)


def uninvoiced_report(store: Store, start: str, end: str, fixed_fee: bool) -> list[dict]:
    projects, clients = store.objs("projects"), store.objs("clients")
    acc: dict[int, list[float]] = {}
    for r in store.tables["time_entries"].ordered():
        if r.date > end:
            continue
        if r.date < start:
            break
        hours, billable, rate, currency = r.extra
        a = acc.setdefault(r.project_id, [0.0, 0.0, 0.0, 0.0])
        a[0] += hours
        if billable and not r.is_billed:
            a[1] += hours
            a[3] += hours * rate
    for r in store.tables["expenses"].ordered():
        if r.date > end:
            continue
        if r.date < start:
            break
        cost, billable, currency, _ = r.extra
        if billable and not r.is_billed:
            a = acc.setdefault(r.project_id, [0.0, 0.0, 0.0, 0.0])
            a[2] += cost
            a[3] += cost
    rows = []
    for pid, (total, unh, unexp, amount) in acc.items():
        p = projects.get(pid)
        if p is None or (not fixed_fee and p["is_fixed_fee"]):
            continue
        c = clients.get(p["client"]["id"], {"name": "", "currency": "USD"})
        rows.append({
            "client_id": p["client"]["id"], "client_name": c["name"], "project_id": pid, "project_name": p["name"],
            "currency": c["currency"], "total_hours": _r2(total), "uninvoiced_hours": _r2(unh),
            "uninvoiced_expenses": _r2(unexp), "uninvoiced_amount": _r2(amount),
        })
    rows.sort(key=lambda x: (x["client_name"], x["project_name"], x["project_id"]))
    return rows


def project_budget_report(store: Store, is_active: bool | None) -> list[dict]:
    projects, clients = store.objs("projects"), store.objs("clients")
    spent: dict[int, list[float]] = {}
    for r in store.tables["time_entries"].rows.values():
        hours, _billable, rate, _cur = r.extra
        a = spent.setdefault(r.project_id, [0.0, 0.0])
        a[0] += hours
        a[1] += hours * rate
    rows = []
    for p in projects.values():
        if p["budget_by"] == "none" or p["budget"] is None:
            continue
        if is_active is not None and p["is_active"] != is_active:
            continue
        hours, money = spent.get(p["id"], [0.0, 0.0])
        used = money if p["budget_by"] in ("project_cost", "task_fees") else hours
        c = clients.get(p["client"]["id"], {"name": ""})
        rows.append({
            "project_id": p["id"], "project_name": p["name"], "client_id": p["client"]["id"],
            "client_name": c["name"], "budget_is_monthly": p["budget_is_monthly"], "budget_by": p["budget_by"],
            "is_active": p["is_active"], "budget": p["budget"], "budget_spent": _r2(used),
            "budget_remaining": _r2(float(p["budget"]) - used),
        })
    rows.sort(key=lambda x: (x["client_name"], x["project_name"], x["project_id"]))
    return rows


def include_fixed_fee(req: Request) -> bool:
    raw = req.query.get("include_fixed_fee")
    value = parse_bool(raw) if raw is not None else None
    return True if value is None else value
