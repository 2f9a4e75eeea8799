"""Query semantics (reference 3.4 and 6): filters, inclusive updated_since, fixed ordering."""

from __future__ import annotations

import pytest


def ids(doc: dict) -> list[int]:
    key = next(iter(doc))
    return [r["id"] for r in doc[key]]


@pytest.mark.parametrize("key", ["clients", "time_entries", "invoices", "users", "user_assignments"])
def test_updated_since_is_inclusive(client, sim, key):
    recs = sim.records(key)
    stamps = sorted({r["updated_at"] for r in recs})
    pivot = stamps[len(stamps) // 2]
    got = client.get(f"/{key}", params={"updated_since": pivot}).json()
    assert ids(got) == [r["id"] for r in recs if r["updated_at"] >= pivot]
    assert any(r["updated_at"] == pivot for r in got[key])
    # offsets and fractions normalise to UTC seconds; a fraction rounds up (still inclusive on whole seconds)
    assert ids(client.get(f"/{key}", params={"updated_since": pivot.replace("Z", "+00:00")}).json()) == ids(got)
    later = ids(client.get(f"/{key}", params={"updated_since": pivot.replace("Z", ".5Z")}).json())
    assert later == [r["id"] for r in recs if r["updated_at"] > pivot]


def test_roles_ignore_updated_since(client, sim):
    assert client.get("/roles", params={"updated_since": "2100-01-01T00:00:00Z"}).json()["total_entries"] == \
        sim.counts()["roles"]


def test_is_active_filter_and_default_returns_both(client, sim):
    for key in ("projects", "users", "tasks", "user_assignments"):
        recs = sim.records(key)
        assert {r["is_active"] for r in recs} == {True, False}, key
        active = ids(client.get(f"/{key}", params={"is_active": "true"}).json())
        archived = ids(client.get(f"/{key}", params={"is_active": "false"}).json())
        assert active == [r["id"] for r in recs if r["is_active"]]
        assert archived == [r["id"] for r in recs if not r["is_active"]]


def test_project_assignments_are_active_only(sim):
    ua_active = {r["id"] for r in sim.records("user_assignments") if r["is_active"]}
    assert {r["id"] for r in sim.records("project_assignments")} == ua_active


def test_time_entry_filters(client, sim):
    recs = sim.records("time_entries")
    e = recs[len(recs) // 2]
    cases = {
        "user_id": lambda r, v: r["user"]["id"] == v,
        "client_id": lambda r, v: r["client"]["id"] == v,
        "project_id": lambda r, v: r["project"]["id"] == v,
        "task_id": lambda r, v: r["task"]["id"] == v,
    }
    for param, pred in cases.items():
        v = e[param.replace("_id", "")]["id"]
        assert ids(client.get("/time_entries", params={param: v}).json()) == [r["id"] for r in recs if pred(r, v)]
    for flag in ("is_billed", "is_running"):
        got = ids(client.get("/time_entries", params={flag: "true"}).json())
        assert got == [r["id"] for r in recs if r[flag]] and got
    frm, to = sorted([recs[10]["spent_date"], recs[-10]["spent_date"]])
    got = ids(client.get("/time_entries", params={"from": frm, "to": to}).json())
    assert got == [r["id"] for r in recs if frm <= r["spent_date"] <= to]


def test_external_reference_filter():
    from sim_helpers import client_for

    from harvest_source.simulator import run_simulator

    with run_simulator("tiny", seed=7) as s, client_for(s) as c:
        with_ref = [r for r in s.records("time_entries") if r["external_reference"]]
        ref = with_ref[0]["external_reference"]["id"]
        got = c.get("/time_entries", params={"external_reference_id": ref}).json()
        assert [r["id"] for r in got["time_entries"]] == [r["id"] for r in with_ref
                                                           if r["external_reference"]["id"] == ref]


def test_invoice_and_estimate_filters(client, sim):
    invs = sim.records("invoices")
    for state in ("paid", "open", "draft"):
        got = ids(client.get("/invoices", params={"state": state}).json())
        assert got == [i["id"] for i in invs if i["state"] == state]
    cid = invs[0]["client"]["id"]
    assert ids(client.get("/invoices", params={"client_id": cid}).json()) == \
        [i["id"] for i in invs if i["client"]["id"] == cid]
    pid = next(li["project"]["id"] for i in invs for li in i["line_items"] if li["project"])
    assert ids(client.get("/invoices", params={"project_id": pid}).json()) == \
        [i["id"] for i in invs if any(li["project"] and li["project"]["id"] == pid for li in i["line_items"])]
    frm = invs[len(invs) // 2]["issue_date"]
    got = ids(client.get("/invoices", params={"from": frm}).json())
    assert got == [i["id"] for i in invs if i["issue_date"] >= frm]
    ests = sim.records("estimates")
    got = ids(client.get("/estimates", params={"state": "accepted"}).json())
    assert got == [e["id"] for e in ests if e["state"] == "accepted"]


def test_expense_filters(client, sim):
    recs = sim.records("expenses")
    uid = recs[0]["user"]["id"]
    assert ids(client.get("/expenses", params={"user_id": uid}).json()) == [r["id"] for r in recs
                                                                             if r["user"]["id"] == uid]
    assert ids(client.get("/expenses", params={"is_billed": "false"}).json()) == [r["id"] for r in recs
                                                                                  if not r["is_billed"]]


def test_documented_ordering(sim):
    te = sim.records("time_entries")
    assert [(r["spent_date"], r["id"]) for r in te] == sorted(((r["spent_date"], r["id"]) for r in te), reverse=True)
    for key in ("invoices", "estimates"):
        recs = sim.records(key)
        assert [r["issue_date"] for r in recs] == sorted((r["issue_date"] for r in recs), reverse=True)
    ex = sim.records("expenses")
    assert [r["spent_date"] for r in ex] == sorted((r["spent_date"] for r in ex), reverse=True)
    for key in ("clients", "contacts", "projects", "tasks", "users", "roles", "user_assignments", "task_assignments",
                "expense_categories", "invoice_item_categories", "estimate_item_categories"):
        recs = sim.records(key)
        created = [r["created_at"] for r in recs]
        assert created == sorted(created, reverse=True), key
    for inv in sim.records("invoices"):
        for child in ("invoice_messages", "invoice_payments"):
            created = [m["created_at"] for m in sim.records(child, parent_id=inv["id"])]
            assert created == sorted(created, reverse=True)
