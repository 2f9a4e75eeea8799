"""How verify speaks: one line per check, the differing subjects under it, and what to look at and run.

The remedies follow what each load can repair: an incremental run picks up what Harvest stamped with a
new ``updated_at`` (edits, invoicing); rows deleted in Harvest leave with the next deletion sweep
(``--sweep`` runs it now; with ``deletes = off`` only ``--full-refresh`` removes them); rows changed by hand
in the destination and changes Harvest made without a new ``updated_at`` stay until ``--full-refresh``.
"""

from __future__ import annotations

from decimal import Decimal

from ..settings import EXIT_DIFFERS, VERIFY_SHOWN_DIFFERENCES, VERIFY_TOLERANCE
from .checks import DIFF, Breakdown, Check, Key, Month

RULE = (f"rounding: destination sums of exact decimals and Harvest's report totals, both rounded to 2 places "
        f"(half up), equal within {VERIFY_TOLERANCE}; a subject missing on one side counts as 0")
EXIT_CODES = f"exit codes: 0 every check matches, {EXIT_DIFFERS} something differs, 1 could not check"


def count_check(table: str, mine: int, theirs: int) -> Check:
    name = f"rows {table}"
    if mine == theirs:
        return Check(name, "OK", f"{mine} = Harvest {theirs}")
    detail = f"destination {mine}, Harvest {theirs} ({mine - theirs:+d})"
    if mine > theirs:
        hint = (f"look at: {table} ids Harvest no longer lists (deleted there; an incremental load never sees a "
                f"delete, the daily deletion sweep does); run: harvest-dlt --sweep (with deletes = off: "
                f"harvest-dlt --full-refresh)")
    else:
        hint = (f"look at: {table} rows Harvest has and the destination lacks; run: harvest-dlt --resources "
                f"{table} (incremental), then --verify again; if it stays, harvest-dlt --full-refresh")
    return Check(name, DIFF, detail, hint=hint)


def missing_table_check(table: str, theirs: int) -> Check:
    return Check(f"rows {table}", DIFF, f"not in the destination, Harvest {theirs}",
                 hint=f"run: harvest-dlt --resources {table}")


def sum_check(breakdown: Breakdown, month: Month, subjects: int,
              diffs: list[tuple[Key, str, Decimal, Decimal]], names: dict[Key, str]) -> Check:
    name = f"{breakdown.label} {month.label}"
    if not diffs:
        count = f"{subjects} {_noun(breakdown)} match" if subjects else f"no {_noun(breakdown)} on either side"
        return Check(name, "OK", f"{count} ({month.start} to {month.end})")
    keys = list(dict.fromkeys(key for key, *_ in diffs))
    lines = []
    for key in keys[:VERIFY_SHOWN_DIFFERENCES]:
        figures = "; ".join(f"{metric} destination {a}, Harvest {b}" for k, metric, a, b in diffs if k == key)
        label = f"{breakdown.subject} {key[0]}" + (f" {names[key]!r}" if names.get(key) else "")
        lines.append(f"{label} ({key[1] or '-'}): {figures}")
    if len(keys) > VERIFY_SHOWN_DIFFERENCES:
        lines.append(f"... and {len(keys) - VERIFY_SHOWN_DIFFERENCES} more")
    tables = ", ".join(breakdown.tables)
    ids = ", ".join(str(k[0]) for k in keys[:VERIFY_SHOWN_DIFFERENCES])
    hint = (f"look at: {tables} rows with spent_date in {month.label} and {breakdown.column} in ({ids}); "
            f"run: harvest-dlt --resources {tables.replace(', ', ',')} (loads what Harvest changed with a new "
            f"updated_at, e.g. invoiced time), then harvest-dlt --verify --since {month.start}; a row deleted "
            f"in Harvest leaves with harvest-dlt --sweep; a difference that stays (a row edited in the "
            f"destination, a change without a new updated_at) needs harvest-dlt --full-refresh")
    return Check(name, DIFF, f"{len(keys)} of {subjects} {_noun(breakdown)} differ", lines, hint)


def _noun(breakdown: Breakdown) -> str:
    return breakdown.subject.removesuffix("_id") + "s"


def format_checks(checks: list[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status:<5} {check.name}: {check.detail}")
        lines.extend(f"        {line}" for line in check.differences)
        if check.hint:
            lines.append(f"        {check.hint}")
    return "\n".join(lines)
