"""The endpoint catalog matches DESIGN.md's table list and the API reference."""

from __future__ import annotations

from harvest_source import harvest_source, rules
from harvest_source.catalog import BY_TABLE, ENDPOINTS, FROM_TO, TABLES, UPDATED_SINCE, Kind
from harvest_source.settings import EPOCH

DESIGN_TABLES = [
    "company", "clients", "contacts", "invoices", "invoice_messages", "invoice_payments",
    "invoice_item_categories", "estimates", "estimate_messages", "estimate_item_categories", "expenses",
    "expense_categories", "tasks", "time_entries", "projects", "user_assignments", "task_assignments",
    "project_assignments", "roles", "users", "billable_rates", "cost_rates", "teammates",
]
REPORT_TABLES = [
    "reports_time_clients", "reports_time_projects", "reports_time_tasks", "reports_time_team",
    "reports_expenses_clients", "reports_expenses_projects", "reports_expenses_categories", "reports_expenses_team",
    "reports_uninvoiced", "reports_project_budget",
]
DIMENSIONS = ["clients", "contacts", "users", "projects", "tasks", "user_assignments", "task_assignments", "roles",
              "project_assignments", "billable_rates", "cost_rates", "teammates", "expense_categories"]


def test_every_design_table_has_exactly_one_row():
    assert sorted(TABLES) == sorted(DESIGN_TABLES + REPORT_TABLES)
    assert len(ENDPOINTS) == 33


def test_assignments_use_the_top_level_twins_never_per_project():
    assert BY_TABLE["task_assignments"].path == "task_assignments"
    assert BY_TABLE["user_assignments"].path == "user_assignments"
    assert not any(e.path.startswith("projects/") for e in ENDPOINTS)


def test_children_carry_their_parent_id_and_only_managers_have_teammates():
    parents = {e.table: (e.fan_out.parent, e.fan_out.parent_key) for e in ENDPOINTS if e.fan_out}
    assert parents == {
        "invoice_messages": ("invoices", "invoice_id"), "invoice_payments": ("invoices", "invoice_id"),
        "estimate_messages": ("estimates", "estimate_id"), "project_assignments": ("users", "user_id"),
        "billable_rates": ("users", "user_id"), "cost_rates": ("users", "user_id"),
        "teammates": ("users", "user_id"),
    }
    assert BY_TABLE["teammates"].fan_out.only_if_access_role == "manager"
    assert BY_TABLE["teammates"].primary_key == ("user_id", "id")


def test_resources_have_merge_keys_and_dispositions():
    source = harvest_source(access_token="t", account_id="1", base_url="http://127.0.0.1:9/v2")
    resources = source.resources
    assert set(TABLES) <= set(resources)
    for table in ("time_entries", "clients", "invoices", "users"):
        hints = resources[table].compute_table_schema()
        assert hints["write_disposition"] == "merge", table
        assert hints["columns"]["id"]["primary_key"], table
    payments = resources["invoice_payments"].compute_table_schema()
    assert payments["columns"]["invoice_id"].get("merge_key")
    # soft deletes: children merge on their own key (a child a re-read parent lost stays, to be marked), the
    # merge key taken off explicitly (``dlt_compat.merge_keys``); parents and other tables as in hard mode
    soft = harvest_source(access_token="t", account_id="1", base_url="http://127.0.0.1:9/v2", deletes="soft")
    soft_payments = soft.resources["invoice_payments"].compute_table_schema()
    assert not any(c.get("merge_key") for c in soft_payments["columns"].values())
    assert soft_payments["columns"]["invoice_id"]["merge_key"] is False
    assert soft_payments["columns"]["account_id"]["primary_key"] and soft_payments["columns"]["id"]["primary_key"]
    assert soft.resources["roles"].compute_table_schema()["columns"]["account_id"]["merge_key"]
    for table in TABLES:  # many accounts share each table: every key starts with the account
        hints = resources[table].compute_table_schema()
        assert hints["columns"]["account_id"]["primary_key"] and not hints["columns"]["account_id"]["nullable"]
    # tables read whole replace their account's rows only: merged with the account as merge key
    for table in ("roles", "company", "reports_project_budget"):
        hints = resources[table].compute_table_schema()
        assert hints["write_disposition"] == "merge", table
        assert {c for c in hints["columns"] if hints["columns"][c].get("merge_key")} == {"account_id"}, table
    # hidden listings feed parents and children; they never become tables
    assert not resources["invoices_listing"].selected


def test_each_row_declares_its_kind_and_params_consistently():
    for e in ENDPOINTS:
        assert (e.kind is Kind.CHILD) == (e.fan_out is not None), e.table
        assert (e.kind is Kind.SINGLE) == (e.records_key is None), e.table
        assert set(e.params) <= {UPDATED_SINCE, FROM_TO}, e.table
        assert (e.kind is Kind.REPORT) == (FROM_TO in e.params), e.table

        if e.kind is Kind.CHILD:  # children are read per parent, chosen by the listing window
            assert e.params == (), e.table
    assert [e.table for e in ENDPOINTS if e.kind is Kind.SINGLE] == ["company"]
    assert {e.table for e in ENDPOINTS if e.kind is Kind.LIST and not e.params} == {"roles", "reports_project_budget"}


def test_rules_derive_what_the_rows_used_to_say():
    def tables(rule) -> set[str]:
        return {e.table for e in ENDPOINTS if rule(e)}

    plain_lists = {"clients", "contacts", "invoice_item_categories", "estimate_item_categories", "expenses",
                   "expense_categories", "tasks", "time_entries", "projects", "user_assignments",
                   "task_assignments"}
    assert tables(rules.replaced_whole) == {"company", "roles", "reports_project_budget"}
    assert tables(rules.arrow_eligible) == plain_lists
    assert tables(rules.first_load_appendable) == plain_lists == set(rules.appendable_tables())
    assert tables(rules.incremental) == plain_lists | {"invoices", "estimates", "users"}
    assert {t for t in TABLES if not rules.dedup_sort(BY_TABLE[t])} == {"company", "teammates",
                                                                        *REPORT_TABLES}
    assert rules.merge_key(BY_TABLE["teammates"]) == ["account_id", "user_id"]
    assert rules.merge_key(BY_TABLE["users"]) is None
    assert rules.primary_key(BY_TABLE["teammates"]) == ("account_id", "user_id", "id")
    assert rules.request_params(BY_TABLE["clients"], "2024-01-01T00:00:00Z") == {UPDATED_SINCE: "2024-01-01T00:00:00Z"}
    assert rules.request_params(BY_TABLE["clients"], EPOCH) is None
    assert rules.request_params(BY_TABLE["roles"], "2024-01-01T00:00:00Z") is None


def test_report_rows_merge_on_period_and_subject_and_replace_their_period():
    source = harvest_source(access_token="t", account_id="1", base_url="http://127.0.0.1:9/v2")
    hints = source.resources["reports_time_team"].compute_table_schema()
    assert hints["write_disposition"] == "merge"
    columns = hints["columns"]
    assert {c for c in columns if columns[c].get("primary_key")} == {"account_id", "period_start", "period_end",
                                                                      "user_id", "currency"}
    assert {c for c in columns if columns[c].get("merge_key")} == {"account_id", "period_start", "period_end"}
    assert columns["period_start"]["data_type"] == "date" and columns["currency"]["data_type"] == "text"
    assert columns["billable_amount"]["data_type"] == "decimal"
    budget = source.resources["reports_project_budget"].compute_table_schema()
    assert budget["columns"]["account_id"]["merge_key"]  # read whole: replaces the account's rows


def test_start_date_bounds_dated_facts_never_dimensions():
    facts = ["time_entries", "expenses", "invoices", "estimates", "invoice_messages", "invoice_payments",
             "estimate_messages", *REPORT_TABLES[:-1]]
    assert sorted(e.table for e in ENDPOINTS if rules.bounded_by_start_date(e)) == sorted(facts)
    for table in DIMENSIONS:
        assert rules.start_bound(BY_TABLE[table], "2024-11-01T00:00:00Z") is None, table
    assert rules.start_bound(BY_TABLE["time_entries"], "2024-11-01T00:00:00Z") == "2024-11-01T00:00:00Z"
