"""Change over time (issue point 6): mutations, their side effects, the clock and the parent-bump switch."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sim_helpers import client_for

from harvest_source.simulator import Simulator, run_simulator


@pytest.fixture()
def fresh() -> Iterator[tuple[Simulator, httpx.Client]]:
    """A fresh tiny account per test: mutations must not leak between tests."""
    with run_simulator("tiny", seed=2) as s, client_for(s) as c:
        yield s, c


def _open_invoice(sim: Simulator) -> dict:
    return next(i for i in sim.records("invoices") if i["state"] in ("open", "draft") and i["due_amount"] > 1)


def _changed_since(client: httpx.Client, path: str, since: str) -> list[int]:
    doc = client.get(path, params={"updated_since": since}).json()
    return [r["id"] for r in doc[next(iter(doc))]]


def test_every_mutation_advances_the_clock(fresh):
    sim, _ = fresh
    t0 = sim.now()
    res = sim.mutate("update", key="clients", id=sim.records("clients")[0]["id"], fields={"name": "Renamed"})
    assert res["now"] == sim.now() > t0
    assert sim.records("clients")[0]["updated_at"] == sim.now()
    assert sim.advance_clock(3600) > res["now"]


def test_partial_then_full_payment(fresh):
    sim, client = fresh
    inv = _open_invoice(sim)
    before = sim.now()
    half = round(inv["due_amount"] / 2, 2)
    res = sim.mutate("add_payment", invoice_id=inv["id"], amount=half)
    pay_id = res["id"]
    got = client.get(f"/invoices/{inv['id']}").json()
    assert abs(got["due_amount"] - round(inv["due_amount"] - half, 2)) < 0.005
    assert got["state"] == "open" and got["updated_at"] == sim.now() > before
    payments = client.get(f"/invoices/{inv['id']}/payments", params={"updated_since": sim.now()}).json()
    assert [p["id"] for p in payments["invoice_payments"]] == [pay_id]
    assert payments["invoice_payments"][0]["created_at"] == got["updated_at"]  # recorded Harvest behaviour
    sim.mutate("add_payment", invoice_id=inv["id"])  # the rest
    paid = client.get(f"/invoices/{inv['id']}").json()
    assert paid["state"] == "paid" and paid["due_amount"] == 0 and paid["paid_date"] and paid["paid_at"] == sim.now()
    total = sum(p["amount"] for p in sim.records("invoice_payments", parent_id=inv["id"]))
    assert round(total, 2) == round(paid["amount"], 2)
    with pytest.raises(ValueError):
        sim.mutate("add_payment", invoice_id=inv["id"], amount=1)


def test_reminder_never_touches_invoice_normal_message_bumps(fresh):
    sim, client = fresh
    inv = next(i for i in sim.records("invoices") if i["state"] == "open")
    sim.mutate("add_invoice_message", invoice_id=inv["id"], reminder=True)
    assert client.get(f"/invoices/{inv['id']}").json() == inv
    assert len(sim.records("invoice_messages", parent_id=inv["id"])) >= 1
    sim.mutate("add_invoice_message", invoice_id=inv["id"], thank_you=True)
    assert client.get(f"/invoices/{inv['id']}").json()["updated_at"] == sim.now()


def test_switch_off_children_never_bump(fresh):
    sim, client = fresh
    sim.child_bumps_parent = False
    inv = _open_invoice(sim)
    since = sim.now()
    sim.mutate("add_payment", invoice_id=inv["id"], amount=1)
    sim.mutate("add_invoice_message", invoice_id=inv["id"], thank_you=True)
    after = client.get(f"/invoices/{inv['id']}").json()
    assert after["updated_at"] == inv["updated_at"]  # harsh mode: the parent looks unchanged...
    assert abs(after["due_amount"] - (inv["due_amount"] - 1)) < 0.005  # ...although its due amount moved
    assert inv["id"] not in _changed_since(client, "/invoices", since)
    assert len(_changed_since(client, f"/invoices/{inv['id']}/payments", since)) == 1
    est = sim.records("estimates")[0]
    sim.mutate("add_estimate_message", estimate_id=est["id"], event_type="view")
    assert client.get(f"/estimates/{est['id']}").json()["updated_at"] == est["updated_at"]


def test_estimate_message_events(fresh):
    sim, client = fresh
    est = sim.records("estimates")[0]
    sim.mutate("add_estimate_message", estimate_id=est["id"], event_type="accept")
    got = client.get(f"/estimates/{est['id']}").json()
    assert got["state"] == "accepted" and got["accepted_at"] == got["updated_at"] == sim.now()
    msgs = client.get(f"/estimates/{est['id']}/messages").json()["estimate_messages"]
    assert msgs[0]["event_type"] == "accept"


def test_rate_change_does_not_touch_user(fresh):
    sim, client = fresh
    uid = sim.member_user_id
    user_before = client.get(f"/users/{uid}").content
    rates_before = sim.records("billable_rates", parent_id=uid)
    res = sim.mutate("change_rate", user_id=uid, which="billable", amount=175)
    assert client.get(f"/users/{uid}").content == user_before
    rates = client.get(f"/users/{uid}/billable_rates").json()["billable_rates"]
    assert len(rates) == len(rates_before) + 1
    assert rates[-1]["id"] == res["id"] and rates[-1]["amount"] == 175 and rates[-1]["end_date"] is None
    assert rates[-1]["start_date"] == sim.now()[:10]
    assert rates[-2]["end_date"] is not None and rates[-2]["end_date"] < rates[-1]["start_date"]
    assert uid not in _changed_since(client, "/users", sim.now())


def test_invoicing_time_entries_marks_them_billed(fresh):
    sim, client = fresh
    inv = sim.records("invoices")[0]
    entries = [t["id"] for t in sim.records("time_entries") if not t["is_billed"] and not t["is_running"]][:3]
    since = sim.now()
    sim.mutate("invoice_time_entries", invoice_id=inv["id"], time_entry_ids=entries)
    assert sorted(_changed_since(client, "/time_entries", sim.now())) == sorted(entries)
    for tid in entries:
        te = client.get(f"/time_entries/{tid}").json()
        assert te["is_billed"] and te["is_locked"] and te["invoice"] == {"id": inv["id"], "number": inv["number"]}
        assert te["updated_at"] > since


def test_delete_vanishes_with_children(fresh):
    sim, client = fresh
    counts = sim.counts()
    inv = next(i for i in sim.records("invoices") if sim.records("invoice_payments", parent_id=i["id"]))
    billed = [t["id"] for t in sim.records("time_entries") if t["invoice"] and t["invoice"]["id"] == inv["id"]]
    res = sim.mutate("delete", key="invoices", id=inv["id"])
    assert client.get(f"/invoices/{inv['id']}").status_code == 404
    assert client.get(f"/invoices/{inv['id']}/payments").status_code == 404
    assert inv["id"] not in [i["id"] for i in client.get("/invoices").json()["invoices"]]
    after = sim.counts()
    assert after["invoices"] == counts["invoices"] - 1
    assert after["invoice_payments"] == counts["invoice_payments"] - len(res["deleted"]["invoice_payments"])
    for tid in billed:
        te = client.get(f"/time_entries/{tid}").json()
        assert te["invoice"] is None and not te["is_billed"]
    client_rec = sim.records("clients")[-1]
    sim.mutate("delete", key="clients", id=client_rec["id"])
    assert client.get(f"/clients/{client_rec['id']}").status_code == 404
    # deleting a payment re-opens a paid invoice
    paid = next(i for i in sim.records("invoices") if i["state"] == "paid")
    pay = sim.records("invoice_payments", parent_id=paid["id"])[0]
    sim.mutate("delete", key="invoice_payments", id=pay["id"])
    reopened = client.get(f"/invoices/{paid['id']}").json()
    assert reopened["state"] == "open" and abs(reopened["due_amount"] - pay["amount"]) < 0.005


def test_create_records_with_consistent_references(fresh):
    sim, client = fresh
    counts = sim.counts()
    max_id = max(t["id"] for t in sim.records("time_entries"))
    res = sim.mutate("create", key="time_entries", user_id=sim.member_user_id, fields={"notes": "new"})
    te = client.get(f"/time_entries/{res['id']}").json()
    assert te["id"] > max_id and te["notes"] == "new" and te["created_at"] == te["updated_at"] == sim.now()
    assert te["user"]["id"] == sim.member_user_id
    project = client.get(f"/projects/{te['project']['id']}").json()
    assert project["client"]["id"] == te["client"]["id"]
    assert sim.counts()["time_entries"] == counts["time_entries"] + 1
    first = client.get("/time_entries", params={"per_page": 1}).json()["time_entries"][0]
    assert first["id"] == te["id"]  # today's entry, newest id
    new_client = sim.mutate("create", key="clients", fields={"name": "Brand New Co"})
    assert client.get("/clients").json()["clients"][0]["id"] == new_client["id"]  # creation order, newest first
    inv = sim.mutate("create", key="invoices", client_id=new_client["id"], amount=250)
    assert client.get(f"/clients/{new_client['id']}").json()["updated_at"] == sim.now()
    assert client.get(f"/invoices/{inv['id']}").json()["due_amount"] == 250
    ua = sim.mutate("create", key="user_assignments", user_id=sim.member_user_id)
    assert ua["id"] in [p["id"] for p in sim.records("project_assignments", parent_id=sim.member_user_id)]
    for key in ("contacts", "projects", "tasks", "users", "roles", "expense_categories", "invoice_item_categories",
                "estimate_item_categories", "task_assignments", "expenses", "estimates"):
        res = sim.mutate("create", key=key)
        assert res["id"] in [r["id"] for r in sim.records(key)], key
    pay = sim.mutate("create", key="invoice_payments", parent_id=inv["id"], amount=50)
    assert pay["id"] in [p["id"] for p in sim.records("invoice_payments", parent_id=inv["id"])]


def test_update_and_derived_project_assignments(fresh):
    sim, client = fresh
    ua = next(u for u in sim.records("user_assignments")
              if u["is_active"] and u["user"]["id"] == sim.member_user_id)
    sim.mutate("update", key="user_assignments", id=ua["id"], fields={"is_active": False})
    pas = client.get(f"/users/{sim.member_user_id}/project_assignments").json()["project_assignments"]
    assert ua["id"] not in [p["id"] for p in pas]
    with pytest.raises(ValueError):
        sim.mutate("update", key="clients", id=sim.records("clients")[0]["id"], fields={"no_such_field": 1})
    with pytest.raises(KeyError):
        sim.mutate("update", key="clients", id=1, fields={})


def test_stop_timer(fresh):
    sim, client = fresh
    running = next(t for t in sim.records("time_entries") if t["is_running"])
    sim.advance_clock(1800)
    sim.mutate("stop_timer", time_entry_id=running["id"])
    te = client.get(f"/time_entries/{running['id']}").json()
    assert not te["is_running"] and te["timer_started_at"] is None and te["hours"] > running["hours"]
    assert te["ended_time"] is not None


def test_mutate_over_http_and_random(fresh):
    sim, client = fresh
    base = sim.base_url[: -len("/v2")]
    inv = _open_invoice(sim)
    resp = httpx.post(f"{base}/__sim__/mutate", json={"kind": "add_payment", "invoice_id": inv["id"], "amount": 1})
    assert resp.status_code == 200 and resp.json()["created"]["invoice_payments"]
    bad = httpx.post(f"{base}/__sim__/mutate", json={"kind": "nope"})
    assert bad.status_code == 422
    since = sim.now()
    changed = sim.mutate_random(fraction=0.1, seed=5)
    for key in ("clients", "projects", "users", "time_entries", "expenses", "invoices", "estimates", "tasks"):
        assert changed.get(key), key
    assert sorted(_changed_since(client, "/time_entries", sim.now())) == sorted(changed["time_entries"])
    assert set(_changed_since(client, "/clients", since)) >= set(changed["clients"])
    counts = httpx.get(f"{base}/__sim__/counts").json()
    assert counts == sim.counts()


def test_orderings_stay_exact_after_many_changes(fresh):
    sim, client = fresh
    entries = sim.records("time_entries")
    sim.mutate("update", key="time_entries", id=entries[-1]["id"], fields={"spent_date": "2024-12-01"})
    for i in range(5):
        sim.mutate("create", key="time_entries", spent_date=f"2024-11-2{i}")
        sim.mutate("delete", key="time_entries", id=entries[i * 3]["id"])
        sim.mutate("create", key="invoices")
        sim.mutate("add_payment", invoice_id=_open_invoice(sim)["id"], amount=1)
    for key, table in sim.store.tables.items():
        assert table.ordered() == sorted(table.rows.values(), key=table.sort_key), key
    served = client.get("/time_entries").json()["time_entries"]
    assert [(t["spent_date"], t["id"]) for t in served] == sorted(((t["spent_date"], t["id"]) for t in served),
                                                                 reverse=True)
    assert served == sim.records("time_entries")


def test_control_clock_and_config(fresh):
    sim, _ = fresh
    base = sim.base_url[: -len("/v2")]
    cfg = httpx.get(f"{base}/__sim__/config").json()
    assert cfg["base_url"] == sim.base_url and cfg["account_id"] == sim.account_id
    before = httpx.get(f"{base}/__sim__/clock").json()["now"]
    after = httpx.post(f"{base}/__sim__/clock", json={"advance": 86400}).json()["now"]
    assert after > before and after == sim.now()
    changed = httpx.post(f"{base}/__sim__/mutate_random", json={"fraction": 0.05, "seed": 1}).json()
    assert changed["time_entries"]


def test_an_update_with_touch_false_keeps_updated_at_and_changes_the_reports(fresh):
    """The control ``harvest-dlt --verify`` is tested with: a change no ``updated_since`` listing shows."""
    sim, client = fresh
    entry = sim.records("time_entries")[0]
    day = entry["spent_date"]
    report = {"from": day, "to": day}
    before = client.get("/reports/time/projects", params=report).json()["results"]
    hours = {r["project_id"]: r["total_hours"] for r in before}[entry["project"]["id"]]
    sim.mutate("update", key="time_entries", id=entry["id"], fields={"hours": entry["hours"] + 1}, touch=False)
    got = client.get(f"/time_entries/{entry['id']}").json()
    assert got["updated_at"] == entry["updated_at"] and got["hours"] == entry["hours"] + 1
    assert client.get("/time_entries", params={"updated_since": sim.now()}).json()["time_entries"] == []
    after = client.get("/reports/time/projects", params=report).json()["results"]
    assert {r["project_id"]: r["total_hours"] for r in after}[entry["project"]["id"]] == round(hours + 1, 2)
