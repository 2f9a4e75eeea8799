"""Arithmetic for issue 13 §2: what a rotating child sweep must cost a day under the issue's guarantees.

    python benchmarks/sweep_budget.py --scale large

Today every child table re-reads every parent once a day. The rotating sweep must re-read live parents
(open and draft invoices, draft and sent estimates, active users) within 24 h and every other parent
within ``verify_days``, so a day costs at least ``L + (1 - L) / verify_days`` of today's sweep per parent
class (L: the live share). Counts come from the simulator's generated account (no HTTP); "updated in the
last 30 days", also live in the issue, can only add to them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harvest_source.catalog import ENDPOINTS  # noqa: E402
from harvest_source.rotation import LIVE_WHEN  # noqa: E402
from harvest_source.simulator.generator import generate  # noqa: E402
from harvest_source.simulator.store import Store  # noqa: E402


def is_live(parent: str, record: dict) -> bool:
    """The rotation's live class by state alone (``rotation.LIVE_WHEN``; "updated in 30 days" only adds)."""
    field, values = LIVE_WHEN[parent]
    return record.get(field) in values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="large")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--verify-days", type=float, default=7.0)
    args = parser.parse_args(argv)
    store = Store(seed=args.seed)
    generate(store, args.scale, args.seed)
    store.ensure_derived()
    today = rotating = 0.0
    print("| parents | count | children per parent | live | live share | daily share | requests/day today | "
          "rotating |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for parent in LIVE_WHEN:
        records = list(store.objs(parent).values())
        managers = [r for r in records if "manager" in (r.get("access_roles") or ())]
        children = [e for e in ENDPOINTS if e.fan_out is not None and e.fan_out.parent == parent]
        per_parent = [len(managers) / len(records) if e.fan_out.only_if_access_role == "manager" else 1.0
                      for e in children]
        live = sum(1 for r in records if is_live(parent, r))
        share = live / len(records)
        daily = share + (1 - share) / args.verify_days
        now = len(records) * sum(per_parent)
        today += now
        rotating += now * daily
        print(f"| {parent} | {len(records):,} | {sum(per_parent):.2f} ({', '.join(e.table for e in children)}) | "
              f"{live:,} | {share:.1%} | {daily:.1%} | {now:,.0f} | {now * daily:,.0f} |")
    print(f"\nrotating sweep, at least: {rotating:,.0f} of {today:,.0f} requests a day = {rotating / today:.1%} "
          f"(target 15 %; verify_days {args.verify_days:g}); the weekly rotation alone: {1 / args.verify_days:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
