"""Other warehouses: PostgreSQL (a real server, when HARVEST_TEST_POSTGRES_DSN is set) and parquet files
through dlt's filesystem destination, each compared table by table with a DuckDB load of the same data."""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from harvest_source.destination import make_pipeline
from harvest_source.run_types import EXIT_OK, RunSettings
from harvest_source.runner import run_load
from harvest_source.settings import STAGING_DATASET_LAYOUT
from harvest_source.simulator import run_simulator
from harvest_source.views import VIEW_NAMES, create_views, drop_views

DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")
NO_DSN = "HARVEST_TEST_POSTGRES_DSN is not set (CI starts a server with .ci/postgres.sh)"
FAST = {"rate_limit_window_s": 0.001}  # the simulator does not rate-limit; do not pace requests
README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
PG_TYPES = {
    "bigint": "BIGINT", "integer": "INTEGER", "smallint": "SMALLINT", "boolean": "BOOLEAN", "date": "DATE",
    "timestamp with time zone": "TIMESTAMP WITH TIME ZONE", "timestamp without time zone": "TIMESTAMP",
    "time without time zone": "TIME", "text": "VARCHAR", "character varying": "VARCHAR",
    "double precision": "DOUBLE", "real": "FLOAT", "jsonb": "JSON", "json": "JSON", "bytea": "BLOB",
}


# -- comparing two copies of a table ---------------------------------------------------------------------
def norm(value: Any) -> Any:
    """One representation per value, whichever database it came from."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal | float):
        return str(Decimal(str(value)).normalize())
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value


def norm_rows(rows: list[tuple]) -> list[tuple]:
    return sorted((tuple(norm(v) for v in row) for row in rows), key=repr)


def assert_same_rows(table: str, left: list[tuple], right: list[tuple]) -> None:
    a, b = Counter(norm_rows(left)), Counter(norm_rows(right))
    only_left, only_right = list((a - b).elements()), list((b - a).elements())
    assert not only_left and not only_right, (
        f"{table}: {len(only_left)} rows only on the left, {len(only_right)} only on the right; "
        f"e.g. {only_left[:2]} / {only_right[:2]}"
    )
    assert len(left) == len(right), table


def business_columns(types: dict[str, str]) -> list[str]:
    return sorted(c for c in types if not c.startswith("_dlt_"))


def select(columns: list[str], source: str) -> str:
    return "SELECT " + ", ".join(f'"{c}"' for c in columns) + f" FROM {source}"


def duck_columns(loader: Any, table: str) -> dict[str, str]:
    return loader.columns(table)


# -- PostgreSQL ------------------------------------------------------------------------------------------
class Postgres:
    """A unique dataset (schema) on the test server, dropped afterwards."""

    def __init__(self, dsn: str, folder: Path) -> None:
        import psycopg2

        self.dsn, self.folder = dsn, folder
        self.dataset = f"harvest_test_{uuid.uuid4().hex[:10]}"
        self.con = psycopg2.connect(dsn)
        self.con.autocommit = True

    def settings(self, **overrides: Any) -> RunSettings:
        values: dict[str, Any] = dict(destination="postgres", dataset=self.dataset, pipeline_name="pg",
                                      pipelines_dir=str(self.folder / "pg_pipelines"), source_options=dict(FAST))
        values.update(overrides)
        return RunSettings(**values)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def tables(self, kind: str = "BASE TABLE") -> list[str]:
        rows = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                          "AND table_type = %s AND table_name NOT LIKE '\\_dlt%%'", (self.dataset, kind))
        return sorted(r[0] for r in rows)

    def columns(self, table: str) -> dict[str, str]:
        rows = self.query(
            "SELECT column_name, data_type, numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s", (self.dataset, table))
        return {name: f"DECIMAL({p},{s})" if kind == "numeric" else PG_TYPES.get(kind, kind.upper())
                for name, kind, p, s in rows}

    def rows(self, table: str, columns: list[str]) -> list[tuple]:
        return self.query(select(columns, f'"{self.dataset}"."{table}"'))

    def drop(self) -> None:
        with self.con.cursor() as cur:
            cur.execute("SET client_min_messages = warning")
            for schema in (self.dataset, STAGING_DATASET_LAYOUT % self.dataset):
                cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        self.con.close()


@pytest.fixture
def pg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Postgres]:
    if not DSN:
        pytest.skip(NO_DSN)
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", DSN)
    server = Postgres(DSN, tmp_path)
    try:
        yield server
    finally:
        server.drop()


def load(sim: Any, settings: RunSettings) -> None:
    result = run_load(settings, sim.admin_token, str(sim.account_id), sim.base_url)
    assert result.exit_code == EXIT_OK, result.error


def assert_postgres_equals_duckdb(duck: Any, pg: Postgres) -> None:
    tables = duck.tables()
    assert pg.tables() == tables
    assert {"time_entries", "invoices__line_items", "invoice_payments", "teammates"} <= set(tables)
    for table in tables:
        types = duck_columns(duck, table)
        columns = business_columns(types)
        pg_types = pg.columns(table)
        assert business_columns(pg_types) == columns, table
        assert {c: pg_types[c] for c in columns} == {c: types[c] for c in columns}, table
        assert_same_rows(table, duck.query(select(columns, table)), pg.rows(table, columns))


def _changes(sim: Any) -> int:
    """A few of each kind of change, child-only ones included; returns the id of the edited time entry."""
    invoice = next(i for i in sim.records("invoices") if i["state"] == "open")
    entries = sim.records("time_entries")
    user = sim.records("users")[0]
    edited = entries[0]["id"]
    sim.mutate("update", key="time_entries", id=edited, fields={"notes": "changed by the test", "hours": 2.75})
    sim.mutate("update", key="clients", id=sim.records("clients")[0]["id"], fields={"name": "Renamed Ltd"})
    sim.mutate("update", key="projects", id=sim.records("projects")[0]["id"], fields={"budget": 1234.5})
    sim.mutate("create", key="time_entries")
    sim.mutate("create", key="expenses")
    sim.mutate("create", key="tasks")
    sim.mutate("invoice_time_entries", invoice_id=invoice["id"], time_entry_ids=[e["id"] for e in entries[1:4]])
    sim.mutate("add_payment", invoice_id=invoice["id"], amount=10.5)
    sim.mutate("add_invoice_message", invoice_id=invoice["id"], reminder=True)
    sim.mutate("add_estimate_message", estimate_id=sim.records("estimates")[0]["id"])
    sim.mutate("change_rate", user_id=user["id"], which="cost", amount=77.25)
    sim.mutate("delete", key="invoice_payments", id=sim.records("invoice_payments")[-1]["id"])
    return edited


# -- tests: the staging dataset -------------------------------------------------------------------------
def test_the_merge_staging_dataset_is_named_as_dlts_not_next_to_the_analysts_dataset(loader_for):
    """dlt merges through a staging dataset; its default name (``harvest_data_staging``) sat next to the
    analysts' ``harvest_data``. It is named as dlt's own (``_dlt_staging_harvest_data``) instead."""
    with run_simulator(scale="tiny", seed=21) as sim:
        duck = loader_for(sim)
        assert duck.run(source_options=dict(FAST)).exit_code == EXIT_OK
        _changes(sim)
        assert duck.run(source_options=dict(FAST)).exit_code == EXIT_OK  # a merge: staging is used
    with duckdb.connect(duck.file, read_only=True) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}
        staged = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ?",
                             [STAGING_DATASET_LAYOUT % "harvest_data"]).fetchone()[0]
    assert "harvest_data_staging" not in schemas
    assert STAGING_DATASET_LAYOUT % "harvest_data" == "_dlt_staging_harvest_data" in schemas
    assert staged > 0


# -- tests: PostgreSQL -----------------------------------------------------------------------------------
@pytest.mark.postgres
def test_postgres_matches_duckdb_after_full_and_incremental_loads(pg: Postgres, loader_for):
    with run_simulator(scale="small", seed=21) as sim:
        duck = loader_for(sim)
        assert duck.run(source_options=dict(FAST)).exit_code == EXIT_OK
        load(sim, pg.settings())
        assert pg.query(f'SELECT count(*) FROM "{pg.dataset}".time_entries') == [(sim.counts()["time_entries"],)]
        assert_postgres_equals_duckdb(duck, pg)

        edited = _changes(sim)
        assert duck.run(source_options=dict(FAST)).exit_code == EXIT_OK
        load(sim, pg.settings())
        assert pg.query(f'SELECT notes, hours FROM "{pg.dataset}".time_entries WHERE id = %s',
                        (edited,)) == [("changed by the test", Decimal("2.75"))]
        assert_postgres_equals_duckdb(duck, pg)

        # the views give the same answers on both
        duck_pipeline = make_pipeline(RunSettings(duckdb_file=duck.file, pipeline_name=duck.name,
                                                  pipelines_dir=str(duck.folder / "pipelines")))
        assert create_views(duck_pipeline) == create_views(make_pipeline(pg.settings())) == list(VIEW_NAMES)
        assert pg.tables("VIEW") == sorted(VIEW_NAMES)
        for view in VIEW_NAMES:
            types = duck.columns(view)
            columns = sorted(types)
            assert_same_rows(view, duck.query(select(columns, view)), pg.rows(view, columns))
            pg_types = pg.columns(view)
            assert {c: pg_types[c] for c in columns} == types, view


@pytest.mark.postgres
def test_postgres_full_refresh_with_views_dropped_first(pg: Postgres):
    """PostgreSQL refuses dlt's DROP TABLE (no CASCADE) while views depend on a table: drop_views first."""
    with run_simulator(scale="tiny", seed=23) as sim:
        load(sim, pg.settings())
        pipeline = make_pipeline(pg.settings())
        assert create_views(pipeline) == list(VIEW_NAMES)
        assert drop_views(pipeline) == list(VIEW_NAMES)
        assert pg.tables("VIEW") == []
        assert drop_views(pipeline) == []
        sim.mutate("delete", key="time_entries", id=sim.records("time_entries")[0]["id"])
        load(sim, pg.settings(full_refresh=True))
        assert create_views(make_pipeline(pg.settings())) == list(VIEW_NAMES)
        count = sim.counts()["time_entries"]
        assert pg.query(f'SELECT count(*) FROM "{pg.dataset}".v_time_entries') == [(count,)]


@pytest.mark.postgres
def test_postgres_holds_no_token(pg: Postgres):
    """tests/test_secrets.py scans DuckDB; this is the same scan on PostgreSQL: every text and JSON value of
    the dataset, its staging schema and dlt's own tables (the state blob opened), after a full load and a
    merge. The token is also planted once, to show the scan would see it."""
    from test_secrets import SECRET, SECRET_BYTES, decoded_forms

    schemas = (pg.dataset, STAGING_DATASET_LAYOUT % pg.dataset)

    def leaks() -> tuple[list[str], int]:
        found, values = [], 0
        columns = pg.query(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns WHERE table_schema "
            "IN (%s, %s) AND data_type IN ('text', 'character varying', 'json', 'jsonb')", schemas)
        for schema, table, column in columns:
            rows = pg.query(f'SELECT "{column}"::text FROM "{schema}"."{table}" WHERE "{column}" IS NOT NULL')
            values += len(rows)
            if any(SECRET_BYTES in form for (value,) in rows for form in decoded_forms(value)):
                found.append(f"{schema}.{table}.{column}")
        return found, values

    with run_simulator(scale="tiny", seed=24, token=SECRET) as sim:
        load(sim, pg.settings())
        _changes(sim)
        load(sim, pg.settings())  # a merge: the staging schema now holds rows too
    assert pg.query(f'SELECT count(*) FROM "{schemas[1]}".time_entries')[0][0] > 0
    assert pg.query(f'SELECT count(*) FROM "{pg.dataset}"._dlt_pipeline_state')[0][0] >= 2
    found, values = leaks()
    assert found == [] and values > 1000

    planted = base64.b64encode(zlib.compress(json.dumps({"token": SECRET}).encode())).decode()
    pg.query(f'CREATE TABLE "{pg.dataset}".planted (blob text)')
    pg.query(f'INSERT INTO "{pg.dataset}".planted VALUES (%s)', (planted,))
    assert leaks()[0] == [f"{pg.dataset}.planted.blob"]


# -- tests: parquet files --------------------------------------------------------------------------------
def parquet(lake: Path, table: str) -> str:
    return f"read_parquet('{lake / 'harvest_data' / table}/*.parquet')"


def lake_settings(tmp_path: Path) -> RunSettings:
    return RunSettings(destination="filesystem", dataset="harvest_data", pipeline_name="lake",
                       pipelines_dir=str(tmp_path / "lake_pipelines"), source_options=dict(FAST))


def test_parquet_files_match_duckdb(loader_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lake = tmp_path / "lake"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", lake.as_uri())
    with run_simulator(scale="small", seed=22) as sim:
        duck = loader_for(sim)
        assert duck.run(source_options=dict(FAST)).exit_code == EXIT_OK
        load(sim, lake_settings(tmp_path))
    tables = duck.tables()
    folders = sorted(p.name for p in (lake / "harvest_data").iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert [f for f in folders if f != "init"] == tables
    con = duckdb.connect()
    for table in tables:
        files = list((lake / "harvest_data" / table).iterdir())
        assert files and all(f.name.endswith(".parquet") for f in files), table
        types = duck_columns(duck, table)
        columns = business_columns(types)
        file_types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM "
                                      f"{parquet(lake, table)})").fetchall())
        assert business_columns(file_types) == columns, table
        assert {c: file_types[c] for c in columns} == {c: types[c] for c in columns}, table
        assert_same_rows(table, duck.query(select(columns, table)), con.execute(
            select(columns, parquet(lake, table))).fetchall())
    # views need a database: none on files
    assert create_views(make_pipeline(lake_settings(tmp_path))) == []


def test_parquet_merge_appends_changed_rows_and_the_latest_version_wins(loader_for, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch):
    """dlt 1.31's filesystem destination has no merge without table_format (delta/iceberg): it warns and
    appends. Changed records are added again; company and roles, read whole each run, add a copy each run."""
    lake = tmp_path / "lake"
    monkeypatch.setenv("DESTINATION__FILESYSTEM__BUCKET_URL", str(lake))
    con = duckdb.connect()
    with run_simulator(scale="tiny", seed=24) as sim:
        duck = loader_for(sim)
        assert duck.run(source_options=dict(FAST)).exit_code == EXIT_OK
        load(sim, lake_settings(tmp_path))
        before = {t: con.execute(f"SELECT count(*) FROM {parquet(lake, t)}").fetchone()[0]
                  for t in ("time_entries", "invoices", "invoice_messages", "company", "roles")}
        invoice = next(i for i in sim.records("invoices") if i["state"] == "open")
        messages = len(sim.records("invoice_messages", parent_id=invoice["id"]))
        changed = sim.records("time_entries")[0]["id"]
        sim.mutate("update", key="time_entries", id=changed, fields={"notes": "second version"})
        sim.mutate("create", key="time_entries")
        sim.mutate("add_invoice_message", invoice_id=invoice["id"])  # bumps the invoice, re-reads its messages
        assert duck.run(source_options=dict(FAST)).exit_code == EXIT_OK
        load(sim, lake_settings(tmp_path))
        counts = sim.counts()

    def count(table: str, where: str = "") -> int:
        return con.execute(f"SELECT count(*) FROM {parquet(lake, table)} {where}").fetchone()[0]

    # appended, not merged
    assert count("time_entries") == before["time_entries"] + 2
    assert con.execute(f"SELECT count(DISTINCT id) FROM {parquet(lake, 'time_entries')}").fetchone()[0] \
        == counts["time_entries"] == before["time_entries"] + 1
    assert count("time_entries", f"WHERE id = {changed}") == 2
    assert count("invoices") == before["invoices"] + 1
    assert count("invoice_messages") == before["invoice_messages"] + messages + 1
    # read whole each run: a second copy, the latest load of the account is the current one
    assert count("company") == 2 * before["company"] == 2
    assert count("roles") == before["roles"] + counts["roles"]
    assert con.execute(f"SELECT count(DISTINCT _dlt_load_id) FROM {parquet(lake, 'company')}").fetchone()[0] == 2
    # the README's queries give the current state: each record's latest version, each parent's latest children
    section = README.split("\n## Other warehouses\n", 1)[1].split("\n## ", 1)[0]
    readme = [q.strip().rstrip(";") for q in re.findall(r"```sql\n(.*?)\n```", section, re.S)
              if "read_parquet('/srv/harvest/harvest_data/" in q]
    assert len(readme) == 2
    latest_sql, children_sql = (q.replace("/srv/harvest", str(lake)) for q in readme)
    for table in ("time_entries", "invoices"):
        columns = business_columns(duck.columns(table))
        latest = con.execute(select(columns, f"({latest_sql.replace('/time_entries/', f'/{table}/')})")).fetchall()
        assert_same_rows(table, duck.query(select(columns, table)), latest)
    assert con.execute(f"SELECT notes FROM ({latest_sql}) WHERE id = {changed}").fetchall() == [("second version",)]
    for table in ("invoice_messages", "invoice_payments"):
        columns = business_columns(duck.columns(table))
        current = con.execute(select(columns, f"({children_sql.replace('/invoice_payments/', f'/{table}/')})"))
        assert_same_rows(table, duck.query(select(columns, table)), current.fetchall())
    # nested rows belong to the parent row whose _dlt_id they name
    columns = business_columns(duck.columns("invoices__line_items"))
    invoices = latest_sql.replace("/time_entries/", "/invoices/")
    nested = con.execute(
        "SELECT " + ", ".join(f'li."{c}"' for c in columns) + f" FROM {parquet(lake, 'invoices__line_items')} li "
        f"JOIN ({invoices}) i ON li._dlt_parent_id = i._dlt_id").fetchall()
    assert_same_rows("invoices__line_items", duck.query(select(columns, "invoices__line_items")), nested)
