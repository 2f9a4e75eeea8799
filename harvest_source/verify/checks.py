"""What ``verify`` compares: the breakdowns (a Harvest report and the destination sums that should equal it),
the months, and the comparison of two sets of figures under the stated rounding rule.

Rounding: the destination sums exact decimals (the connector loads hours and money as DECIMAL); Harvest
(and the simulator, ``simulator/reports.py``) sums per subject and rounds each total to 2 places. Both
sides are rounded to ``VERIFY_PLACES`` (half up) and called equal within ``VERIFY_TOLERANCE`` (0.01):
Harvest sums binary floats, so a total on a half-cent boundary may round either way there. A subject
missing on one side counts as zero on that side (Harvest leaves out rows it has nothing to say about,
e.g. an uninvoiced row for a project with only non-billable expenses).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from ..settings import VERIFY_MONTHS_BACK, VERIFY_PLACES, VERIFY_TOLERANCE

OK, DIFF, SKIP = "OK", "DIFF", "SKIP"
QUANTUM = Decimal(1).scaleb(-VERIFY_PLACES)
TOLERANCE = Decimal(VERIFY_TOLERANCE)

# A subject's key in a breakdown: (subject id, currency). Its figures: metric -> value.
Key = tuple[int | None, str | None]
Figures = dict[str, Decimal]

_BILLABLE_HOURS = "CASE WHEN billable THEN hours ELSE 0 END"
_BILLABLE_AMOUNT = "CASE WHEN billable THEN hours * COALESCE(billable_rate, 0) ELSE 0 END"
_UNBILLED = "billable AND NOT is_billed"


@dataclass(frozen=True)
class Part:
    """One destination table's share of a breakdown: report metric -> SQL expression summed per subject."""

    table: str
    metrics: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Breakdown:
    """A Harvest report per month, and the destination sums that must equal it, per subject and currency."""

    label: str  # "time by client"
    report: str  # Harvest path
    subject: str  # the report row's subject id key
    column: str  # the destination column holding that id
    name_key: str  # the report row's subject name, for the lines verify prints
    parts: tuple[Part, ...]
    params: tuple[tuple[str, str], ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(p.table for p in self.parts)

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m for p in self.parts for m, _ in p.metrics))


_TIME = Part("time_entries", (("total_hours", "hours"), ("billable_hours", _BILLABLE_HOURS),
                              ("billable_amount", _BILLABLE_AMOUNT)))
_EXPENSES = Part("expenses", (("total_amount", "total_cost"),
                              ("billable_amount", "CASE WHEN billable THEN total_cost ELSE 0 END")))
_UNINVOICED_TIME = Part("time_entries", (
    ("total_hours", "hours"),
    ("uninvoiced_hours", f"CASE WHEN {_UNBILLED} THEN hours ELSE 0 END"),
    ("uninvoiced_amount", f"CASE WHEN {_UNBILLED} THEN hours * COALESCE(billable_rate, 0) ELSE 0 END"),
))
_UNINVOICED_EXPENSES = Part("expenses", (
    ("uninvoiced_expenses", f"CASE WHEN {_UNBILLED} THEN total_cost ELSE 0 END"),
    ("uninvoiced_amount", f"CASE WHEN {_UNBILLED} THEN total_cost ELSE 0 END"),
))
_FIXED_FEE = (("include_fixed_fee", "true"),)  # Harvest's default, sent so the figures never depend on it

BREAKDOWNS: tuple[Breakdown, ...] = (
    Breakdown("time by client", "reports/time/clients", "client_id", "client__id", "client_name", (_TIME,),
              _FIXED_FEE),
    Breakdown("time by project", "reports/time/projects", "project_id", "project__id", "project_name", (_TIME,),
              _FIXED_FEE),
    Breakdown("time by user", "reports/time/team", "user_id", "user__id", "user_name", (_TIME,), _FIXED_FEE),
    Breakdown("expenses by client", "reports/expenses/clients", "client_id", "client__id", "client_name",
              (_EXPENSES,)),
    Breakdown("expenses by project", "reports/expenses/projects", "project_id", "project__id", "project_name",
              (_EXPENSES,)),
    Breakdown("expenses by user", "reports/expenses/team", "user_id", "user__id", "user_name", (_EXPENSES,)),
    Breakdown("uninvoiced by project", "reports/uninvoiced", "project_id", "project__id", "project_name",
              (_UNINVOICED_TIME, _UNINVOICED_EXPENSES), _FIXED_FEE),
)


@dataclass
class Check:
    """One line of verify's output: what was compared, and for a difference what differs and what to do."""

    name: str
    status: str
    detail: str
    differences: list[str] = field(default_factory=list)
    hint: str = ""


@dataclass(frozen=True)
class Month:
    start: dt.date
    end: dt.date  # inclusive; today for the current month

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m")


def default_since(today: dt.date) -> dt.date:
    """The first day of the month ``VERIFY_MONTHS_BACK`` months before today's."""
    index = today.year * 12 + today.month - 1 - VERIFY_MONTHS_BACK
    return dt.date(index // 12, index % 12 + 1, 1)


def months(since: dt.date, until: dt.date) -> list[Month]:
    """Calendar months from ``since`` to ``until`` (each within one report's one-year limit)."""
    out: list[Month] = []
    start = since
    while start <= until:
        following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        out.append(Month(start, min(following - dt.timedelta(days=1), until)))
        start = following
    return out


def rounded(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def differences(mine: dict[Key, Figures], theirs: dict[Key, Figures], metrics: tuple[str, ...],
                ) -> list[tuple[Key, str, Decimal, Decimal]]:
    """(subject, metric, destination, Harvest) for every figure that differs after rounding."""
    zero = Decimal(0)
    out = []
    for key in sorted(set(mine) | set(theirs), key=repr):
        for metric in metrics:
            a = rounded(mine.get(key, {}).get(metric, zero))
            b = rounded(theirs.get(key, {}).get(metric, zero))
            if abs(a - b) > TOLERANCE:
                out.append((key, metric, a, b))
    return out
