"""The generated account is internally consistent (issue point 2)."""

from __future__ import annotations

from harvest_source.simulator import Simulator


def test_tiny_minimums(sim):
    c = sim.counts()
    assert c["company"] == 1 and c["clients"] >= 3 and c["invoices"] >= 3
    paid_with_payments = [i for i in sim.records("invoices") if sim.records("invoice_payments", parent_id=i["id"])]
    assert len(paid_with_payments) >= 3
    for key, n in c.items():
        assert n > 0, key


def test_references_are_consistent(sim: Simulator):
    projects = {p["id"]: p for p in sim.records("projects")}
    users = {u["id"]: u for u in sim.records("users")}
    assignments = {(a["user"]["id"], a["project"]["id"]) for a in sim.records("user_assignments")}
    tas = {(t["project"]["id"], t["task"]["id"]): t for t in sim.records("task_assignments")}
    invoices = {i["id"]: i for i in sim.records("invoices")}
    for te in sim.records("time_entries"):
        p = projects[te["project"]["id"]]
        assert p["client"]["id"] == te["client"]["id"]
        assert (te["user"]["id"], p["id"]) in assignments
        assert (p["id"], te["task"]["id"]) in tas
        assert te["task_assignment"]["id"] == tas[(p["id"], te["task"]["id"])]["id"]
        if te["is_billed"]:
            assert te["invoice"]["id"] in invoices and te["is_locked"]
            assert te["invoice"]["number"] == invoices[te["invoice"]["id"]]["number"]
            assert invoices[te["invoice"]["id"]]["client"]["id"] == te["client"]["id"]
        else:
            assert te["invoice"] is None
    for ex in sim.records("expenses"):
        assert projects[ex["project"]["id"]]["client"]["id"] == ex["client"]["id"]
        assert (ex["user"]["id"], ex["project"]["id"]) in assignments
    for role in sim.records("roles"):
        assert all(uid in users for uid in role["user_ids"])
        assert all(role["name"] in users[uid]["roles"] for uid in role["user_ids"])
    for k in sim.records("contacts"):
        assert k["client"]["id"] in {c["id"] for c in sim.records("clients")}


def test_invoices_payments_and_amounts(sim):
    for inv in sim.records("invoices"):
        pays = sim.records("invoice_payments", parent_id=inv["id"])
        paid = round(sum(p["amount"] for p in pays), 2)
        assert round(inv["amount"] - paid, 2) == round(inv["due_amount"], 2)
        if inv["state"] == "paid":
            assert paid == round(inv["amount"], 2) and inv["paid_at"] and inv["paid_date"]
            assert inv["updated_at"] >= max(p["created_at"] for p in pays)
        subtotal = round(sum(li["amount"] for li in inv["line_items"]), 2)
        total = subtotal - inv["discount_amount"] + inv["tax_amount"] + inv["tax2_amount"]
        assert abs(round(total, 2) - inv["amount"]) < 0.011
        for m in sim.records("invoice_messages", parent_id=inv["id"]):
            if not m["reminder"]:
                assert inv["updated_at"] >= m["created_at"]


def test_roles_of_users_and_managers(sim):
    users = sim.records("users")
    kinds = {tuple(u["access_roles"][:1]) for u in users}
    assert kinds == {("administrator",), ("manager",), ("member",)}
    for u in users:
        if "manager" in u["access_roles"]:
            assert sim.records("teammates", parent_id=u["id"])
