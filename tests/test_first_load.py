"""First loads append into empty tables; a listing that repeats a record, or a table that has rows, merges."""

from __future__ import annotations

import dataclasses
import json
import shutil

import dlt
import duckdb
import pyarrow as pa
import pytest

import harvest_source.client as client_module
from harvest_source.first_load import FirstLoads, RepeatGuard, first_load_pages
from harvest_source.rules import MERGE
from harvest_source.runner import EXIT_OK
from harvest_source.settings import STAGING_DATASET_LAYOUT
from harvest_source.simulator import run_simulator

APPENDABLE = ("clients", "contacts", "expenses", "tasks", "time_entries", "projects", "user_assignments")


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=11) as simulator:
        yield simulator


def _dispositions(loader) -> dict[str, str]:
    pipeline = dlt.attach(loader.pipeline_name, pipelines_dir=str(loader.folder / "pipelines"))
    return {name: table.get("write_disposition", "") for name, table in pipeline.default_schema.tables.items()}


def _staging_tables(loader) -> set[str]:
    staging = STAGING_DATASET_LAYOUT % "harvest_data"
    rows = loader.query(f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{staging}'")
    return {r[0] for r in rows}


def test_first_load_appends_then_merges_and_equals_a_fresh_load(sim, loader_for):
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    first = _dispositions(loader)
    assert all(first[t] == "append" for t in APPENDABLE), first
    assert first["invoices"] == "merge"  # fan-out families always merge
    assert not _staging_tables(loader) & set(APPENDABLE)  # no staging copy, no merge job

    entry = sim.records("time_entries")[0]
    sim.mutate("update", key="time_entries", id=entry["id"], fields={"notes": "changed after the first load"})
    sim.mutate("create", key="time_entries")
    sim.mutate("create", key="clients")
    assert loader.run().exit_code == EXIT_OK
    # tables that got rows are merged into; a table without changes keeps its hint until it has some
    assert {t: _dispositions(loader)[t] for t in ("time_entries", "clients")} == {"time_entries": "merge",
                                                                                  "clients": "merge"}
    assert loader.query(f"SELECT count(*) FROM time_entries WHERE id = {entry['id']}") == [(1,)]

    fresh = loader_for(sim, name="fresh")
    assert fresh.run().exit_code == EXIT_OK
    for table in APPENDABLE:
        assert loader.rows(table) == fresh.rows(table), table
        assert loader.query(f"SELECT count(*) - count(DISTINCT id) FROM {table}") == [(0,)], table


@pytest.mark.parametrize("arrow", [True, False])
def test_a_listing_that_repeats_a_record_merges_and_keeps_its_newest_version(sim, loader_for, monkeypatch, arrow):
    """Between page 1 and page 2 an entry is created at the top of the list (everything shifts down one, so
    page 1's last entry comes again on page 2) and that boundary entry is edited: the table must hold it
    once, in its edited version."""
    monkeypatch.setattr(client_module, "PER_PAGE", 25)
    expected = sim.counts()["time_entries"]
    assert expected > 50
    serve = sim.app.handle
    boundary: dict[str, int] = {}

    def handle(method, target, headers, body):
        response = serve(method, target, headers, body)
        if target.startswith("/v2/time_entries") and not boundary and response is not None:
            boundary["id"] = json.loads(response.body)["time_entries"][-1]["id"]
            sim.mutate("update", key="time_entries", id=boundary["id"], fields={"notes": "edited mid-listing"})
            sim.mutate("create", key="time_entries")
        return response

    monkeypatch.setattr(sim.app, "handle", handle)
    loader = loader_for(sim)
    result = loader.run(source_options={"arrow": arrow})
    assert result.exit_code == EXIT_OK, result.error
    assert loader.query(f"SELECT notes FROM time_entries WHERE id = {boundary['id']}") == [("edited mid-listing",)]
    assert loader.query("SELECT count(*), count(DISTINCT id) FROM time_entries") == [(expected, expected)]
    assert _dispositions(loader)["time_entries"] == "merge"
    assert _dispositions(loader)["expenses"] == "append"  # the other tables are not affected


@pytest.mark.parametrize("arrow", [True, False])
def test_a_first_load_whose_records_carry_a_list_merges(sim, loader_for, monkeypatch, arrow):
    """A list field Harvest might add to a plain table becomes a nested table; appended, it would be a load
    job apart from its root (a kill between them leaves orphans), so the table merges instead."""
    serve = sim.app.handle

    def handle(method, target, headers, body):
        response = serve(method, target, headers, body)
        if target.startswith("/v2/clients") and response is not None and response.status == 200:
            page = json.loads(response.body)
            for client in page["clients"]:
                client["tags"] = ["a", "b"]
            response = dataclasses.replace(response, body=json.dumps(page).encode())
        return response

    monkeypatch.setattr(sim.app, "handle", handle)
    loader = loader_for(sim)
    result = loader.run(resources=["clients", "contacts"], source_options={"arrow": arrow})
    assert result.exit_code == EXIT_OK, result.error
    dispositions = _dispositions(loader)
    assert dispositions["clients"] == "merge" and dispositions["contacts"] == "append"
    clients = sim.counts()["clients"]
    assert loader.query("SELECT count(*), count(DISTINCT id) FROM clients") == [(clients, clients)]
    assert loader.count("clients__tags") == 2 * clients


def test_a_table_with_rows_is_merged_into_even_when_every_cursor_is_lost(sim, loader_for):
    """The working folder and the state dlt keeps in the destination both gone: the run reads everything
    again, and the tables that have rows are merged into, never appended to."""
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    shutil.rmtree(loader.folder / "pipelines")
    with duckdb.connect(loader.file) as con:
        con.execute("DELETE FROM harvest_data._dlt_pipeline_state")
    result = loader.run()
    assert result.exit_code == EXIT_OK, result.error
    assert all(_dispositions(loader)[t] == "merge" for t in APPENDABLE)
    expected = sim.counts()
    for table in APPENDABLE:
        assert loader.query(f"SELECT count(*), count(DISTINCT id) FROM {table}") == [(expected[table],) * 2], table


def _rows(ids: list[int]) -> list[dict]:
    return [{"id": i, "notes": f"n{i}"} for i in ids]


@pytest.mark.parametrize("as_arrow", [True, False])
def test_repeat_guard_switches_to_merge_at_the_first_repeated_key(as_arrow):
    make = (lambda ids: pa.Table.from_pylist(_rows(ids))) if as_arrow else _rows
    guard = RepeatGuard("t", "id")
    out = list(guard([make([1, 2, 3]), make([4, 5]), make([5, 6]), make([6, 7])]))
    assert guard.repeated
    assert [type(o).__name__ for o in out[:2]] == [type(make([1])).__name__] * 2  # passed through as they came
    marked = out[2]
    assert marked.meta.hints["write_disposition"] == MERGE
    assert out[3] is not None and not hasattr(out[3], "meta")


def test_repeat_guard_switches_to_merge_at_the_first_record_with_a_list():
    guard = RepeatGuard("t", "id")
    out = list(guard([_rows([1]), [{"id": 2, "client": {"tags": []}}], _rows([3])]))
    assert guard.repeated and not hasattr(out[0], "meta") and hasattr(out[1], "meta")
    assert out[2] == _rows([3])


def test_repeat_guard_sees_a_key_repeated_inside_one_item_and_leaves_clean_listings_alone():
    guard = RepeatGuard("t", "id")
    out = list(guard([_rows([1, 2]), _rows([3, 3])]))
    assert guard.repeated and hasattr(out[1], "meta")
    clean = RepeatGuard("t", "id")
    assert list(clean([_rows([1, 2]), _rows([3])])) == [_rows([1, 2]), _rows([3])]
    assert not clean.repeated


def test_items_read_outside_a_pipeline_run_keep_the_declared_merge():
    """No load package, no destination to ask: the items pass as they are (the resource's merge)."""
    items = [_rows([1, 2]), _rows([2])]
    assert list(first_load_pages(iter(items), "t", "id", {}, FirstLoads(["t"]))) == items
