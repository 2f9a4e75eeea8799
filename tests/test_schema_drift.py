"""Schema drift (issue 5, point 6): Harvest adds a field, drops one, or sends a value of another type.
The load goes on (a new column; nulls; dlt's variant column) and the run summary says what changed.

The simulator's ``update`` mutation refuses unknown fields and cannot remove one, so the records are
rewritten in its store (``reliability.support.drift``), with a new ``updated_at`` as Harvest would."""

from __future__ import annotations

import random

import pytest
from reliability.support import change_account, drift

from harvest_source.catalog import TABLES
from harvest_source.runner import EXIT_OK, format_summary
from harvest_source.simulator import run_simulator


@pytest.fixture
def sim():
    with run_simulator("tiny", seed=3) as simulator:
        yield simulator


def _changes(result) -> list[str]:
    return [line.removeprefix("schema change: ") for line in format_summary(result).splitlines()
            if line.startswith("schema change: ")]


def test_new_missing_and_retyped_fields_load_and_the_summary_names_them(sim, loader_for):
    loader = loader_for(sim)
    # the simulator's reports cannot sum an hours value made text ("1:30"): drift on the list endpoints only
    lists = [t for t in TABLES if not t.startswith("reports_")]
    assert loader.run(resources=lists).exit_code == EXIT_OK
    entries, clients, invoices, tasks = (sim.records(k) for k in ("time_entries", "clients", "invoices", "tasks"))
    entry, retyped_entry = entries[0]["id"], entries[1]["id"]
    invoice = invoices[0]["id"]
    # a new field: on a table read through the arrow path and on one read as dicts (with nested arrays)
    drift(sim, "time_entries", entry, add={"cost_center": "CC-7"})
    drift(sim, "invoices", invoice, add={"payment_reference": "PO-4711"}, drop=("subject",))
    # a field gone from every record that comes back (the clients are all re-read)
    for client in clients:
        drift(sim, "clients", client["id"], drop=("address",))
    # values of another type: text where a decimal was, text where a boolean was
    drift(sim, "time_entries", retyped_entry, set_={"hours": "1:30"})
    drift(sim, "tasks", tasks[0]["id"], set_={"is_active": "sometimes"})

    result = loader.run(resources=lists)
    assert result.exit_code == EXIT_OK, result.error

    # the new fields are new columns, filled where Harvest sent them, null elsewhere
    assert loader.query(f"SELECT cost_center FROM time_entries WHERE id = {entry}") == [("CC-7",)]
    assert loader.query("SELECT count(cost_center) FROM time_entries") == [(1,)]
    assert loader.query(f"SELECT payment_reference FROM invoices WHERE id = {invoice}") == [("PO-4711",)]
    # the missing fields are nulls; the rows and their other fields are there
    assert loader.query("SELECT count(*), count(address) FROM clients") == [(len(clients), 0)]
    assert loader.query(f"SELECT subject, number FROM invoices WHERE id = {invoice}") == [
        (None, invoices[0]["number"])]
    # the retyped values sit in dlt's variant columns; the typed column keeps every other value
    assert loader.query(f"SELECT hours, hours__v_text FROM time_entries WHERE id = {retyped_entry}") == [
        (None, "1:30")]
    assert loader.query("SELECT count(hours) FROM time_entries") == [(len(entries) - 1,)]
    assert loader.columns("tasks")["is_active__v_text"] == "VARCHAR"
    assert loader.count("time_entries") == len(entries)

    changes = _changes(result)
    expected = [
        "time_entries: new column cost_center (text)",
        "invoices: new column payment_reference (text)",
        "time_entries.hours: a value of type text arrived (kept in column hours__v_text)",
        "tasks.is_active: a value of type text arrived (kept in column is_active__v_text)",
    ]
    for line in expected:
        assert line in changes, changes
    gone = [c for c in changes if "no record of this run" in c]
    assert sorted(c.split(":")[0] for c in gone) == ["clients.address", "invoices.subject"], changes

    # the next run has nothing new to say
    assert _changes(loader.run()) == []


def test_ordinary_changes_report_no_schema_change(sim, loader_for):
    """The checks behind the summary lines must not cry wolf on a normal incremental run."""
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    rng = random.Random(17)
    for _ in range(3):
        change_account(sim, rng, changes=15)
        result = loader.run()
        assert result.exit_code == EXIT_OK and sum(result.rows.values()) > 0
        assert _changes(result) == []
