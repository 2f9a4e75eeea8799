"""The arrow path (harvest_source/arrow_pages.py) loads exactly the tables the row path loads.

Same simulator data through both paths, compared table by table: column names, order, types and
nullability in DuckDB, dlt's column hints, every row, the incremental cursors dlt keeps, and again
after changes (boundary second included). Plus the decoder's fallbacks and merge deduplication.
"""

from __future__ import annotations

import dlt
import duckdb
import orjson
import pyarrow as pa
import pytest

from harvest_source.account_column import stamp
from harvest_source.arrow_pages import PageDecoder, arrow_column_hints
from harvest_source.catalog import BY_TABLE, ENDPOINTS
from harvest_source.dlt_compat.resources import AfterIncremental
from harvest_source.rules import arrow_eligible, table_columns
from harvest_source.runner import EXIT_OK, make_pipeline
from harvest_source.simulator import run_simulator

ELIGIBLE = [e.table for e in ENDPOINTS if arrow_eligible(e)]


def _layout(loader, table: str) -> list[tuple]:
    with duckdb.connect(loader.file, read_only=True) as con:
        return con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'harvest_data' AND table_name = ? ORDER BY ordinal_position", [table],
        ).fetchall()


def _hints(loader, table: str) -> dict:
    pipeline = make_pipeline(_settings(loader))
    columns = pipeline.default_schema.tables[table]["columns"]
    # precision/scale/timezone are left out: the arrow path states DECIMAL(38,9) and UTC explicitly where the
    # row path leaves dlt's defaults, which are the same; the DuckDB layout check compares the real types
    keep = ("data_type", "nullable", "primary_key", "merge_key", "dedup_sort", "unique", "row_key")
    return {name: {k: c.get(k) for k in keep} for name, c in columns.items() if c.get("data_type")}


def _cursors(loader) -> dict:
    pipeline = make_pipeline(_settings(loader))
    resources = pipeline.state["sources"]["harvest"]["resources"]
    out = {}
    for table in ELIGIBLE:
        cursor = resources.get(table, {}).get("incremental", {}).get("updated_at", {})
        out[table] = (cursor.get("last_value"), sorted(cursor.get("unique_hashes") or []))
    return out


def _settings(loader):
    from harvest_source.runner import RunSettings

    return RunSettings(duckdb_file=loader.file, pipeline_name=loader.pipeline_name,
                       pipelines_dir=str(loader.folder / "pipelines"))


def _assert_same(arrow, rows) -> None:
    for table in ELIGIBLE:
        assert _layout(arrow, table) == _layout(rows, table), f"{table}: columns differ"
        assert _hints(arrow, table) == _hints(rows, table), f"{table}: dlt column hints differ"
        assert arrow.rows(table) == rows.rows(table), f"{table}: rows differ"
        ids = arrow.query(f"SELECT count(DISTINCT _dlt_id), count(*), count(_dlt_load_id) FROM {table}")[0]
        assert ids[0] == ids[1] == ids[2], f"{table}: _dlt_id not unique or load id missing"
    assert _cursors(arrow) == _cursors(rows)


@pytest.fixture
def decoded(monkeypatch):
    """Counts pages decoded to arrow and pages that fell back to dicts."""
    counts = {"arrow": 0, "rows": 0}
    settle = PageDecoder.settle

    def counting_settle(self, parsed):
        page = settle(self, parsed)
        counts["arrow" if page.table is not None else "rows"] += 1
        return page

    monkeypatch.setattr(PageDecoder, "settle", counting_settle)
    return counts


def test_arrow_and_row_paths_load_identical_tables(loader_for, decoded):
    with run_simulator(scale="small", seed=5) as sim:
        arrow, rows = loader_for(sim, name="arrow"), loader_for(sim, name="rows")
        assert arrow.run(resources=ELIGIBLE).exit_code == EXIT_OK
        assert decoded["arrow"] >= len(ELIGIBLE) and decoded["rows"] == 0, decoded
        assert rows.run(resources=ELIGIBLE, source_options={"arrow": False}).exit_code == EXIT_OK
        assert arrow.count("time_entries") == sim.counts()["time_entries"] > 2000  # several pages
        _assert_same(arrow, rows)

        # changes, including a record stamped with the very second both cursors stopped at
        sim.mutate_random(fraction=0.02, seed=9)
        boundary = max(r["updated_at"] for r in sim.records("time_entries"))
        entry = sim.mutate("create", key="time_entries")
        sim.mutate("update", key="time_entries", id=entry["id"], fields={"updated_at": boundary})
        assert arrow.run(resources=ELIGIBLE).exit_code == EXIT_OK
        assert rows.run(resources=ELIGIBLE, source_options={"arrow": False}).exit_code == EXIT_OK
        _assert_same(arrow, rows)
        assert arrow.count("time_entries") == sim.counts()["time_entries"]

        # nothing changed: the boundary rows are deduplicated on both paths, nothing is loaded
        result = arrow.run(resources=ELIGIBLE)
        assert result.exit_code == EXIT_OK and not set(result.rows) & set(ELIGIBLE), result.rows
        _assert_same(arrow, rows)


def _page(records: list[dict], next_url: str | None = None) -> bytes:
    return orjson.dumps({"time_entries": records, "per_page": 2000, "links": {"next": next_url, "previous": None}})


def _decoder() -> PageDecoder:
    return PageDecoder("time_entries", "time_entries", table_columns(BY_TABLE["time_entries"]))


ENTRY = {"id": 1, "spent_date": "2024-01-02", "hours": 1.5, "notes": "x", "created_at": "2024-01-02T10:00:00Z",
         "updated_at": "2024-01-02T10:00:00Z", "user": {"id": 7, "name": "Ann"}, "rate": 87.5, "is_running": False}


def test_decoder_types_a_page_like_dlt_and_keeps_the_cursor_as_text():
    page = _decoder().decode(_page([ENTRY, {**ENTRY, "id": 2, "rate": 120}], "http://h/v2/time_entries?page=2"))
    assert page.envelope["links"]["next"] == "http://h/v2/time_entries?page=2"
    table = page.table
    assert table is not None and table.num_rows == 2
    types = {f.name: f.type for f in table.schema}
    assert types["spent_date"] == pa.date32() and types["hours"] == pa.decimal128(38, 9)
    assert types["created_at"] == pa.timestamp("us", tz="UTC") and types["updated_at"] == pa.string()
    assert types["user__id"] == pa.int64() and types["user__name"] == pa.string()
    assert types["rate"] == pa.float64()  # unhinted, first value 87.5: double, as dlt infers it
    assert table.column_names[-2:] == ["_dlt_load_id", "_dlt_id"]
    ids = table.column("_dlt_id").to_pylist()
    assert len(set(ids)) == 2 and all(len(i) == 14 for i in ids)


@pytest.mark.parametrize("layout", ["compact", "indented", "trailing newline", "newline in a value"])
def test_decoder_reads_bodies_with_and_without_line_breaks_alike(layout):
    """Harvest sends compact JSON; a body laid out otherwise (a proxy that indents it) still takes the
    arrow path and gives the same table."""
    records = [ENTRY, {**ENTRY, "id": 2, "notes": "two\nlines"}]
    envelope = {"time_entries": records, "per_page": 2000, "links": {"next": None, "previous": None}}
    body = {"compact": orjson.dumps(envelope), "indented": orjson.dumps(envelope, option=orjson.OPT_INDENT_2),
            "trailing newline": orjson.dumps(envelope) + b"\n",
            "newline in a value": orjson.dumps(envelope).replace(b"two\\nlines", b"two\\u000alines")}[layout]
    expected = _decoder().decode(orjson.dumps(envelope)).table
    page = _decoder().decode(body)
    assert page.table is not None and page.rows is None  # the arrow path, not the fallback
    assert page.table.drop_columns(["_dlt_id"]).equals(expected.drop_columns(["_dlt_id"]))
    assert page.table.column("notes").to_pylist() == ["x", "two\nlines"]


@pytest.mark.parametrize("odd", [
    {"tags": ["a", "b"]},  # an array: a child table, the row path's job
    {"rate": 120},  # unhinted: a whole number, then 87.5 (bigint plus a variant column on the row path)
    {"user": {"id": 7, "team": {"id": 1}}},  # an object inside an object
    {"spent_date": "not a date"},  # does not parse as its declared type
    {"user": {"id": "seven"}},  # a text where the catalog says bigint
])
def test_decoder_sends_pages_it_cannot_reproduce_exactly_to_the_row_path(odd):
    records = [{**ENTRY, **odd}, {**ENTRY, "id": 2}]
    page = _decoder().decode(_page(records))
    assert page.table is None and page.rows == records


def test_decoder_row_path_keeps_client_errors_and_retries_bad_bodies():
    from harvest_source.client import UnreadableBody
    from harvest_source.errors import HarvestResponseError

    with pytest.raises(UnreadableBody):
        _decoder().decode(_page([ENTRY])[:-20])
    with pytest.raises(HarvestResponseError):
        _decoder().decode(orjson.dumps({"other": [], "links": {"next": None}}))


def _yielding(cursor, items):
    def pages(updated_at=cursor):
        yield from items  # the stale copy comes last

    return pages


def test_merge_keeps_the_newest_version_when_a_load_carries_an_id_twice(tmp_path):
    """delete-insert + dedup_sort on updated_at works on arrow items as on dicts."""
    older = {**ENTRY, "notes": "old", "updated_at": "2024-01-02T10:00:00Z"}
    newer = {**ENTRY, "notes": "new", "updated_at": "2024-01-03T10:00:00Z"}
    hints = table_columns(BY_TABLE["time_entries"])
    results = {}
    for arrow in (True, False):
        decoder = _decoder()
        cursor = dlt.sources.incremental("updated_at", initial_value="1970-01-01T00:00:00Z")
        pages = _yielding(cursor, [decoder.decode(_page([r])).table if arrow else [dict(r)] for r in (newer, older)])

        columns = {**hints, **arrow_column_hints()} if arrow else hints
        resource = dlt.resource(pages, name="time_entries", primary_key="id", columns=columns,
                                write_disposition={"disposition": "merge", "strategy": "delete-insert"})()
        if arrow:
            resource.add_step(AfterIncremental(decoder.finalize))
        resource.add_map(stamp(1))  # the source stamps every table's account
        pipeline = dlt.pipeline(f"merge_{arrow}", destination=dlt.destinations.duckdb(str(tmp_path / f"{arrow}.db")),
                                dataset_name="d", pipelines_dir=str(tmp_path / "p"))
        pipeline.run(resource, loader_file_format="parquet")
        with pipeline.sql_client() as client:
            results[arrow] = client.execute_sql("SELECT id, notes, updated_at FROM time_entries")
    assert results[True] == results[False] and [r[1] for r in results[True]] == ["new"]


def test_the_source_can_be_iterated_outside_a_pipeline():
    """No pipeline, no load id: the arrow tables come without ``_dlt_load_id``, the rows are all there."""
    from harvest_source import harvest_source

    with run_simulator(scale="tiny", seed=2) as sim:
        source = harvest_source(access_token="t", account_id=str(sim.account_id), base_url=sim.base_url,
                                rate_limit_window_s=0.001)
        tables = list(source.with_resources("time_entries"))
        assert all(isinstance(t, pa.Table) and "_dlt_load_id" not in t.column_names for t in tables)
        assert sum(t.num_rows for t in tables) == sim.counts()["time_entries"]
