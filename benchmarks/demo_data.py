"""Plausibility figures of a loaded demo database: does the demo look like a real agency today?

    python pipelines/harvest_pipeline.py --demo          # in an empty folder: writes harvest.duckdb
    python benchmarks/demo_data.py harvest.duckdb        # prints the figures below

Each figure is one SQL query on the tables (not the views, so the figures do not move when a view changes),
kept here so that a before/after comparison of the simulator's data is one command each time.
"""

from __future__ import annotations

import argparse
import sys

import duckdb

# (label, SQL returning one row); percentages are of the row count the label names
FIGURES: tuple[tuple[str, str], ...] = (
    ("last spent_date of a time entry", "SELECT max(spent_date) FROM time_entries"),
    ("time entries / user-days / max hours on one user-day / share of user-days under 10 h", """
        WITH d AS (SELECT user__id, spent_date, sum(hours) AS h FROM time_entries GROUP BY ALL)
        SELECT (SELECT count(*) FROM time_entries), count(*), round(max(h), 2),
               round(100.0 * avg(CASE WHEN h < 10 THEN 1 ELSE 0 END), 1) || ' %'
        FROM d"""),
    ("user-weeks / share at 50-110 % of weekly capacity / count above 150 % / median %", """
        WITH w AS (
            SELECT te.user__id, date_trunc('week', te.spent_date) AS wk,
                   100.0 * sum(te.hours) * 3600 / max(u.weekly_capacity) AS pct
            FROM time_entries te JOIN users u ON u.id = te.user__id GROUP BY ALL)
        SELECT count(*), round(100.0 * avg(CASE WHEN pct BETWEEN 50 AND 110 THEN 1 ELSE 0 END), 1) || ' %',
               count(*) FILTER (WHERE pct > 150), round(median(pct), 1)
        FROM w"""),
    ("projects with a budget / budget used % min, median, max / share at 10-130 %", """
        SELECT count(*), round(min(percent_used), 0), round(median(percent_used), 0), round(max(percent_used), 0),
               round(100.0 * avg(CASE WHEN percent_used BETWEEN 10 AND 130 THEN 1 ELSE 0 END), 1) || ' %'
        FROM v_project_budget WHERE percent_used IS NOT NULL"""),
    ("open invoices / days overdue min, max / share current or under 60 days late", """
        WITH o AS (SELECT greatest(current_date - due_date, 0) AS late FROM invoices WHERE state = 'open')
        SELECT count(*), min(late), max(late), round(100.0 * avg(CASE WHEN late < 60 THEN 1 ELSE 0 END), 1) || ' %'
        FROM o"""),
    ("payments / payments dated before their invoice's issue date", """
        SELECT count(*), count(*) FILTER (WHERE p.paid_date < i.issue_date)
        FROM invoice_payments p JOIN invoices i ON i.id = p.invoice_id"""),
)


def figures(path: str, dataset: str = "harvest_data") -> list[tuple[str, tuple]]:
    """Each label with the row its query returns."""
    with duckdb.connect(path, read_only=True) as con:
        con.execute(f"SET search_path = '{dataset}'")
        return [(label, con.execute(sql).fetchone()) for label, sql in FIGURES]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("duckdb_file", nargs="?", default="harvest.duckdb")
    p.add_argument("--dataset", default="harvest_data")
    args = p.parse_args(argv)
    for label, row in figures(args.duckdb_file, args.dataset):
        print(f"{label}: {' / '.join(str(x) for x in row)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
