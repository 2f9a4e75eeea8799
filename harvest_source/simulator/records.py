"""Builders of Harvest records in Harvest's key order (reference section 5), shared by the generator and
mutations so that a created record looks exactly like a generated one."""

from __future__ import annotations

from typing import Any

LOCK_APPROVED = "Item Approved and Locked for this Time Period"
LOCK_INVOICED = "Item Invoiced and Locked for this Time Period"
EXPENSE_INVOICED = "Expense is invoiced."


def money(cents: int, as_int: bool) -> int | float:
    """A money value as Harvest emits it: sometimes ``100``, sometimes ``100.0`` or ``87.5``."""
    if as_int and cents % 100 == 0:
        return cents // 100
    return cents / 100


def cents(value: float | int | None) -> int:
    """Back to integer cents (values are always 2-decimal)."""
    return 0 if value is None else int(round(float(value) * 100))


def clock_time(minute_of_day: int) -> str:
    """``"9:00am"``-style time string (company clock 12h)."""
    h, m = divmod(minute_of_day % (24 * 60), 60)
    suffix = "am" if h < 12 else "pm"
    h12 = h % 12 or 12
    return f"{h12}:{m:02d}{suffix}"


def user_name(u: dict) -> str:
    return f"{u['first_name']} {u['last_name']}"


def user_ref(u: dict) -> dict:
    return {"id": u["id"], "name": user_name(u)}


def client_ref(c: dict, currency: bool = True) -> dict:
    if currency:
        return {"id": c["id"], "name": c["name"], "currency": c["currency"]}
    return {"id": c["id"], "name": c["name"]}


def project_ref(p: dict) -> dict:
    return {"id": p["id"], "name": p["name"], "code": p["code"]}


def task_ref(t: dict) -> dict:
    return {"id": t["id"], "name": t["name"]}


def ua_embed(ua: dict) -> dict:
    """The ``user_assignment`` object embedded in time entries and expenses."""
    return {
        "id": ua["id"],
        "is_project_manager": ua["is_project_manager"],
        "is_active": ua["is_active"],
        "use_default_rates": ua["use_default_rates"],
        "budget": ua["budget"],
        "created_at": ua["created_at"],
        "updated_at": ua["updated_at"],
        "hourly_rate": ua["hourly_rate"],
    }


def ta_embed(ta: dict) -> dict:
    """The ``task_assignment`` object embedded in time entries."""
    return {
        "id": ta["id"],
        "billable": ta["billable"],
        "is_active": ta["is_active"],
        "created_at": ta["created_at"],
        "updated_at": ta["updated_at"],
        "hourly_rate": ta["hourly_rate"],
        "budget": ta["budget"],
    }


def time_entry(
    *, id: int, spent_date: str, hours: float, hours_without_timer: float, rounded_hours: float,
    notes: str | None, is_locked: bool, locked_reason: str | None, is_closed: bool, is_billed: bool,
    timer_started_at: str | None, started_time: str | None, ended_time: str | None, is_running: bool,
    billable: bool, budgeted: bool, billable_rate: Any, cost_rate: Any, created_at: str, updated_at: str,
    user: dict, client: dict, project: dict, task: dict, user_assignment: dict, task_assignment: dict,
    invoice: dict | None, external_reference: dict | None,
) -> dict:
    return {
        "id": id, "spent_date": spent_date, "hours": hours, "hours_without_timer": hours_without_timer,
        "rounded_hours": rounded_hours, "notes": notes, "is_locked": is_locked, "locked_reason": locked_reason,
        "is_closed": is_closed, "is_billed": is_billed, "timer_started_at": timer_started_at,
        "started_time": started_time, "ended_time": ended_time, "is_running": is_running, "billable": billable,
        "budgeted": budgeted, "billable_rate": billable_rate, "cost_rate": cost_rate, "created_at": created_at,
        "updated_at": updated_at, "user": user, "client": client, "project": project, "task": task,
        "user_assignment": user_assignment, "task_assignment": task_assignment, "invoice": invoice,
        "external_reference": external_reference,
    }


def expense(
    *, id: int, notes: str | None, total_cost: Any, units: float, is_closed: bool, is_locked: bool,
    is_billed: bool, locked_reason: str | None, spent_date: str, created_at: str, updated_at: str,
    billable: bool, receipt: dict | None, user: dict, user_assignment: dict, project: dict,
    expense_category: dict, client: dict, invoice: dict | None,
) -> dict:
    return {
        "id": id, "notes": notes, "total_cost": total_cost, "units": units, "is_closed": is_closed,
        "is_locked": is_locked, "is_billed": is_billed, "locked_reason": locked_reason, "spent_date": spent_date,
        "created_at": created_at, "updated_at": updated_at, "billable": billable, "receipt": receipt,
        "user": user, "user_assignment": user_assignment, "project": project,
        "expense_category": expense_category, "client": client, "invoice": invoice,
    }


def invoice_message(
    *, id: int, sender: dict, thank_you: bool, reminder: bool, send_reminder_on: str | None, created_at: str,
    event_type: str | None, recipients: list[dict], subject: str, body: str, send_me_a_copy: bool = False,
    attach_pdf: bool = True,
) -> dict:
    name, email = user_name(sender), sender["email"]
    return {
        "id": id, "sent_by": name, "sent_by_email": email, "sent_from": name, "sent_from_email": email,
        "include_link_to_client_invoice": False, "send_me_a_copy": send_me_a_copy, "thank_you": thank_you,
        "reminder": reminder, "send_reminder_on": send_reminder_on, "created_at": created_at,
        "updated_at": created_at, "attach_pdf": attach_pdf, "event_type": event_type, "recipients": recipients,
        "subject": subject, "body": body,
    }


def estimate_message(
    *, id: int, sender: dict, created_at: str, event_type: str | None, recipients: list[dict], subject: str,
    body: str, send_me_a_copy: bool = False,
) -> dict:
    name, email = user_name(sender), sender["email"]
    return {
        "id": id, "sent_by": name, "sent_by_email": email, "sent_from": name, "sent_from_email": email,
        "send_me_a_copy": send_me_a_copy, "created_at": created_at, "updated_at": created_at,
        "recipients": recipients, "event_type": event_type, "subject": subject, "body": body,
    }


def payment(
    *, id: int, amount: Any, paid_at: str, paid_date: str, recorder: dict, notes: str,
    transaction_id: str | None, created_at: str, gateway: dict,
) -> dict:
    return {
        "id": id, "amount": amount, "paid_at": paid_at, "paid_date": paid_date,
        "recorded_by": user_name(recorder), "recorded_by_email": recorder["email"], "notes": notes,
        "transaction_id": transaction_id, "created_at": created_at, "updated_at": created_at,
        "payment_gateway": gateway,
    }


def rate(*, id: int, amount: Any, start_date: str | None, end_date: str | None, created_at: str,
         updated_at: str) -> dict:
    return {
        "id": id, "amount": amount, "start_date": start_date, "end_date": end_date, "created_at": created_at,
        "updated_at": updated_at,
    }


def message_body(kind: str, number: str, company: str, amount: Any, currency: str, due: str) -> str:
    """A message body with CRLF line breaks, as Harvest sends them."""
    lines = [
        "---------------------------------------------",
        f"{kind} Summary",
        "---------------------------------------------",
        f"{kind} ID: {number}",
        f"Amount: {amount} {currency}",
        f"Due: {due}",
        "",
        f"Thank you for your business, {company}.",
    ]
    return "\r\n".join(lines)
