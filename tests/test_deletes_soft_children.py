"""Soft deletes of one child under a parent that keeps others, over real HTTP to the simulator, on DuckDB (and
PostgreSQL when HARVEST_TEST_POSTGRES_DSN is set): a payment of an invoice with several, a message of an
estimate with several. In soft mode child tables merge on their own key, so the re-read parent's load leaves
the deleted child's row in place and the deletion pass marks it; a marked child Harvest returns again is
unmarked by the load that carries it. Also: a dataset loaded in hard mode and switched to soft (its child
tables loaded with a merge key), and back to hard.
"""

from __future__ import annotations

from typing import Any

import duckdb

from harvest_source.runner import EXIT_OK, format_summary
from harvest_source.settings import SOFT_DELETED_COLUMN
from tests import test_deletes_sweep as sweep
from tests.test_deletes_sweep import _with_children, assert_equal_to_fresh

sim, warehouses = sweep.sim, sweep.warehouses  # the simulator and the DuckDB / PostgreSQL datasets (fixtures)

SOFT = {"source_options": {"deletes": "soft"}}
HARD = {"source_options": {"deletes": "hard"}}
CHILDREN = {"invoice_payments": ("invoices", "invoice_id"), "estimate_messages": ("estimates", "estimate_id")}


def delete_one_child_each(sim: Any) -> dict[str, tuple[int, int]]:
    """One payment of an invoice keeping others, one message of an estimate keeping others:
    child table -> (parent id, deleted child id)."""
    gone: dict[str, tuple[int, int]] = {}
    for table, (parents, _) in CHILDREN.items():
        parent = _with_children(sim, parents, table, 2)[0]
        child = sim.records(table, parent)[0]["id"]
        sim.mutate("delete", key=table, id=child)
        gone[table] = (parent, child)
    return gone


def children_of(warehouse: Any, table: str, parent: int) -> dict[int, Any]:
    """The warehouse's children of ``parent``: child id -> its mark (None: unmarked)."""
    key = CHILDREN[table][1]
    marks = SOFT_DELETED_COLUMN if SOFT_DELETED_COLUMN in warehouse.columns().get(table, []) else "NULL"
    rows = warehouse.query(f'SELECT id, {marks} FROM "{warehouse.dataset}"."{table}" WHERE {key} = {parent}')
    return dict(rows)


def assert_marked(warehouse: Any, sim: Any, gone: dict[str, tuple[int, int]]) -> None:
    for table, (parent, child) in gone.items():
        rows = children_of(warehouse, table, parent)
        assert rows.get(child) is not None, (table, child, rows)  # still there, and marked
        live = {r["id"] for r in sim.records(table, parent)}
        assert live and set(rows) == live | {child}, (table, rows, live)
        assert all(rows[i] is None for i in live), (table, rows)  # the others are not


def write(warehouse: Any, sql: str) -> None:
    """Change the warehouse outside a run (``Warehouse.query`` opens DuckDB read-only)."""
    if warehouse.kind == "duckdb":
        with duckdb.connect(warehouse.file) as con:
            con.execute(sql)
    else:
        warehouse.query(sql)


def test_soft_marks_a_child_its_re_read_parent_no_longer_returns(sim: Any, warehouses: Any) -> None:
    swept, fresh = warehouses("swept"), warehouses("fresh")
    assert swept.run(sim, **SOFT).exit_code == EXIT_OK
    gone = delete_one_child_each(sim)

    # no sweep: deleting a payment bumps its invoice, so the invoice's payments are re-read (a message's
    # estimate is not bumped: it is re-read by the sweep below)
    result = swept.run(sim, **SOFT)
    assert result.exit_code == EXIT_OK, result.error
    assert_marked(swept, sim, {"invoice_payments": gone["invoice_payments"]})
    assert result.deleted == {"invoice_payments": 1}, result.deleted
    summary = format_summary(result)
    assert "marked deleted: invoice_payments 1" in summary, summary
    swept_result = swept.run(sim, force_sweep=True, **SOFT)
    assert swept_result.exit_code == EXIT_OK, swept_result.error
    assert swept_result.deleted == {"estimate_messages": 1}, swept_result.deleted
    assert_marked(swept, sim, gone)
    assert fresh.run(sim).exit_code == EXIT_OK
    assert_equal_to_fresh(swept, fresh, live_only=True)

    # a forced sweep re-reads every parent's children: nothing new to mark, the marks stay
    again = swept.run(sim, force_sweep=True, **SOFT)
    assert again.exit_code == EXIT_OK and again.deleted == {}, again.deleted
    assert_marked(swept, sim, gone)
    assert_equal_to_fresh(swept, fresh, live_only=True)


def test_a_marked_child_harvest_returns_again_is_unmarked(sim: Any, warehouses: Any) -> None:
    warehouse = warehouses("swept")
    assert warehouse.run(sim, **SOFT).exit_code == EXIT_OK
    gone = delete_one_child_each(sim)
    assert warehouse.run(sim, force_sweep=True, **SOFT).exit_code == EXIT_OK
    # a live payment marked (as if a pass had judged it gone): the next re-read of its invoice carries it
    parent, _ = gone["invoice_payments"]
    live = sim.records("invoice_payments", parent)[0]["id"]
    write(warehouse, f'UPDATE "{warehouse.dataset}".invoice_payments SET {SOFT_DELETED_COLUMN} = '
                     f"CAST('2026-01-01 00:00:00+00' AS TIMESTAMP WITH TIME ZONE) WHERE id = {live}")
    assert children_of(warehouse, "invoice_payments", parent)[live] is not None
    result = warehouse.run(sim, force_sweep=True, **SOFT)
    assert result.exit_code == EXIT_OK and result.deleted == {}, result.deleted
    assert_marked(warehouse, sim, gone)  # unmarked again, one row only; the deleted one still marked


def test_a_hard_dataset_switched_to_soft_marks_children_and_back_to_hard_removes_them(
        sim: Any, warehouses: Any) -> None:
    warehouse = warehouses("swept")
    assert warehouse.run(sim, **HARD).exit_code == EXIT_OK  # child tables loaded with the parent as merge key
    assert warehouse.run(sim, **SOFT).exit_code == EXIT_OK
    gone = delete_one_child_each(sim)
    soft = warehouse.run(sim, force_sweep=True, **SOFT)
    assert soft.exit_code == EXIT_OK, soft.error
    assert_marked(warehouse, sim, gone)  # marked, not removed: the merge key the hard loads left is gone
    assert soft.deleted == {"invoice_payments": 1, "estimate_messages": 1}, soft.deleted

    # back to hard: a parent's re-read replaces its children again, the marked row with them
    hard = warehouse.run(sim, force_sweep=True, **HARD)
    assert hard.exit_code == EXIT_OK, hard.error
    for table, (parent, child) in gone.items():
        rows = children_of(warehouse, table, parent)
        assert child not in rows and set(rows) == {r["id"] for r in sim.records(table, parent)}, (table, rows)


def test_the_plan_keeps_returned_children_in_soft_mode_only() -> None:
    """Told from the gather threads at once; hard mode keeps only the parents that had none."""
    from concurrent.futures import ThreadPoolExecutor

    from harvest_source.deletion_pass import DeletionPlan

    soft, hard = DeletionPlan("soft", client=None), DeletionPlan("hard", client=None)  # type: ignore[arg-type]
    for plan in (soft, hard):
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda p, plan=plan: plan.children_read("invoice_payments", p, range(p % 3)), range(300)))
    assert soft.children_returned["invoice_payments"] == {p: set(range(p % 3)) for p in range(300) if p % 3}
    assert hard.children_returned == {}
    assert soft.childless == hard.childless == {"invoice_payments": {p for p in range(300) if not p % 3}}
