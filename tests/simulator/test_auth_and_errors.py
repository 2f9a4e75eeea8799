"""Auth and error answers exactly as reference 1.4; member narrowing and 403s (section 6.7)."""

from __future__ import annotations

import httpx
import pytest
from sim_helpers import MEMBER_TOKEN, UA

INVALID = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
}


def test_missing_user_agent_is_400(sim):
    with httpx.Client() as c:  # httpx adds its own User-Agent unless told otherwise
        resp = c.get(f"{sim.base_url}/clients", headers={**sim.headers(), "User-Agent": ""})
    assert resp.status_code == 400


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Harvest-Account-Id": "999"},
        {"Harvest-Account-Id": ""},
        {"Authorization": "Basic abc"},
    ],
)
def test_invalid_token_or_account_is_401(client, headers):
    resp = client.get("/clients", headers=headers)
    assert resp.status_code == 401
    assert resp.json() == INVALID
    assert list(resp.json()) == ["error", "error_description"]
    assert resp.headers["www-authenticate"].startswith('Bearer realm="Rack::OAuth2 Protected Resources"')
    assert 'error="invalid_token"' in resp.headers["www-authenticate"]


def test_fixed_admin_token_rejects_others():
    from harvest_source.simulator import run_simulator

    with run_simulator("tiny", 1, token="secret", account_id=42) as s, httpx.Client(base_url=s.base_url) as c:
        ok = c.get("/company", headers={"Authorization": "Bearer secret", "Harvest-Account-Id": "42", "User-Agent": UA})
        bad = c.get("/company", headers={"Authorization": "Bearer other", "Harvest-Account-Id": "42", "User-Agent": UA})
        assert s.account_id == 42 and s.admin_token == "secret"
    assert ok.status_code == 200 and bad.status_code == 401 and bad.json() == INVALID


@pytest.mark.parametrize(
    "path",
    ["/clients", "/contacts", "/invoices", "/estimates", "/expense_categories", "/tasks", "/projects", "/roles",
     "/users", "/user_assignments", "/task_assignments", "/invoice_item_categories", "/estimate_item_categories",
     "/reports/uninvoiced?from=20240101&to=20241201"],
)
def test_member_gets_403_on_admin_endpoints(member, path):
    resp = member.get(path)
    assert resp.status_code == 403
    assert resp.json() == {"message": "Not authorized!"}
    assert resp.headers["hint"] == "Not authorized!"


def test_member_403_on_nested_admin_lists(member, sim):
    inv = sim.records("invoices")[0]["id"]
    mgr = next(u["id"] for u in sim.records("users") if "manager" in u["access_roles"])
    for path in (f"/invoices/{inv}/messages", f"/invoices/{inv}/payments", f"/users/{mgr}/teammates",
                 f"/users/{sim.admin_user_id}/billable_rates", f"/users/{sim.admin_user_id}/cost_rates",
                 f"/users/{sim.admin_user_id}/project_assignments", f"/users/{sim.admin_user_id}"):
        assert member.get(path).status_code == 403, path


def test_member_sees_only_own_time_and_expenses(member, sim):
    me = member.get("/users/me").json()
    assert me["id"] == sim.member_user_id and me["access_roles"] == ["member"]
    for key in ("time_entries", "expenses"):
        doc = member.get(f"/{key}").json()
        own = [r for r in sim.records(key) if r["user"]["id"] == me["id"]]
        assert doc[key] == own
        assert doc["total_entries"] == len(own) < sim.counts()[key]
    assert member.get("/company").status_code == 200
    assert member.get("/users/me/project_assignments").status_code == 200
    own_pa = member.get(f"/users/{me['id']}/project_assignments").json()
    assert own_pa["project_assignments"] == sim.records("project_assignments", parent_id=me["id"])
    assert member.get(f"/users/{me['id']}").json() == me
    other = next(r for r in sim.records("time_entries") if r["user"]["id"] != me["id"])
    assert member.get(f"/time_entries/{other['id']}").status_code == 404


def test_unknown_route_is_html_404(client):
    for path in ("/nope", "/projects//user_assignments", "/clients/abc", "/invoice_messages"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.headers["content-type"].startswith("text/html")
        assert resp.text.lstrip().startswith("<!DOCTYPE html>")


def test_unknown_id_is_json_404(client):
    for path in ("/clients/1", "/invoices/1/messages", "/users/1/billable_rates", "/time_entries/99"):
        resp = client.get(path)
        assert resp.status_code == 404, path
        assert resp.json() == {"status": 404, "error": "Not Found"}
        assert resp.headers["content-type"] == "application/json; charset=UTF-8"


def test_teammates_of_non_manager_is_422(client, sim):
    non_manager = next(u for u in sim.records("users") if "manager" not in u["access_roles"])
    resp = client.get(f"/users/{non_manager['id']}/teammates")
    assert resp.status_code == 422
    assert resp.headers["hint"] == resp.json()["message"]


def test_malformed_updated_since_is_400(client):
    assert client.get("/clients", params={"updated_since": "2024-01-01 00:00:00"}).status_code == 400
    assert client.get("/time_entries", params={"from": "yesterday"}).status_code == 400


def test_member_token_constant_is_not_admin(sim):
    assert sim.member_token == MEMBER_TOKEN != sim.admin_token
