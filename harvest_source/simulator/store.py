"""The in-memory account: one table per Harvest records key, each record kept as pre-serialized JSON bytes.

Why bytes: a 2000-record page is then a ``b",".join`` of ready slices, not 2000 encodes. Each record also
gets a small ``Row`` of the attributes that filters, ordering and reports need, derived from the record
itself so the bytes and the index can never disagree. Mutations decode, change and re-``put`` a record.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Callable, Iterable
from typing import Any

from ._json import dumps_stored, loads
from .clock import SimClock
from .records import ua_embed

# How each list is ordered (reference 3.4). Ids grow with creation time everywhere in this simulator, so
# "creation date, newest first" is id descending and "start_date, oldest first" (rates) is id ascending;
# that is also what makes id-keyset cursors exact.
ORDER: dict[str, str] = {
    "clients": "id_desc",
    "contacts": "id_desc",
    "invoices": "date_desc",
    "invoice_messages": "id_desc",
    "invoice_payments": "id_desc",
    "invoice_item_categories": "id_desc",
    "estimates": "date_desc",
    "estimate_messages": "id_desc",
    "estimate_item_categories": "id_desc",
    "expenses": "date_desc",
    "expense_categories": "id_desc",
    "tasks": "id_desc",
    "time_entries": "date_desc",
    "projects": "id_desc",
    "user_assignments": "id_desc",
    "task_assignments": "id_desc",
    "project_assignments": "id_desc",
    "roles": "id_desc",
    "users": "id_desc",
    "billable_rates": "id_asc",
    "cost_rates": "id_asc",
    "teammates": "id_desc",
}
TABLE_KEYS = tuple(ORDER)
# Tables that are nested under a parent (the record itself does not carry the parent id).
PARENT_OF: dict[str, str] = {
    "invoice_messages": "invoices",
    "invoice_payments": "invoices",
    "estimate_messages": "estimates",
    "user_assignments": "projects",
    "task_assignments": "projects",
    "project_assignments": "users",
    "billable_rates": "users",
    "cost_rates": "users",
    "teammates": "users",
}
# Tables computed from others (rebuilt lazily after a change to a source table).
DERIVED = ("project_assignments", "teammates")
DERIVED_SOURCES = frozenset({"users", "projects", "clients", "user_assignments", "task_assignments", "tasks"})
_DATE_FIELD = {
    "time_entries": "spent_date",
    "expenses": "spent_date",
    "invoices": "issue_date",
    "estimates": "issue_date",
}


class Row:
    """Index entry of one record: filterable attributes plus the record's JSON bytes."""

    __slots__ = (
        "id", "parent", "updated", "date", "active", "user_id", "client_id", "project_id", "task_id",
        "is_billed", "is_running", "ext_ref", "state", "invoice_id", "extra", "data",
    )

    def __init__(self) -> None:
        self.parent = self.updated = self.date = self.active = self.invoice_id = None
        self.user_id = self.client_id = self.project_id = self.task_id = None
        self.is_billed = self.is_running = self.ext_ref = self.state = self.extra = None


def _ref_id(obj: dict, key: str) -> int | None:
    ref = obj.get(key)
    return ref["id"] if ref else None


def derive(key: str, obj: dict, parent: int | None) -> Row:
    """Build the index row of ``obj`` (a record of table ``key``)."""
    r = Row()
    r.id = obj["id"]
    r.parent = parent
    r.updated = obj.get("updated_at")
    r.active = obj.get("is_active")
    df = _DATE_FIELD.get(key)
    if df:
        r.date = obj[df]
    if key == "time_entries":
        r.user_id = obj["user"]["id"]
        r.client_id = obj["client"]["id"]
        r.project_id = obj["project"]["id"]
        r.task_id = obj["task"]["id"]
        r.is_billed = obj["is_billed"]
        r.is_running = obj["is_running"]
        r.invoice_id = _ref_id(obj, "invoice")
        ext = obj.get("external_reference")
        r.ext_ref = ext["id"] if ext else None
        r.extra = (obj["hours"], obj["billable"], obj["billable_rate"] or 0, obj["client"]["currency"])
    elif key == "expenses":
        r.user_id = obj["user"]["id"]
        r.client_id = obj["client"]["id"]
        r.project_id = obj["project"]["id"]
        r.is_billed = obj["is_billed"]
        r.invoice_id = _ref_id(obj, "invoice")
        r.extra = (obj["total_cost"], obj["billable"], obj["client"]["currency"], obj["expense_category"]["id"])
    elif key == "invoices":
        r.client_id = obj["client"]["id"]
        r.state = obj["state"]
        r.extra = tuple(sorted({li["project"]["id"] for li in obj["line_items"] if li.get("project")}))
    elif key == "estimates":
        r.client_id = obj["client"]["id"]
        r.state = obj["state"]
    elif key in ("contacts", "projects"):
        r.client_id = _ref_id(obj, "client")
    elif key == "user_assignments":
        r.user_id = obj["user"]["id"]
        r.project_id = obj["project"]["id"]
    elif key == "task_assignments":
        r.project_id = obj["project"]["id"]
        r.task_id = obj["task"]["id"]
    elif key == "project_assignments":
        r.project_id = obj["project"]["id"]
        r.user_id = parent
    elif key in ("billable_rates", "cost_rates"):
        r.date = obj["start_date"]
    r.data = dumps_stored(obj)
    return r


def _key_id_desc(r: Row) -> int:
    return -r.id


def _key_id_asc(r: Row) -> int:
    return r.id


def _key_date_desc(r: Row) -> tuple[int, int]:
    return (-int(r.date.replace("-", "")), -r.id)


_SORT_KEYS = {"id_desc": _key_id_desc, "id_asc": _key_id_asc, "date_desc": _key_date_desc}


class Table:
    """Records of one key, by id (or by (parent, id) for teammates), with the documented ordering kept
    incrementally (a create or delete on 200k time entries is a bisect, not a re-sort)."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.order = ORDER[key]
        self.sort_key = _SORT_KEYS[self.order]
        self.unique = key != "teammates"
        self.rows: dict[Any, Row] = {}
        self._ordered: list[Row] | None = None
        self._by_parent: dict[int, list[Row]] | None = None

    def _k(self, row_id: int, parent: int | None) -> Any:
        return row_id if self.unique else (parent, row_id)

    def get(self, row_id: int, parent: int | None = None) -> Row | None:
        return self.rows.get(self._k(row_id, parent))

    def put(self, row: Row) -> None:
        k = self._k(row.id, row.parent)
        old = self.rows.get(k)
        if old is None:
            self.rows[k] = row
            if self._ordered is not None:
                bisect.insort(self._ordered, row, key=self.sort_key)
            self._by_parent = None
            return
        moved = old.date != row.date or old.parent != row.parent
        if moved:
            self._unlink(old)
        for slot in Row.__slots__:
            setattr(old, slot, getattr(row, slot))
        if moved:
            if self._ordered is not None:
                bisect.insort(self._ordered, old, key=self.sort_key)
            self._by_parent = None

    def remove(self, row_id: int, parent: int | None = None) -> Row | None:
        row = self.rows.pop(self._k(row_id, parent), None)
        if row is not None:
            self._unlink(row)
            self._by_parent = None
        return row

    def _unlink(self, row: Row) -> None:
        """Take ``row`` out of the ordered list (found by bisect on its current key)."""
        if self._ordered is None:
            return
        i = bisect.bisect_left(self._ordered, self.sort_key(row), key=self.sort_key)
        while i < len(self._ordered) and self._ordered[i] is not row:
            i += 1
        if i < len(self._ordered):
            del self._ordered[i]
        else:  # not found (should not happen): fall back to a rebuild
            self._ordered = None

    def clear(self) -> None:
        self.rows.clear()
        self._ordered = None
        self._by_parent = None

    def ordered(self) -> list[Row]:
        """All rows in the endpoint's documented order."""
        if self._ordered is None:
            self._ordered = sorted(self.rows.values(), key=self.sort_key)
        return self._ordered

    def children(self, parent: int) -> list[Row]:
        """Rows of one parent, in order."""
        if self._by_parent is None:
            groups: dict[int, list[Row]] = {}
            for r in self.ordered():
                groups.setdefault(r.parent, []).append(r)
            self._by_parent = groups
        return self._by_parent.get(parent, [])

    def __len__(self) -> int:
        return len(self.rows)


class Store:
    """The whole account plus the simulated clock; every read and write happens under ``lock``."""

    def __init__(self, seed: int = 1, clock: SimClock | None = None) -> None:
        self.tables: dict[str, Table] = {k: Table(k) for k in TABLE_KEYS}
        self.lock = threading.RLock()
        self.clock = clock or SimClock()
        self.version = 0
        self.cache: dict[Any, Any] = {}
        self.company: dict = {}
        self.company_bytes = b"{}"
        self.meta: dict[str, Any] = {"teammates": {}, "admin_user_id": None, "member_user_id": None}
        self.rng = random.Random(f"harvest-sim/mutations/{seed}")
        self.child_bumps_parent = True
        self._derived_dirty = True
        self._objs_cache: dict[str, dict[int, dict]] = {}
        self._top_ids: dict[str, int] = {}

    # -- writes -------------------------------------------------------------------------------------
    def set_company(self, obj: dict) -> None:
        self.company = obj
        self.company_bytes = dumps_stored(obj)

    def put(self, key: str, obj: dict, parent: int | None = None) -> Row:
        """Insert or replace a record (and re-index it)."""
        row = derive(key, obj, parent)
        self.tables[key].put(row)
        self._touched(key)
        return row

    def delete(self, key: str, row_id: int, parent: int | None = None) -> Row | None:
        row = self.tables[key].remove(row_id, parent)
        self._touched(key)
        return row

    def _touched(self, key: str) -> None:
        self.version += 1
        if self.cache:
            self.cache = {}
        self._objs_cache.pop(key, None)
        if key in DERIVED_SOURCES:
            self._derived_dirty = True

    # -- reads --------------------------------------------------------------------------------------
    def table(self, key: str) -> Table:
        if key in DERIVED:
            self.ensure_derived()
        return self.tables[key]

    def row(self, key: str, row_id: int, parent: int | None = None) -> Row | None:
        return self.table(key).get(row_id, parent)

    def obj(self, key: str, row_id: int, parent: int | None = None) -> dict | None:
        """A decoded (fresh, mutable) copy of one record."""
        row = self.row(key, row_id, parent)
        return loads(row.data) if row is not None else None

    def objs(self, key: str) -> dict[int, dict]:
        """All records of a (small) table decoded, by id; cached until the table changes. Do not mutate."""
        cached = self._objs_cache.get(key)
        if cached is None:
            cached = {r.id: loads(r.data) for r in self.table(key).ordered()}
            self._objs_cache[key] = cached
        return cached

    def next_id(self, key: str) -> int:
        """A fresh id above every id the table ever had (ids grow with creation time, never reused)."""
        top = self._top_ids.get(key)
        if top is None:
            top = max((r.id for r in self.tables[key].rows.values()), default=1000)
        top += self.rng.randint(1, 9)
        self._top_ids[key] = top
        return top

    def mark_derived_dirty(self) -> None:
        self._derived_dirty = True
        self._touched("users")

    # -- derived tables -----------------------------------------------------------------------------
    def warm(self) -> None:
        """Build every ordering and derived table now, so no request pays for a 200k-row sort."""
        self.ensure_derived()
        for table in self.tables.values():
            table.ordered()
            if table.key in PARENT_OF:
                table.children(0)

    def ensure_derived(self) -> None:
        if not self._derived_dirty:
            return
        self._derived_dirty = False
        self._rebuild_project_assignments()
        self._rebuild_teammates()

    def _rebuild_project_assignments(self) -> None:
        projects = self.objs("projects")
        clients = self.objs("clients")
        tas_by_project: dict[int, list[dict]] = {}
        for r in self.tables["task_assignments"].ordered():
            ta = loads(r.data)
            tas_by_project.setdefault(r.parent, []).append(
                {
                    "id": ta["id"],
                    "billable": ta["billable"],
                    "is_active": ta["is_active"],
                    "created_at": ta["created_at"],
                    "updated_at": ta["updated_at"],
                    "hourly_rate": ta["hourly_rate"],
                    "budget": ta["budget"],
                    "task": ta["task"],
                }
            )
        table = self.tables["project_assignments"]
        table.clear()
        for r in self.tables["user_assignments"].ordered():
            if not r.active:
                continue  # /users/{id}/project_assignments lists active assignments only
            ua = loads(r.data)
            project = projects.get(ua["project"]["id"])
            if project is None:
                continue
            client = clients.get(project["client"]["id"]) or project["client"]
            pa = {
                **ua_embed(ua),  # a project assignment carries the user assignment's own fields first
                "project": {
                    "id": project["id"],
                    "name": project["name"],
                    "code": project["code"],
                    "is_billable": project["is_billable"],
                },
                "client": {"id": client["id"], "name": client["name"], "currency": client["currency"]},
                "task_assignments": tas_by_project.get(project["id"], []),
            }
            table.put(derive("project_assignments", pa, ua["user"]["id"]))

    def _rebuild_teammates(self) -> None:
        users = self.objs("users")
        table = self.tables["teammates"]
        table.clear()
        for manager_id, mates in self.meta["teammates"].items():
            if manager_id not in users:
                continue
            for uid in mates:
                u = users.get(uid)
                if u is None:
                    continue
                tm = {"id": u["id"], "first_name": u["first_name"], "last_name": u["last_name"], "email": u["email"]}
                table.put(derive("teammates", tm, manager_id))

    # -- helpers ------------------------------------------------------------------------------------
    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """Memoize a query result until the next write (the cache is dropped on every change)."""
        hit = self.cache.get(key)
        if hit is None:
            if len(self.cache) > 256:
                self.cache = {}
            hit = compute()
            self.cache[key] = hit
        return hit

    def counts(self) -> dict[str, int]:
        self.ensure_derived()
        out = {"company": 1}
        for key in TABLE_KEYS:
            out[key] = len(self.tables[key])
        return out

    def iter_rows(self, key: str, parent: int | None = None) -> Iterable[Row]:
        table = self.table(key)
        return table.ordered() if parent is None else table.children(parent)
