"""The rotating child sweep over real HTTP: a change that does not touch its parent is loaded within a day
for a live parent and within verify_days for a cold one, without re-reading every parent each day; after
the cycle the tables equal a fresh full load."""

from __future__ import annotations

import re

import pendulum

from harvest_source.rotation import due_slots, hour_index, slot
from harvest_source.runner import EXIT_OK
from harvest_source.simulator import run_simulator

CHILD_OF_INVOICE = re.compile(r"^/v2/invoices/\d+/")


def _at(moment: pendulum.DateTime, loader):
    return loader.run(source_options={"sweep_now": moment.isoformat()})


def _invoice_requests(stats: dict) -> int:
    return sum(n for path, n in stats["by_path"].items() if CHILD_OF_INVOICE.match(path))


def test_unbumped_child_changes_arrive_within_their_class_cycle(loader_for) -> None:
    # far after the simulated data: no parent counts as live for having changed in the last 30 days
    start = pendulum.datetime(2031, 1, 5, 8, 15, tz="UTC")
    with run_simulator(scale="tiny", seed=11) as sim:
        loader = loader_for(sim)
        assert _at(start, loader).exit_code == EXIT_OK
        first_day = due_slots(hour_index(start), hour_index(start.add(days=1)), 168)
        assert first_day is not None
        cold = next(i for i in sim.records("invoices")
                    if i["state"] == "paid" and slot(i["id"], 168) not in first_day)
        user = next(u for u in sim.records("users") if u["is_active"])
        sim.mutate("add_invoice_message", invoice_id=cold["id"], reminder=True)  # never bumps the invoice
        sim.mutate("change_rate", user_id=user["id"], which="billable", amount=321)  # never bumps the user

        sim.reset_stats()
        assert _at(start.add(days=1), loader).exit_code == EXIT_OK
        assert loader.query(f"SELECT count(*) FROM billable_rates WHERE user_id = {user['id']} AND amount = 321") \
            == [(1,)]  # a live parent: within a day
        reminders = f"SELECT count(*) FROM invoice_messages WHERE invoice_id = {cold['id']}"
        assert loader.query(reminders)[0][0] == len(sim.records("invoice_messages", cold["id"])) - 1
        invoices = len(sim.records("invoices"))
        assert _invoice_requests(sim.stats()) < 2 * invoices  # not every invoice's children again

        assert _at(start.add(days=7), loader).exit_code == EXIT_OK
        assert loader.query(reminders)[0][0] == len(sim.records("invoice_messages", cold["id"]))

        fresh = loader_for(sim, name="fresh")
        assert _at(start.add(days=7), fresh).exit_code == EXIT_OK
        for table in loader.tables():
            if not table.startswith("reports_"):
                assert loader.rows(table) == fresh.rows(table), f"{table} differs"


def test_a_manager_who_stops_being_one_loses_their_teammates(loader_for) -> None:
    """Harvest has teammates only for managers (422 otherwise), so they are never asked for a member: the
    deletion pass drops the teammates a user had while a manager, at the run that sees the role change."""
    with run_simulator(scale="tiny", seed=11) as sim:
        loader = loader_for(sim)
        assert loader.run().exit_code == EXIT_OK
        had = loader.query("SELECT user_id, count(*) FROM teammates GROUP BY 1 ORDER BY 2 DESC LIMIT 1")
        assert had and had[0][1] > 0
        manager = had[0][0]
        sim.mutate("update", key="users", id=manager, fields={"access_roles": ["member"]})
        assert loader.run().exit_code == EXIT_OK
        assert loader.query(f"SELECT count(*) FROM teammates WHERE user_id = {manager}") == [(0,)]
        fresh = loader_for(sim, name="fresh")
        assert fresh.run().exit_code == EXIT_OK
        assert loader.rows("teammates") == fresh.rows("teammates")
