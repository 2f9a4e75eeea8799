"""What both row backends (``warehouse_rows`` on SQL, ``delta_rows`` on Delta tables) must do alike: the
checks ``test_warehouse_rows`` and ``test_delta_rows`` share, with their accounts and time."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import dlt

from harvest_source.settings import SOFT_DELETED_COLUMN

A, B = 111, 222
NOW = "2026-12-06T12:00:00Z"


def check_marks_by_dlt_id_in_one_account(pipeline: dlt.Pipeline, backend: ModuleType, **run: Any) -> None:
    """``mark_row_ids`` marks this account's rows by ``_dlt_id`` only, once."""
    pipeline.run(run.pop("source"), **run)
    rows = backend.read_rows(pipeline, "invoices", A, ("id", "_dlt_id"))
    first = [row_id for i, row_id in rows if i == 1]
    others = [row_id for _, row_id in backend.read_rows(pipeline, "invoices", B, ("id", "_dlt_id"))]
    assert backend.mark_row_ids(pipeline, "invoices", A, [*first, *others, "no'such"], NOW) == 1  # not B's
    assert backend.mark_row_ids(pipeline, "invoices", A, first, NOW) == 0  # marked already
    marked = sorted((a, i) for a in (A, B)
                    for i, at in backend.read_rows(pipeline, "invoices", a, ("id", SOFT_DELETED_COLUMN))
                    if at is not None)
    assert marked == [(A, 1)]
