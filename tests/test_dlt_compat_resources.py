"""The dlt behaviour ``harvest_source/dlt_compat/resources.py`` relies on (dlt 1.31). A failure here after a
dlt upgrade means a workaround must be re-checked: removed if dlt fixed the behaviour, rewritten if it moved."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import dlt
import duckdb
import pytest

from harvest_source.dlt_compat.empty_tables import empty_tables
from harvest_source.dlt_compat.resources import (
    AfterIncremental,
    append_hints,
    current_load_id,
    is_iso_timestamp,
    parallelized,
)
from harvest_source.rules import MERGE


def _pipeline(tmp_path: Path, name: str = "compat", destination=None) -> dlt.Pipeline:
    return dlt.pipeline(pipeline_name=name, destination=destination, dataset_name="compat_data",
                        pipelines_dir=str(tmp_path / "pipelines"))


def _threaded(tmp_path: Path, after_bind: bool) -> bool:
    """Whether a resource declared ``parallelized=True`` whose function takes an incremental ran off the
    main thread (in dlt's pool)."""
    ran_off_main: list[bool] = []
    cursor = dlt.sources.incremental("n", initial_value=0)

    def rows(n: dlt.sources.incremental[int] = cursor):
        ran_off_main.append(threading.current_thread() is not threading.main_thread())
        yield [{"n": 1}]

    bound = dlt.resource(rows, name="rows", parallelized=True)()
    _pipeline(tmp_path, f"threads_{after_bind}").extract(parallelized(bound) if after_bind else bound)
    return ran_off_main == [True]


def test_binding_a_resource_drops_parallelized_and_parallelize_after_bind_restores_it(tmp_path):
    assert not _threaded(tmp_path, after_bind=False), "dlt keeps parallelized=True after binding now: " \
        "dlt_compat.resources.parallelized can go"
    assert _threaded(tmp_path, after_bind=True)


def test_after_incremental_runs_behind_the_incremental_and_a_plain_map_before_it(tmp_path):
    seen: dict[str, list[int]] = {"after": [], "map": []}

    def resource():
        cursor = dlt.sources.incremental("n", initial_value=5)

        @dlt.resource(name="numbers")
        def numbers(n: dlt.sources.incremental[int] = cursor):
            yield [{"n": i} for i in range(10)]

        def record(into: list[int]):
            def step(item):  # dlt maps a list item row by row
                into.extend(row["n"] for row in (item if isinstance(item, list) else [item]))
                return item
            return step

        r = numbers()
        r.add_map(record(seen["map"]))
        r.add_step(AfterIncremental(record(seen["after"])))
        return r

    _pipeline(tmp_path).extract(resource())
    assert seen["after"] == list(range(5, 10))  # only what the incremental let through
    assert seen["map"] == list(range(10))  # a plain map sits before the incremental: all rows


def test_an_item_hint_makes_the_table_append_clears_dedup_sort_and_a_later_one_merges_the_whole_load(
        tmp_path, caplog):
    """What ``first_load`` relies on: the hint given with an item applies to the table for the load (the
    last one wins), and ``dedup_sort: None`` clears the merge-only hint without dlt's warning."""
    file = str(tmp_path / "compat.duckdb")
    columns = {"updated_at": {"data_type": "text", "dedup_sort": "desc"}}

    def source(switch_back: bool, cleared: tuple[str, ...] = ("updated_at",)):
        @dlt.resource(name="t", primary_key="id", write_disposition=dict(MERGE), columns=columns)
        def t():
            yield dlt.mark.with_hints([{"id": 1, "updated_at": "a"}], append_hints(cleared))
            yield [{"id": 2, "updated_at": "a"}]
            if switch_back:
                merge = dlt.mark.make_hints(write_disposition=dict(MERGE),
                                            columns={"updated_at": {"name": "updated_at", "dedup_sort": "desc"}})
                yield dlt.mark.with_hints([{"id": 2, "updated_at": "b"}], merge)
        return t

    control = _pipeline(tmp_path, "control", destination=dlt.destinations.duckdb(str(tmp_path / "control.duckdb")))
    with caplog.at_level(logging.WARNING):
        control.run(source(switch_back=False, cleared=()))
    assert "dedup_sort" in caplog.text  # kept on an append table, dlt warns (and this test would see it)
    caplog.clear()

    pipeline = _pipeline(tmp_path, destination=dlt.destinations.duckdb(file))
    with caplog.at_level(logging.WARNING):
        pipeline.run(source(switch_back=False))
    table = pipeline.default_schema.tables["t"]
    assert table["write_disposition"] == "append"
    assert not table["columns"]["updated_at"].get("dedup_sort")
    assert "dedup_sort" not in caplog.text
    pipeline.run(source(switch_back=False))  # appended again: the rows are there twice
    with duckdb.connect(file) as con:
        assert con.execute("SELECT count(*) FROM compat_data.t").fetchone() == (4,)

    fresh = _pipeline(tmp_path, "fresh", destination=dlt.destinations.duckdb(str(tmp_path / "fresh.duckdb")))
    fresh.run(source(switch_back=True))
    table = fresh.default_schema.tables["t"]
    assert table["write_disposition"] == "merge" and table["columns"]["updated_at"]["dedup_sort"] == "desc"
    with duckdb.connect(str(tmp_path / "fresh.duckdb")) as con:
        assert con.execute("SELECT id, updated_at FROM compat_data.t ORDER BY id").fetchall() == [(1, "a"), (2, "b")]


def test_the_current_pipeline_and_load_id_are_known_at_extract_time_only(tmp_path):
    seen: list[tuple[str | None, str]] = []

    @dlt.resource(name="r", parallelized=True)
    def r():
        seen.append((current_load_id(), dlt.current.pipeline().pipeline_name))
        yield [{"a": 1}]

    assert current_load_id() is None
    pipeline = _pipeline(tmp_path, "extracting")
    pipeline.extract(r())
    assert seen == [(pipeline.list_extracted_load_packages()[0], "extracting")]


@pytest.mark.parametrize(("text", "typed"), [("2024-01-31T10:00:00Z", "timestamp"), ("2024-01-31", None),
                                             ("hello", None)])
def test_dlt_types_iso_timestamps_as_the_arrow_path_assumes(text, typed):
    assert is_iso_timestamp(str, text) == typed


def test_the_destination_client_tells_absent_and_empty_tables_from_tables_with_rows(tmp_path):
    """``empty_tables`` answers [] whenever dlt's client cannot be asked, so a changed reflection API
    shows here as a missing table or an empty one no longer found."""
    file = str(tmp_path / "tables.duckdb")
    pipeline = _pipeline(tmp_path, "tables", destination=dlt.destinations.duckdb(file))
    assert empty_tables(pipeline, ["full", "missing"]) == ["full", "missing"]  # nothing created yet
    pipeline.run([{"id": 1}], table_name="full")
    with duckdb.connect(file) as con:
        con.execute("CREATE TABLE compat_data.zero (id BIGINT)")
    assert empty_tables(pipeline, ["full", "zero", "missing"]) == ["missing", "zero"]
    assert empty_tables(_pipeline(tmp_path, "nowhere"), ["full"]) == []  # no destination: merge
