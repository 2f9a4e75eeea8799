"""Benchmark (issue 13 §2): what the child sweep costs over days of hourly runs, and whether the warehouse
still equals Harvest at the end.

    PYTHONPATH=. python benchmarks/rotation.py --scale small      # ~35 runs, a few minutes
    PYTHONPATH=. python benchmarks/rotation.py                     # large (the default)
    python benchmarks/run.py --rotation [--quick]                  # the same, as a run.py scenario

Child tables (invoice messages and payments, estimate messages, a user's project assignments, rates and
teammates) cost one request per parent. Today every ``sweep_interval_hours`` (24) a run re-reads the
children of every parent ("daily child sweep"); a rotating sweep re-reads a slice of them each run. This
scenario measures whichever the connector under test does, with the connector's sweep schedule on the
simulator's clock (the ``sweep_now`` setting):

1. the simulator (its own process, no rate limit: requests are counted, not waited for) starts at the
   pinned "now"; a full load goes into DuckDB file A. Its child requests are today's daily child sweep
   (cross-checked against parents x child endpoints, teammates for managers only);
2. day 1: 24 hourly runs. Before each, the simulator's clock moves one hour and small changes are made:
   ``mutate_random`` (``--fraction``, 0.2 %) plus explicit changes, most of which leave their parent's
   ``updated_at`` alone, on *cold* parents (a reminder on an invoice paid long ago, a rate change of an
   inactive user, a deleted message of an old invoice, an estimate message on an old accepted or
   declined estimate) and *live* ones (a reminder on an open invoice, a rate change of an active user, a
   message on a sent estimate), a payment deleted from an old invoice (which does change the invoice),
   top-level deletions (a time entry, an expense, a contact in turn) and, every 6 hours, a whole invoice
   with its children;
3. days 2..N: a run every ``--late-every`` hours (6), no changes (``--late-fraction`` adds some), until
   ``verify_days`` + 1 days have passed since the last change, so every cold parent has been revisited;
4. a fresh full load of the same simulator state into DuckDB file B (its own pipeline and folder), and
   every table of A compared with B (every column but dlt's ``_dlt_*``, as multisets of rows).

Per run: total requests (the simulator's count), child requests (``/v2/<parent>/<id>/<child>``), and the
requests a purely incremental run needs for what changed since the run before (``run.incremental_bound``:
pages of changed records, one request per changed parent and child endpoint). Sweep requests are
measured - bound, clamped at 0 (a run may spend less than the bound, e.g. a changed record on a page it
read anyway); they include the deletion sweep's id listings, which run when the child sweep is due.

Targets (``TARGET name: PASS|FAIL figure``, exit 0 only if both pass):
``rotation_budget``: day 1's sweep requests / today's daily child sweep <= ``--budget`` (0.15);
``rotation_equal``: every table of A equals B's (report tables: only the periods every run re-reads; an
older period is read once by design, ``REPORTS_REREAD_PERIODS``, and its differences are listed apart).

Settings of a connector under test go in with ``--source-option NAME=VALUE`` (a ``harvest_source``
argument, e.g. ``verify_days=7``); ``--verify-days`` only sets how long step 3 lasts.
"""

from __future__ import annotations

import argparse
import ast
import math
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

import duckdb  # noqa: E402
import pendulum  # noqa: E402
from run import (  # noqa: E402
    TOP_LEVEL,
    Target,
    all_child_requests,
    changed_child_requests,
    fan_out_requests,
    fresh_folder,
    incremental_bound,
    settings_for,
)
from simproc import SimProcess  # noqa: E402

from harvest_source.catalog import Kind  # noqa: E402
from harvest_source.run_types import RunResult  # noqa: E402
from harvest_source.runner import run_load  # noqa: E402
from harvest_source.settings import REPORTS_REREAD_PERIODS  # noqa: E402

HOUR = 3600
DAY = 24 * HOUR
LIVE_DAYS = 30  # "updated in the last 30 days" makes a parent live (issue 13 §2)
OLD_DAYS = 60  # an "old" invoice or estimate: issued at least this long before the change
SHOWN_IDS = 5  # differing ids printed per table
TABLE_SCHEMA = "harvest_data"


# --------------------------------------------------------------------------------------- one run
@dataclass
class Run:
    label: str
    day: int  # 0: the first load; 1..N
    at: str  # the simulator's (and the connector's) "now"
    changes: int  # records created, updated or deleted since the run before
    requests: int
    child: int
    bound: int
    child_bound: int
    wall_s: float
    deleted: int
    by_path: dict[str, int] = field(default_factory=dict)

    @property
    def sweep(self) -> int:
        return max(0, self.requests - self.bound)

    @property
    def child_sweep(self) -> int:
        return max(0, self.child - self.child_bound)


def load(sim: SimProcess, folder: Path, options: dict[str, Any], label: str, day: int,
         changed: dict[str, set[int]], manager_ids: set[int], changes: int, pipeline: str = "harvest") -> Run:
    """One ``run_load`` whose sweeps' schedule runs on the simulator's clock (the ``sweep_now`` setting);
    requests from the simulator."""
    at = sim.now()
    sim.reset_stats()
    started = time.perf_counter()
    options = {**options, "sweep_now": at}
    result: RunResult = run_load(settings_for(folder, pipeline_name=pipeline, source_options=options),
                                 sim.token, sim.account_id, sim.base_url)
    wall = time.perf_counter() - started
    if result.exit_code != 0:
        raise SystemExit(f"{label}: the load failed (exit {result.exit_code}): {result.error}")
    stats = sim.stats()
    by_path = dict(stats["by_path"])
    lists = {k: sorted(v) for k, v in changed.items()}
    return Run(label, day, at, changes, int(stats["total"]), fan_out_requests(by_path),
               incremental_bound(lists, manager_ids), changed_child_requests(lists, manager_ids), wall,
               sum(result.deleted.values()), by_path)


# --------------------------------------------------------------------------------------- changes
class Changes:
    """The explicit changes of one hour (``hour``-seeded), and what they changed, merged into ``changed``."""

    def __init__(self, sim: SimProcess, seed: int) -> None:
        self.sim = sim
        self.seed = seed
        self.deleted: dict[str, set[int]] = {}
        self.log: dict[str, int] = {}  # change kind -> times applied
        self.skipped: dict[str, int] = {}  # change kind -> times nothing fitted

    def _apply(self, changed: dict[str, set[int]], what: str, kind: str, **params: Any) -> int:
        result = self.sim.mutate(kind, **params)
        n = 0
        for bucket in ("created", "updated"):
            for table, ids in (result.get(bucket) or {}).items():
                changed.setdefault(table, set()).update(ids)
                n += len(ids)
        for table, ids in (result.get("deleted") or {}).items():
            self.deleted.setdefault(table, set()).update(ids)
            n += len(ids)
        self.log[what] = self.log.get(what, 0) + 1
        return n

    def _skip(self, what: str) -> int:
        self.skipped[what] = self.skipped.get(what, 0) + 1
        return 0

    def hour(self, hour: int, changed: dict[str, set[int]], fraction: float) -> tuple[int, set[int]]:
        """Apply an hour's changes; return how many records they touched and the managers' ids."""
        sim, rng = self.sim, random.Random(self.seed * 1000 + hour)
        now = pendulum.parse(sim.now())
        cold_before = (now - pendulum.duration(days=LIVE_DAYS)).format("YYYY-MM-DDTHH:mm:ss[Z]")
        old_before = (now - pendulum.duration(days=OLD_DAYS)).to_date_string()
        gone = self.deleted
        invoices = [i for i in sim.list_all("invoices", "invoices") if i["id"] not in gone.get("invoices", ())]
        estimates = sim.list_all("estimates", "estimates")
        users, managers = sim.users_and_managers()
        old_paid = [i for i in invoices if i["state"] == "paid" and i["updated_at"] < cold_before
                    and i["issue_date"] < old_before]
        open_invoices = [i for i in invoices if i["state"] == "open"]
        old_estimates = [e for e in estimates if e["state"] in ("accepted", "declined")
                         and e["updated_at"] < cold_before and e["issue_date"] < old_before]
        sent_estimates = [e for e in estimates if e["state"] == "sent"]
        inactive = [u for u in users if not u["is_active"]]
        active = [u for u in users if u["is_active"]]

        def pick(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
            return rng.choice(rows) if rows else None

        n = 0
        # cold parents: changes their parent's updated_at does not show
        if (inv := pick(old_paid)) is not None:
            n += self._apply(changed, "reminder, old paid invoice", "add_invoice_message", invoice_id=inv["id"],
                             reminder=True)
        else:
            n += self._skip("reminder, old paid invoice")
        if (user := pick(inactive)) is not None:
            n += self._apply(changed, "rate change, inactive user", "change_rate", user_id=user["id"],
                             which=rng.choice(("billable", "cost")))
        else:
            n += self._skip("rate change, inactive user")
        if (est := pick(old_estimates)) is not None:
            n += self._apply(changed, "message, old accepted/declined estimate", "add_estimate_message",
                             estimate_id=est["id"], event_type="view", bump_parent=False)
        else:
            n += self._skip("message, old accepted/declined estimate")
        n += self._delete_child(changed, rng, old_paid, "messages", "invoice_messages",
                                "deleted message, old invoice")
        if hour % 2:  # a deleted payment reopens its invoice: a change the invoice's listing shows
            n += self._delete_child(changed, rng, old_paid, "payments", "invoice_payments",
                                    "deleted payment, old invoice")
        # live parents
        if (inv := pick(open_invoices)) is not None:
            n += self._apply(changed, "reminder, open invoice", "add_invoice_message", invoice_id=inv["id"],
                             reminder=True)
        if (user := pick(active)) is not None:
            n += self._apply(changed, "rate change, active user", "change_rate", user_id=user["id"],
                             which=rng.choice(("billable", "cost")))
        if (est := pick(sent_estimates)) is not None:
            n += self._apply(changed, "message, sent estimate", "add_estimate_message", estimate_id=est["id"],
                             event_type="view", bump_parent=False)
        # top-level deletions: one record a run in turn, and a whole invoice with its children every 6 hours
        table = ("time_entries", "expenses", "contacts")[hour % 3]
        page = sim.get(table, per_page=100, page=1 + rng.randrange(3))[table] or sim.get(table, per_page=100)[table]
        if page:
            n += self._apply(changed, f"deleted, {table}", "delete", key=table,
                             id=rng.choice(page)["id"])
        if hour % 6 == 0 and (inv := pick(old_paid)) is not None:
            n += self._apply(changed, "deleted invoice with its children", "delete", key="invoices", id=inv["id"])
        if fraction > 0:
            for table, ids in sim.mutate_random(fraction=fraction, seed=self.seed * 1000 + hour).items():
                changed.setdefault(table, set()).update(ids)
                n += len(ids)
        return n, managers

    def _delete_child(self, changed: dict[str, set[int]], rng: random.Random, parents: list[dict[str, Any]],
                      path: str, key: str, what: str) -> int:
        for invoice in rng.sample(parents, min(len(parents), 20)):
            rows = self.sim.get(f"invoices/{invoice['id']}/{path}")[key]
            if rows:
                return self._apply(changed, what, "delete", key=key, id=rng.choice(rows)["id"])
        return self._skip(what)


# --------------------------------------------------------------------------------------- comparison
@dataclass
class TableDiff:
    table: str
    rows_a: int
    rows_b: int
    only_a: int = 0  # rows of A that B lacks (as a multiset)
    only_b: int = 0
    ids_a: list[Any] = field(default_factory=list)
    ids_b: list[Any] = field(default_factory=list)
    columns: str = ""  # columns only one side has (with values), if any
    by_design: int = 0  # report rows that differ in periods no run re-reads

    @property
    def equal(self) -> bool:
        return not (self.only_a or self.only_b or self.columns)


def _columns(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_catalog = c.table_catalog AND t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_catalog = ? AND c.table_schema = ? AND t.table_type = 'BASE TABLE' "
        "AND c.table_name NOT LIKE '\\_dlt\\_%' ESCAPE '\\' ORDER BY c.table_name, c.ordinal_position",
        [catalog, TABLE_SCHEMA]).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compare(file_a: str, file_b: str, reread_from: str) -> list[TableDiff]:
    """Every table of A against B's: the columns both have but dlt's, as multisets of rows. A column only
    one side has counts as a difference when it holds a value. Report tables: rows of periods starting
    before ``reread_from`` differ by design and are counted apart."""
    reports = {e.table for e in TOP_LEVEL if e.kind is Kind.REPORT}
    diffs: list[TableDiff] = []
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{file_a}' AS a (READ_ONLY)")
        con.execute(f"ATTACH '{file_b}' AS b (READ_ONLY)")
        cols_a, cols_b = _columns(con, "a"), _columns(con, "b")
        for table in sorted(set(cols_a) | set(cols_b)):
            ta, tb = f"a.{TABLE_SCHEMA}.{_q(table)}", f"b.{TABLE_SCHEMA}.{_q(table)}"
            rows_a = con.execute(f"SELECT count(*) FROM {ta}").fetchone()[0] if table in cols_a else 0
            rows_b = con.execute(f"SELECT count(*) FROM {tb}").fetchone()[0] if table in cols_b else 0
            diff = TableDiff(table, rows_a, rows_b)
            diffs.append(diff)
            if table not in cols_a or table not in cols_b:
                if rows_a or rows_b:  # an empty table and no table hold the same rows
                    diff.columns = "table only in " + ("A" if table in cols_a else "B")
                    diff.only_a, diff.only_b = rows_a, rows_b
                continue
            a_cols = [c for c in cols_a[table] if not c.startswith("_dlt_")]
            b_cols = [c for c in cols_b[table] if not c.startswith("_dlt_")]
            common = [c for c in a_cols if c in b_cols]
            extra = []
            for side, t, own, other in (("A", ta, a_cols, b_cols), ("B", tb, b_cols, a_cols)):
                for c in own:
                    if c not in other and con.execute(f"SELECT count({_q(c)}) FROM {t}").fetchone()[0]:
                        extra.append(f"{c} only in {side}")
            diff.columns = ", ".join(extra)
            select = ", ".join(_q(c) for c in common)
            key = "id" if "id" in common else None
            for side, first, second in (("a", ta, tb), ("b", tb, ta)):
                rows = con.execute(f"SELECT {select} FROM {first} EXCEPT ALL SELECT {select} FROM {second}").fetchall()
                if table in reports and "period_start" in common:
                    at = common.index("period_start")
                    old = [r for r in rows if str(r[at]) < reread_from]
                    diff.by_design += len(old)
                    rows = [r for r in rows if str(r[at]) >= reread_from]
                ids = sorted({r[common.index(key)] for r in rows}) if key else [r[:4] for r in rows]
                if side == "a":
                    diff.only_a, diff.ids_a = len(rows), ids[:SHOWN_IDS]
                else:
                    diff.only_b, diff.ids_b = len(rows), ids[:SHOWN_IDS]
    return diffs


def reread_start(at: str) -> str:
    """The first day of the oldest report period every run re-reads (months, REPORTS_REREAD_PERIODS)."""
    first = pendulum.parse(at).start_of("month").subtract(months=REPORTS_REREAD_PERIODS - 1)
    return first.to_date_string()


# --------------------------------------------------------------------------------------- report
def runs_table(runs: list[Run]) -> str:
    lines = ["| run | day | simulator time | changes | requests | bound | sweep (req - bound) | child requests | "
             "child bound | child sweep | rows deleted | wall s |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in runs:
        lines.append(f"| {r.label} | {r.day} | {r.at} | {r.changes:,} | {r.requests:,} | {r.bound:,} | "
                     f"{r.sweep:,} | {r.child:,} | {r.child_bound:,} | {r.child_sweep:,} | {r.deleted:,} | "
                     f"{r.wall_s:.1f} |")
    return "\n".join(lines)


def days_table(runs: list[Run], daily: int) -> str:
    lines = ["| day | runs | changes | requests | bound | sweep | sweep / daily child sweep | child requests | "
             "child sweep |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for day in sorted({r.day for r in runs if r.day > 0}):
        rs = [r for r in runs if r.day == day]
        sweep = sum(r.sweep for r in rs)
        lines.append(f"| {day} | {len(rs)} | {sum(r.changes for r in rs):,} | {sum(r.requests for r in rs):,} | "
                     f"{sum(r.bound for r in rs):,} | {sweep:,} | {sweep / daily:.3f} | "
                     f"{sum(r.child for r in rs):,} | {sum(r.child_sweep for r in rs):,} |")
    return "\n".join(lines)


def diff_table(diffs: list[TableDiff]) -> str:
    lines = ["| table | rows A | rows B | only in A | only in B | first ids only in A | first ids only in B | "
             "notes |", "|---|---:|---:|---:|---:|---|---|---|"]
    for d in diffs:
        notes = [d.columns] if d.columns else []
        if d.by_design:
            notes.append(f"{d.by_design} rows differ in periods read once (by design)")
        lines.append(f"| {d.table} | {d.rows_a:,} | {d.rows_b:,} | {d.only_a} | {d.only_b} | "
                     f"{', '.join(map(str, d.ids_a))} | {', '.join(map(str, d.ids_b))} | {'; '.join(notes)} |")
    return "\n".join(lines)


def parse_option(text: str) -> tuple[str, Any]:
    name, _, value = text.partition("=")
    if not name or not _:
        raise argparse.ArgumentTypeError(f"{text!r}: use NAME=VALUE")
    try:
        return name.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name.strip(), value


# --------------------------------------------------------------------------------------- scenario
def scenario(args: argparse.Namespace, root: Path) -> tuple[list[Run], list[TableDiff], list[Target], str]:
    options: dict[str, Any] = {"rate_limit_window_s": 1e-3, **dict(args.source_option or [])}
    runs: list[Run] = []
    notes: list[str] = []
    with SimProcess(args.scale, seed=args.seed, rate_limit="off", latency_ms=0) as sim:
        counts = sim.counts()
        users, managers = sim.users_and_managers()
        computed = all_child_requests(counts, len(managers))
        print(f"simulator: scale={args.scale}, seed {args.seed}, now {sim.now()}, {counts['invoices']:,} invoices, "
              f"{counts['estimates']:,} estimates, {len(users)} users ({len(managers)} managers); no rate limit; "
              f"source options {options}", flush=True)

        folder_a = fresh_folder(root, "a")
        first = load(sim, folder_a, options, "full load", 0, {}, managers, 0)
        first.bound = first.requests  # a first load reads everything: no sweep
        first.child_bound = first.child
        runs.append(first)
        daily = first.child
        print(f"  full load: {first.requests:,} requests, {first.child:,} child requests (computed: {computed:,}) "
              f"in {first.wall_s:.1f} s", flush=True)

        changes = Changes(sim, args.seed)
        for hour in range(1, 25):
            sim.advance_clock(HOUR)
            changed: dict[str, set[int]] = {}
            n, managers = changes.hour(hour, changed, args.fraction)
            run = load(sim, folder_a, options, f"day 1, hour {hour}", 1, changed, managers, n)
            runs.append(run)
            print(f"  {run.label}: {n} changes, {run.requests:,} requests (bound {run.bound:,}), "
                  f"{run.child:,} child, {run.deleted} rows deleted, {run.wall_s:.1f} s", flush=True)
        last_change = day1_end = pendulum.parse(sim.now())

        late_until = last_change + pendulum.duration(days=args.verify_days + 1)
        step = int(args.late_every * HOUR)
        index = 0
        while pendulum.parse(sim.now()) < late_until:
            index += 1
            sim.advance_clock(step)
            changed = {}
            n = 0
            if args.late_fraction > 0:
                for table, ids in sim.mutate_random(fraction=args.late_fraction, seed=args.seed * 1000 + 100 + index
                                                    ).items():
                    changed.setdefault(table, set()).update(ids)
                    n += len(ids)
                last_change = pendulum.parse(sim.now())
                late_until = max(late_until, last_change + pendulum.duration(days=args.verify_days + 1))
            # day 2 is the 24 h after day 1's last run, and so on
            day = 1 + max(1, math.ceil((pendulum.parse(sim.now()) - day1_end).total_seconds() / DAY))
            run = load(sim, folder_a, options, f"late run {index}", day, changed, managers, n)
            runs.append(run)
            print(f"  {run.label} (day {day}, {run.at}): {run.requests:,} requests (bound {run.bound:,}), "
                  f"{run.child:,} child, {run.deleted} rows deleted, {run.wall_s:.1f} s", flush=True)

        folder_b = fresh_folder(root, "b")
        fresh = load(sim, folder_b, options, "fresh full load (B)", -1, {}, managers, 0, pipeline="harvest_fresh")
        print(f"  fresh full load: {fresh.requests:,} requests in {fresh.wall_s:.1f} s", flush=True)
        notes.append(f"explicit changes applied: {changes.log}")
        if changes.skipped:
            notes.append(f"explicit changes with nothing to apply them to: {changes.skipped}")
        notes.append(f"records deleted in the simulator: "
                     f"{ {k: len(v) for k, v in sorted(changes.deleted.items())} }")

    diffs = compare(str(folder_a / "harvest.duckdb"), str(folder_b / "harvest.duckdb"), reread_start(fresh.at))
    day1 = [r for r in runs if r.day == 1]
    sweep1 = sum(r.sweep for r in day1)
    ratio = sweep1 / daily if daily else math.inf
    unequal = [d for d in diffs if not d.equal]
    rows = sum(d.rows_a for d in diffs)
    differences = "; ".join(f"{d.table}: {d.only_a} only in A, {d.only_b} only in B"
                            + (f" ({d.columns})" if d.columns else "") for d in unequal[:8]) or "none"
    if len(unequal) > 8:
        differences += f"; {len(unequal) - 8} more tables (listed above)"
    by_design = sum(d.by_design for d in diffs)
    targets = [
        Target("rotation_budget", ratio <= args.budget,
               f"day 1: sweep requests {sweep1:,} / today's daily child sweep {daily:,} = {ratio:.3f} "
               f"(<= {args.budget:g}; scale {args.scale}; sweep = requests - incremental bound, clamped at 0)"),
        Target("rotation_equal", not unequal,
               f"every table equals a fresh full load ({len(diffs)} tables, {rows:,} rows; differences: "
               f"{differences})" + (f"; {by_design} report rows of periods read once differ, by design"
                                    if by_design else "")),
    ]
    total1 = sum(r.requests for r in day1)
    bound1 = sum(r.bound for r in day1)
    later = [r for r in runs if r.day > 1]
    notes.append(f"day 1: {total1:,} requests in {len(day1)} runs; a purely incremental day: {bound1:,}; today's "
                 f"behaviour, estimated: {bound1:,} + one daily child sweep {daily:,} = {bound1 + daily:,} "
                 f"(the deletion sweep's listings not included); measured / estimate = "
                 f"{total1 / (bound1 + daily):.3f}")
    notes.append(f"days 2..{max((r.day for r in later), default=1)}: {sum(r.requests for r in later):,} requests "
                 f"in {len(later)} runs (bound {sum(r.bound for r in later):,}, sweep {sum(r.sweep for r in later):,},"
                 f" child {sum(r.child for r in later):,}); whole scenario after the first load: "
                 f"{sum(r.requests for r in runs if r.day > 0):,} requests")
    notes.append(f"today's daily child sweep: {daily:,} child requests in the full load; computed parents x child "
                 f"endpoints (teammates: managers only): {computed:,}")
    notes.append(f"fresh full load (B): {fresh.requests:,} requests at {fresh.at}")
    return runs, diffs, targets, "\n".join(notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=("tiny", "small", "large", "huge"), default="large")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fraction", type=float, default=0.002,
                        help="mutate_random's share of every kind changed before each day-1 run (default 0.2 %%)")
    parser.add_argument("--verify-days", type=float, default=7.0,
                        help="days 2..N last until this many days + 1 have passed since the last change")
    parser.add_argument("--late-every", type=float, default=6.0, help="hours between runs after day 1")
    parser.add_argument("--late-fraction", type=float, default=0.0, help="mutate_random before each later run")
    parser.add_argument("--budget", type=float, default=0.15,
                        help="rotation_budget: day 1's sweep requests / today's daily child sweep at most this")
    parser.add_argument("--source-option", type=parse_option, action="append", metavar="NAME=VALUE",
                        help="a harvest_source argument for every load (repeatable), e.g. verify_days=7")
    parser.add_argument("--keep", action="store_true", help="keep the folders with the two DuckDB files (printed)")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="harvest-rotation-"))
    started = time.perf_counter()
    try:
        runs, diffs, targets, notes = scenario(args, root)
    finally:
        if args.keep:
            print(f"folders kept in {root} (a: hourly runs, b: fresh full load)")
        else:
            shutil.rmtree(root, ignore_errors=True)
    daily = runs[0].child
    print()
    print(f"python benchmarks/rotation.py {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"scale {args.scale}, seed {args.seed}, day 1: 24 hourly runs with {args.fraction:.2%} random changes "
          f"and explicit ones; then a run every {args.late_every:g} h until {args.verify_days:g} + 1 days after the "
          f"last change; {os.cpu_count()} cores, total {time.perf_counter() - started:.0f} s")
    print()
    print(runs_table(runs))
    print()
    print(days_table(runs, daily))
    print()
    print(diff_table(diffs))
    print()
    print(notes)
    print()
    for target in targets:
        print(target.line())
    return 0 if all(t.ok for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
