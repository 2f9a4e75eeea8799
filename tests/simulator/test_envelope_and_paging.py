"""Envelope shape and order (reference 3.1), per_page (3.2), cursor and page modes (3.3)."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from sim_helpers import fetch_all

ENVELOPE_KEYS = ["per_page", "total_pages", "total_entries", "next_page", "previous_page", "page", "links"]
LINK_KEYS = ["first", "next", "previous", "last"]

LISTS = {
    "/clients": "clients", "/contacts": "contacts", "/invoices": "invoices",
    "/invoice_item_categories": "invoice_item_categories", "/estimates": "estimates",
    "/estimate_item_categories": "estimate_item_categories", "/expenses": "expenses",
    "/expense_categories": "expense_categories", "/tasks": "tasks", "/time_entries": "time_entries",
    "/projects": "projects", "/user_assignments": "user_assignments", "/task_assignments": "task_assignments",
    "/roles": "roles", "/users": "users", "/users/me/project_assignments": "project_assignments",
}
CURSOR = {"/clients", "/contacts", "/invoice_item_categories", "/estimate_item_categories", "/expense_categories",
          "/tasks", "/projects", "/user_assignments", "/task_assignments", "/roles", "/users"}


@pytest.mark.parametrize("path", sorted(LISTS))
def test_envelope_keys_in_harvest_order(client, sim, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    doc = resp.json()
    assert list(doc) == [LISTS[path], *ENVELOPE_KEYS]
    assert list(doc["links"]) == LINK_KEYS
    assert doc["per_page"] == 2000  # default = maximum
    if path != "/users/me/project_assignments":
        assert doc["total_entries"] == sim.counts()[LISTS[path]]
    assert len(doc[LISTS[path]]) == doc["total_entries"]
    assert doc["links"]["first"].startswith(sim.base_url + path + "?")


def test_nested_lists_exist_and_match_counts(client, sim):
    inv = sim.records("invoices")
    msgs = pays = 0
    for i in inv:
        msgs += len(client.get(f"/invoices/{i['id']}/messages").json()["invoice_messages"])
        pays += len(client.get(f"/invoices/{i['id']}/payments").json()["invoice_payments"])
    assert (msgs, pays) == (sim.counts()["invoice_messages"], sim.counts()["invoice_payments"])
    est = sum(len(client.get(f"/estimates/{e['id']}/messages").json()["estimate_messages"])
              for e in sim.records("estimates"))
    assert est == sim.counts()["estimate_messages"]
    users = sim.records("users")
    for key in ("project_assignments", "billable_rates", "cost_rates"):
        total = sum(client.get(f"/users/{u['id']}/{key}").json()["total_entries"] for u in users)
        assert total == sim.counts()[key]
    managers = [u for u in users if "manager" in u["access_roles"]]
    assert len(managers) >= 2
    assert sum(client.get(f"/users/{u['id']}/teammates").json()["total_entries"] for u in managers) \
        == sim.counts()["teammates"]
    projects = sim.records("projects")
    ua = sum(client.get(f"/projects/{p['id']}/user_assignments").json()["total_entries"] for p in projects)
    ta = sum(client.get(f"/projects/{p['id']}/task_assignments").json()["total_entries"] for p in projects)
    assert (ua, ta) == (sim.counts()["user_assignments"], sim.counts()["task_assignments"])


@pytest.mark.parametrize("value", ["2001", "0", "abc"])
def test_per_page_out_of_range_is_422_with_hint(client, value):
    resp = client.get("/clients", params={"per_page": value})
    assert resp.status_code == 422
    body = resp.json()
    assert list(body) == ["message"]
    assert resp.headers["hint"] == body["message"]


def test_cursor_mode_walk(client, sim):
    records, docs = fetch_all(client, "/users", {"per_page": 2, "updated_since": "2000-01-01T00:00:00Z"})
    assert [r["id"] for r in records] == [r["id"] for r in sim.records("users")]
    assert len(docs) == docs[0]["total_pages"] >= 3
    first, middle, last = docs[0], docs[1], docs[-1]
    assert (first["page"], first["next_page"], first["previous_page"]) == (1, 2, None)
    assert (middle["page"], middle["next_page"], middle["previous_page"]) == (None, None, None)
    assert middle["total_pages"] == first["total_pages"] and middle["total_entries"] == first["total_entries"]
    assert (last["page"], last["next_page"]) == (first["total_pages"], None)
    assert last["links"]["next"] is None
    nxt = urlsplit(first["links"]["next"])
    q = parse_qs(nxt.query)
    assert list(q) == ["cursor", "per_page", "ref", "updated_since"]  # sorted, filters carried
    assert q["ref"] == ["next_cursor"] and q["updated_since"] == ["2000-01-01T00:00:00Z"]
    raw = q["cursor"][0]
    decoded = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    assert decoded == {"after": {"id": first["users"][-1]["id"]}}
    assert "cursor=" in middle["links"]["previous"] and "ref=previous_cursor" in middle["links"]["previous"]
    assert first["links"]["first"].endswith("page=1&per_page=2&ref=first&updated_since=2000-01-01T00%3A00%3A00Z")
    # following previous links walks back to the first page
    back = client.get(last["links"]["previous"]).json()
    assert back["users"] == docs[-2]["users"]


def test_page_mode_walk(client, sim):
    records, docs = fetch_all(client, "/time_entries", {"per_page": 10, "is_billed": "false"})
    expected = [r["id"] for r in sim.records("time_entries") if not r["is_billed"]]
    assert [r["id"] for r in records] == expected
    for n, d in enumerate(docs, start=1):
        assert d["page"] == n
        assert d["previous_page"] == (n - 1 if n > 1 else None)
        assert d["next_page"] == (n + 1 if n < len(docs) else None)
    q = parse_qs(urlsplit(docs[0]["links"]["next"]).query)
    assert q == {"is_billed": ["false"], "page": ["2"], "per_page": ["10"], "ref": ["next"]}
    assert parse_qs(urlsplit(docs[0]["links"]["last"]).query)["page"] == [str(len(docs))]


def test_page_param_still_works_on_cursor_endpoints(client, sim):
    doc = client.get("/users", params={"per_page": 2, "page": 2}).json()
    assert doc["page"] == 2 and doc["previous_page"] == 1
    assert [u["id"] for u in doc["users"]] == [u["id"] for u in sim.records("users")[2:4]]


def test_empty_result(client):
    doc = client.get("/clients", params={"updated_since": "2100-01-01T00:00:00Z"}).json()
    assert doc["clients"] == [] and doc["total_entries"] == 0 and doc["links"]["next"] is None


def test_invalid_cursor_is_422(client):
    assert client.get("/clients", params={"cursor": "!!notacursor"}).status_code == 422


def test_single_object_gets_are_bare(client, sim):
    for key in ("clients", "contacts", "invoices", "invoice_item_categories", "estimates",
                "estimate_item_categories", "expenses", "expense_categories", "tasks", "time_entries", "projects",
                "roles", "users"):
        rec = sim.records(key)[0]
        assert client.get(f"/{key}/{rec['id']}").json() == rec
    ua = sim.records("user_assignments")[0]
    assert client.get(f"/projects/{ua['project']['id']}/user_assignments/{ua['id']}").json() == ua
    ta = sim.records("task_assignments")[0]
    assert client.get(f"/projects/{ta['project']['id']}/task_assignments/{ta['id']}").json() == ta
    uid = sim.records("users")[0]["id"]
    for key in ("billable_rates", "cost_rates"):
        rate = sim.records(key, parent_id=uid)[0]
        assert client.get(f"/users/{uid}/{key}/{rate['id']}").json() == rate
    company = client.get("/company").json()
    assert "id" not in company and company["invoice_feature"] is True
    me = client.get("/users/me").json()
    assert me["id"] == sim.admin_user_id and me["access_roles"] == ["administrator"]
    inv = sim.records("invoices")[0]
    tmpl = client.get(f"/invoices/{inv['id']}/messages/new", params={"reminder": "true"}).json()
    assert list(tmpl) == ["invoice_id", "subject", "body", "reminder", "thank_you"] and tmpl["reminder"] is True


def test_trailing_slash_and_access_token_query(client, sim):
    assert client.get("/clients/").status_code == 200
    bare = client.get("/clients", headers={"Authorization": "", "Harvest-Account-Id": ""},
                      params={"access_token": "anything", "account_id": sim.account_id})
    assert bare.status_code == 200
