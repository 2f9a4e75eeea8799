"""Helpers shared by the reliability tests: compare destinations, find duplicate keys and cursors
ahead of the data, change the simulated account in ways an incremental run must pick up, and run
the command line (through the crash driver) as a subprocess."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from harvest_source.catalog import ENDPOINTS
from harvest_source.simulator import Simulator
from harvest_source.simulator.clock import PINNED_NOW

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / "pipelines" / "harvest_pipeline.py"
DRIVER = REPO / "tests" / "reliability" / "crash_driver.py"
DATASET = "harvest_data"

# Tables an incremental run re-reads by updated_at, and the key dlt merges them on.
KEYS: dict[str, tuple[str, ...]] = {e.table: e.primary_key for e in ENDPOINTS if e.primary_key}
# Where each table's cursor lives in dlt state: plain incremental resources keep dlt's
# incremental; fan-out families keep a listing window over their parent's updated_at.
PARENT_OF = {e.table: e.fan_out.parent for e in ENDPOINTS if e.fan_out}


def cli_env(sim: Simulator, home: Path, token: str | None = None, **settings: str) -> dict[str, str]:
    """Environment for a command-line run against ``sim`` with its own dlt home folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "HARVEST__"))}
    env.update({
        "DLT_DATA_DIR": str(home),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "SOURCES__HARVEST__ACCESS_TOKEN": token or sim.admin_token,
        "SOURCES__HARVEST__ACCOUNT_ID": str(sim.account_id),
        "SOURCES__HARVEST__BASE_URL": sim.base_url,
        "SOURCES__HARVEST__RATE_LIMIT_WINDOW_S": "0.001",
        # the sweeps' schedule at one moment: a schedule whose runs straddle the hour would otherwise see the
        # rotating sweep re-read a slice of parents, and its counted kill points would move (conftest pins it too)
        "SOURCES__HARVEST__SWEEP_NOW": PINNED_NOW,
    })
    env.update({f"SOURCES__HARVEST__{k.upper()}": v for k, v in settings.items()})
    return env


def driver_cmd(kill_point: str, *cli_args: str) -> list[str]:
    return [sys.executable, str(DRIVER), kill_point, *cli_args]


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CLI), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


# ------------------------------------------------------------------ destination checks
def _connect(file: str | Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(file), read_only=True)


def data_tables(file: str | Path) -> list[str]:
    with _connect(file) as con:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' "
            "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' ORDER BY 1", [DATASET]
        ).fetchall()
    return [r[0] for r in rows]


SYSTEM_COLUMNS = ("_dlt_load_id", "_dlt_id", "_dlt_parent_id", "_dlt_root_id")


def snapshot(file: str | Path) -> dict[str, list[tuple]]:
    """Every data table's rows (business columns, sorted): what two loads must agree on."""
    tables: dict[str, list[tuple]] = {}
    with _connect(file) as con:
        for table in data_tables(file):
            if table.startswith("reports_"):
                # report periods before the previous one are read once (report_tables): a run chain that
                # edits old time legitimately differs there from a fresh load; tests/test_report_tables.py
                continue
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
                "ORDER BY column_name", [DATASET, table]).fetchall() if r[0] not in SYSTEM_COLUMNS]
            select = ", ".join(f'"{c}"' for c in columns)
            tables[table] = sorted(con.execute(f"SELECT {select} FROM {DATASET}.{table}").fetchall(), key=repr)
    return tables


def differences(loader: Any, reference: Any) -> list[str]:
    """Table by table, row by row (business columns): where ``loader`` differs from ``reference`` (a
    loader or a ``snapshot``)."""
    want = reference if isinstance(reference, dict) else snapshot(reference.file)
    return compare(snapshot(loader.file), want)


def compare(got: dict[str, list[tuple]], want: dict[str, list[tuple]]) -> list[str]:
    problems = []
    if sorted(got) != sorted(want):
        problems.append(f"tables differ: missing {sorted(set(want) - set(got))}, extra {sorted(set(got) - set(want))}")
    for table in sorted(set(got) & set(want)):
        if got[table] != want[table]:
            rows, expected = got[table], want[table]
            problems.append(f"{table}: {len(rows)} rows, expected {len(expected)} ({len(set(expected) - set(rows))} "
                            f"missing or different, {len(rows) - len(set(rows))} repeated)")
    return problems


def row_total(loader: Any) -> int:
    """Rows in the data tables (views left out)."""
    return sum(loader.count(t) for t in data_tables(loader.file))


def duplicate_keys(file: str | Path) -> dict[str, int]:
    """Rows beyond the first per primary key (root tables) or per ``_dlt_id`` (nested tables)."""
    found = {}
    with _connect(file) as con:
        for table in data_tables(file):
            key = KEYS.get(table) or ("_dlt_id",)
            cols = ", ".join(f'"{c}"' for c in key)
            extra = con.execute(
                f"SELECT count(*) - count(DISTINCT ({cols})) FROM {DATASET}.{table}"
            ).fetchone()[0]
            if extra:
                found[table] = extra
    return found


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def loaded_maxima(file: str | Path) -> dict[str, str | None]:
    """Highest ``updated_at`` per table in the destination (ISO, like Harvest's), None when empty."""
    tables = set(data_tables(file)) if Path(file).exists() else set()
    out: dict[str, str | None] = {}
    with _connect(file) as con:
        for endpoint in ENDPOINTS:
            if endpoint.table in tables and endpoint.timestamps and endpoint.records_key:
                out[endpoint.table] = _iso(con.execute(f"SELECT max(updated_at) FROM {DATASET}.{endpoint.table}")
                                           .fetchone()[0])
    return out


def cursors(state: dict[str, Any]) -> dict[str, str]:
    """Each table's cursor in a pipeline state: the ``updated_at`` it asks Harvest from next time."""
    resources = state.get("sources", {}).get("harvest", {}).get("resources", {})
    out = {}
    for table, resource_state in resources.items():
        incremental = resource_state.get("incremental", {}).get("updated_at", {})
        window = resource_state.get("listing_window") or {}
        value = incremental.get("last_value") or window.get("since")
        if value and value != "1970-01-01T00:00:00Z":
            out[table] = value
    return out


def local_state(pipelines_dir: Path, name: str) -> dict[str, Any]:
    path = pipelines_dir / name / "state.json"
    return json.loads(path.read_text()) if path.exists() else {}


def destination_state(file: str | Path) -> dict[str, Any]:
    """The pipeline state a fresh working folder would restore: the newest one of a completed load."""
    from dlt.common.versioned_state import decompress_state

    if not Path(file).exists():
        return {}
    with _connect(file) as con:
        try:
            row = con.execute(
                f"SELECT s.state FROM {DATASET}._dlt_pipeline_state s JOIN {DATASET}._dlt_loads l "
                "ON l.load_id = s._dlt_load_id WHERE l.status = 0 ORDER BY s.version DESC LIMIT 1"
            ).fetchone()
        except duckdb.CatalogException:
            return {}
    return decompress_state(row[0]) if row else {}


def cursors_ahead(state: dict[str, Any], file: str | Path) -> list[str]:
    """Cursors beyond the newest row the destination holds: the rows in between would never be read."""
    maxima = loaded_maxima(file) if Path(file).exists() else {}
    problems = []
    for table, cursor in cursors(state).items():
        # a fan-out child's window runs over its parent's updated_at
        loaded = maxima.get(PARENT_OF.get(table, table))
        if loaded is None or cursor > loaded:
            problems.append(f"{table}: cursor {cursor} but newest loaded row {loaded}")
    return problems


def pending_packages(pipelines_dir: Path, name: str) -> dict[str, list[str]]:
    """What a killed run left in the working folder, by stage."""
    work = pipelines_dir / name

    def listing(*parts: str) -> list[str]:  # folders only: a kill can also leave dlt's temporary files
        folder = work.joinpath(*parts)
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    started = [p for p in listing("load", "normalized") if listing("load", "normalized", p, "started_jobs") or any(
        f.is_file() for f in work.joinpath("load", "normalized", p, "started_jobs").glob("*"))]
    abandoned = [p for p in listing("normalize") if re.fullmatch(r"[0-9a-f]{16}", p)]  # extracts never committed
    return {"extracted": listing("normalize", "extracted"), "normalized": listing("load", "normalized"),
            "loading": started, "abandoned": abandoned}


# ------------------------------------------------------------------ account changes
# Fields an update changes, per table; every change bumps updated_at, so an incremental run sees it.
_EDITABLE = {"time_entries": "notes", "expenses": "notes", "clients": "address", "projects": "notes",
             "contacts": "title", "tasks": "name", "invoices": "notes", "estimates": "notes"}


def change_account(sim: Simulator, rng: random.Random, changes: int = 6) -> list[str]:
    """Seeded edits Harvest would report through updated_since (no deletes, no reminders): updates,
    new records, payments (with child_bumps_parent on, they bump the invoice)."""
    done = []
    for _ in range(changes):
        kind = rng.choice(["update", "update", "create", "payment"])
        if kind == "update":
            table = rng.choice(sorted(_EDITABLE))
            record = rng.choice(sim.records(table))
            sim.mutate("update", key=table, id=record["id"],
                       fields={_EDITABLE[table]: f"edited {rng.randrange(10**6)}"})
            done.append(f"update {table} {record['id']}")
        elif kind == "create":
            table = rng.choice(["time_entries", "tasks", "clients", "expenses"])
            created = sim.mutate("create", key=table)
            done.append(f"create {table} {created['id']}")
        else:
            open_invoices = [i for i in sim.records("invoices") if i["state"] == "open" and float(i["due_amount"]) > 2]
            if not open_invoices:
                continue
            invoice = rng.choice(open_invoices)
            sim.mutate("add_payment", invoice_id=invoice["id"], amount=1)
            done.append(f"payment on invoice {invoice['id']}")
    return done


def drift(sim: Simulator, key: str, record_id: int, *, add: dict[str, Any] | None = None,
          drop: tuple[str, ...] = (), set_: dict[str, Any] | None = None) -> None:
    """Change the shape of one record as a new Harvest version might: a field added, a field gone, a
    value of another type. The simulator's ``update`` mutation refuses unknown fields and cannot remove
    one, so this rewrites the stored record directly (bumping ``updated_at``, as Harvest would)."""
    from harvest_source.simulator._json import loads

    sim.advance_clock(1)
    store = sim.store
    with store.lock:
        row = store.row(key, record_id)
        record = loads(row.data)
        for name in drop:
            record.pop(name)
        record.update(add or {})
        record.update(set_ or {})
        record["updated_at"] = store.clock.now_iso()
        store.put(key, record, row.parent)
