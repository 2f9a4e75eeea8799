"""Every field of reference section 5 with its JSON type; keys in Harvest's order; the type gotchas of 7.6."""

from __future__ import annotations

import re

import pytest

DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CLOCK = re.compile(r"^(1[0-2]|[1-9]):[0-5]\d(am|pm)$")

KEYS = {
    "time_entries": ["id", "spent_date", "hours", "hours_without_timer", "rounded_hours", "notes", "is_locked",
                     "locked_reason", "is_closed", "is_billed", "timer_started_at", "started_time", "ended_time",
                     "is_running", "billable", "budgeted", "billable_rate", "cost_rate", "created_at", "updated_at",
                     "user", "client", "project", "task", "user_assignment", "task_assignment", "invoice",
                     "external_reference"],
    "users": ["id", "first_name", "last_name", "email", "telephone", "timezone", "has_access_to_all_future_projects",
              "is_contractor", "is_active", "weekly_capacity", "default_hourly_rate", "cost_rate", "roles",
              "access_roles", "avatar_url", "created_at", "updated_at"],
    "clients": ["id", "name", "is_active", "address", "statement_key", "created_at", "updated_at", "currency"],
    "contacts": ["id", "title", "first_name", "last_name", "email", "phone_office", "phone_mobile", "fax",
                 "created_at", "updated_at", "client"],
    "invoices": ["id", "client_key", "number", "purchase_order", "amount", "due_amount", "tax", "tax_amount", "tax2",
                 "tax2_amount", "discount", "discount_amount", "subject", "notes", "state", "period_start",
                 "period_end", "issue_date", "due_date", "payment_term", "sent_at", "paid_at", "paid_date",
                 "closed_at", "recurring_invoice_id", "created_at", "updated_at", "currency", "payment_options",
                 "client", "estimate", "retainer", "creator", "line_items"],
    "invoice_messages": ["id", "sent_by", "sent_by_email", "sent_from", "sent_from_email",
                         "include_link_to_client_invoice", "send_me_a_copy", "thank_you", "reminder",
                         "send_reminder_on", "created_at", "updated_at", "attach_pdf", "event_type", "recipients",
                         "subject", "body"],
    "invoice_payments": ["id", "amount", "paid_at", "paid_date", "recorded_by", "recorded_by_email", "notes",
                         "transaction_id", "created_at", "updated_at", "payment_gateway"],
    "invoice_item_categories": ["id", "name", "use_as_service", "use_as_expense", "created_at", "updated_at"],
    "estimates": ["id", "client_key", "number", "purchase_order", "amount", "tax", "tax_amount", "tax2",
                  "tax2_amount", "discount", "discount_amount", "subject", "notes", "state", "issue_date", "sent_at",
                  "created_at", "updated_at", "accepted_at", "declined_at", "currency", "client", "creator",
                  "line_items"],
    "estimate_messages": ["id", "sent_by", "sent_by_email", "sent_from", "sent_from_email", "send_me_a_copy",
                          "created_at", "updated_at", "recipients", "event_type", "subject", "body"],
    "estimate_item_categories": ["id", "name", "created_at", "updated_at"],
    "expenses": ["id", "notes", "total_cost", "units", "is_closed", "is_locked", "is_billed", "locked_reason",
                 "spent_date", "created_at", "updated_at", "billable", "receipt", "user", "user_assignment", "project",
                 "expense_category", "client", "invoice"],
    "expense_categories": ["id", "name", "unit_name", "unit_price", "is_active", "created_at", "updated_at"],
    "tasks": ["id", "name", "billable_by_default", "default_hourly_rate", "is_default", "is_active", "created_at",
              "updated_at"],
    "projects": ["id", "name", "code", "is_active", "is_billable", "is_fixed_fee", "bill_by", "budget", "budget_by",
                 "budget_is_monthly", "notify_when_over_budget", "over_budget_notification_percentage",
                 "show_budget_to_all", "created_at", "updated_at", "starts_on", "ends_on",
                 "over_budget_notification_date", "notes", "cost_budget", "cost_budget_include_expenses",
                 "hourly_rate", "fee", "client"],
    "user_assignments": ["id", "is_project_manager", "is_active", "use_default_rates", "budget", "created_at",
                         "updated_at", "hourly_rate", "project", "user"],
    "task_assignments": ["id", "billable", "is_active", "created_at", "updated_at", "hourly_rate", "budget",
                         "project", "task"],
    "project_assignments": ["id", "is_project_manager", "is_active", "use_default_rates", "budget", "created_at",
                            "updated_at", "hourly_rate", "project", "client", "task_assignments"],
    "roles": ["id", "name", "created_at", "updated_at", "user_ids"],
    "billable_rates": ["id", "amount", "start_date", "end_date", "created_at", "updated_at"],
    "cost_rates": ["id", "amount", "start_date", "end_date", "created_at", "updated_at"],
    "teammates": ["id", "first_name", "last_name", "email"],
}


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


@pytest.mark.parametrize("key", sorted(KEYS))
def test_keys_in_order_and_timestamps(sim, key):
    recs = sim.records(key)
    assert recs, key
    for r in recs:
        assert list(r) == KEYS[key]
        assert isinstance(r["id"], int)
        for f in ("created_at", "updated_at"):
            if f in r:
                assert DT.match(r[f]), (key, f, r[f])
                assert r["created_at"] <= r["updated_at"] <= sim.now()


def test_time_entry_types(sim):
    recs = sim.records("time_entries")
    assert all(r["id"] > 2**31 for r in recs)  # 64-bit ids
    for r in recs:
        assert DATE.match(r["spent_date"])
        assert all(isinstance(r[f], float) for f in ("hours", "hours_without_timer", "rounded_hours"))
        for f in ("started_time", "ended_time"):
            assert r[f] is None or CLOCK.match(r[f]), r[f]
        assert r["billable_rate"] is None or _is_num(r["billable_rate"])
        assert (r["billable_rate"] is None) or r["billable"]
        assert list(r["client"]) == ["id", "name", "currency"] and list(r["project"]) == ["id", "name", "code"]
        assert list(r["user_assignment"]) == ["id", "is_project_manager", "is_active", "use_default_rates", "budget",
                                              "created_at", "updated_at", "hourly_rate"]
        assert list(r["task_assignment"]) == ["id", "billable", "is_active", "created_at", "updated_at",
                                              "hourly_rate", "budget"]
        assert r["is_running"] == (r["timer_started_at"] is not None)
        if r["is_running"]:
            assert r["ended_time"] is None and DT.match(r["timer_started_at"])
        if r["invoice"] is not None:
            assert list(r["invoice"]) == ["id", "number"] and isinstance(r["invoice"]["number"], str)
    assert any(r["is_running"] for r in recs)
    assert any(r["started_time"] is not None for r in recs)


def test_external_reference_ids_are_strings(sim):
    from harvest_source.simulator import run_simulator

    with run_simulator("tiny", seed=7) as s:
        recs = [r for seed_sim in (sim, s) for r in seed_sim.records("time_entries") if r["external_reference"]]
    assert recs, "expected some external references"
    for r in recs:
        ext = r["external_reference"]
        assert list(ext) == ["id", "group_id", "account_id", "permalink", "service", "service_icon_url"]
        assert all(isinstance(v, str) for v in ext.values())


def test_money_comes_as_int_and_float(sim):
    values = []
    for key, fields in (("invoices", ("amount", "due_amount", "tax_amount")), ("invoice_payments", ("amount",)),
                        ("billable_rates", ("amount",)), ("cost_rates", ("amount",)), ("expenses", ("total_cost",))):
        values += [r[f] for r in sim.records(key) for f in fields]
    assert all(_is_num(v) for v in values)
    assert any(type(v) is int for v in values) and any(type(v) is float for v in values)


def test_invoice_and_estimate_shapes(sim):
    for inv in sim.records("invoices"):
        assert inv["state"] in ("draft", "open", "paid", "closed")
        assert DATE.match(inv["issue_date"]) and DATE.match(inv["due_date"])
        assert inv["estimate"] is None or list(inv["estimate"]) == ["id"]
        assert list(inv["client"]) == ["id", "name"] and list(inv["creator"]) == ["id", "name"]
        for li in inv["line_items"]:
            assert list(li) == ["id", "kind", "description", "quantity", "unit_price", "amount", "taxed", "taxed2",
                                "project"]
    for est in sim.records("estimates"):
        assert est["state"] in ("draft", "sent", "accepted", "declined")
        assert "user" not in est and list(est["creator"]) == ["id", "name"]
        for li in est["line_items"]:
            assert "project" not in li
    for m in sim.records("invoice_messages"):
        assert "\r\n" in m["body"]
        assert all(list(x) == ["name", "email"] for x in m["recipients"])
    for p in sim.records("invoice_payments"):
        assert list(p["payment_gateway"]) == ["id", "name"]


def test_rates_order_and_first_rate_has_null_start(sim):
    for u in sim.records("users"):
        rates = sim.records("billable_rates", parent_id=u["id"])
        assert rates[0]["start_date"] is None
        assert rates[-1]["end_date"] is None
        starts = [r["start_date"] for r in rates[1:]]
        assert starts == sorted(starts)


def test_project_assignment_shape(sim):
    pa = sim.records("project_assignments")[0]
    assert list(pa["project"]) == ["id", "name", "code", "is_billable"]
    assert list(pa["client"]) == ["id", "name", "currency"]
    for ta in pa["task_assignments"]:
        assert list(ta) == ["id", "billable", "is_active", "created_at", "updated_at", "hourly_rate", "budget", "task"]
