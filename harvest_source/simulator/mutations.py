"""Change over time: create, update and delete records with Harvest's side effects.

Every mutation advances the simulated clock (at least 1 s) and stamps what it touched with the new time.
Side effects follow the reference (6.3): a payment lowers its invoice's ``due_amount`` (and may mark it paid);
invoicing marks time entries billed and bumps them; a reminder never touches its invoice; a rate change
never touches its user; a deleted record simply vanishes. ``store.child_bumps_parent`` decides whether
payments and non-reminder messages bump their parent's ``updated_at`` (field changes happen either way).
``add_invoice_message`` and ``add_estimate_message`` take ``bump_parent`` (True/False; default None: the
store's switch) for one message: ``bump_parent=False`` adds a message whose parent keeps its ``updated_at``
even when its state changes (a child change no ``updated_since`` listing of the parent shows), which is
what a benchmark of the child sweep needs on a server where the switch is on.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from . import records as R
from . import vocab as V
from .clock import DAY, day_str, iso
from .store import DERIVED, TABLE_KEYS, Store

Result = dict[str, Any]


class Mutator:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.kinds: dict[str, Callable[..., None]] = {
            "update": self._update,
            "create": self._create,
            "delete": self._delete,
            "add_payment": self._add_payment,
            "add_invoice_message": self._add_invoice_message,
            "add_estimate_message": self._add_estimate_message,
            "change_rate": self._change_rate,
            "invoice_time_entries": self._invoice_time_entries,
            "stop_timer": self._stop_timer,
        }

    # -- entry points -------------------------------------------------------------------------------
    def apply(self, kind: str, **params: Any) -> Result:
        fn = self.kinds.get(kind)
        if fn is None:
            raise ValueError(f"unknown mutation kind {kind!r}; known: {sorted(self.kinds)}")
        with self.store.lock:
            self._begin(int(params.pop("advance", 1)))
            fn(**params)
            return self._result(kind)

    def random_changes(self, fraction: float = 0.01, seed: int | None = None) -> dict[str, list[int]]:
        """Touch ~``fraction`` of every top-level kind (one field + updated_at), plus some children.

        One clock tick for the whole batch: many records then share an ``updated_at`` second, as in Harvest.
        """
        st = self.store
        with st.lock:
            rng = random.Random(seed) if seed is not None else st.rng
            self._begin(1)
            tweaks = {
                "clients": "address", "contacts": "phone_office", "projects": "notes", "tasks": None,
                "users": "telephone", "roles": None, "expense_categories": None, "invoice_item_categories": None,
                "estimate_item_categories": None, "user_assignments": None, "task_assignments": None,
                "time_entries": "notes", "expenses": "notes", "invoices": "notes", "estimates": "notes",
            }
            for key, field in tweaks.items():
                rows = st.table(key).ordered()
                if not rows:
                    continue
                k = min(len(rows), max(1, round(len(rows) * fraction)))
                for row in rng.sample(rows, k):
                    fields = {field: f"edited at {self.now_iso}"} if field else {}
                    self._update(key, row.id, fields)
            invoices = [r for r in st.table("invoices").ordered() if r.state in ("open", "draft")]
            for row in rng.sample(invoices, min(len(invoices), max(1, round(len(invoices) * fraction)))):
                inv = st.obj("invoices", row.id)
                if R.cents(inv["due_amount"]) > 1:
                    self._add_payment(row.id, amount=round(R.cents(inv["due_amount"]) / 200, 2))
            sent = [r for r in st.table("invoices").ordered() if r.state == "open"]
            for row in rng.sample(sent, min(len(sent), max(1, round(len(sent) * fraction)))):
                self._add_invoice_message(row.id, reminder=rng.random() < 0.5)
            ests = st.table("estimates").ordered()
            for row in rng.sample(ests, min(len(ests), max(1, round(len(ests) * fraction)))):
                self._add_estimate_message(row.id, event_type="view")
            users = st.table("users").ordered()
            for row in rng.sample(users, min(len(users), max(1, round(len(users) * fraction)))):
                self._change_rate(row.id, which="billable" if rng.random() < 0.5 else "cost")
            changed = self._changes
            out: dict[str, list[int]] = {}
            for bucket in ("created", "updated"):
                for key, ids in changed[bucket].items():
                    out.setdefault(key, []).extend(i for i in ids if i not in out.get(key, []))
            return out

    # -- bookkeeping --------------------------------------------------------------------------------
    def _begin(self, seconds: int) -> None:
        self.now_ts = self.store.clock.advance(max(1, seconds))
        self.now_iso = iso(self.now_ts)
        self.today = day_str(self.now_ts)
        self._changes: dict[str, dict[str, list[int]]] = {"created": {}, "updated": {}, "deleted": {}}
        self._main_id: int | None = None

    def _note(self, bucket: str, key: str, row_id: int) -> None:
        ids = self._changes[bucket].setdefault(key, [])
        if row_id not in ids:
            ids.append(row_id)

    def _result(self, kind: str) -> Result:
        return {"kind": kind, "now": self.now_iso, "id": self._main_id, **self._changes}

    def _get(self, key: str, row_id: int) -> tuple[dict, int | None]:
        if key in DERIVED:
            raise ValueError(f"{key} are derived; change user_assignments/users instead")
        if key not in TABLE_KEYS:
            raise ValueError(f"unknown records key {key!r}")
        row = self.store.row(key, int(row_id))
        if row is None:
            raise KeyError(f"{key} {row_id} does not exist")
        return self.store.obj(key, row.id), row.parent

    def _save(self, key: str, obj: dict, parent: int | None, bump: bool = True, bucket: str = "updated") -> None:
        if bump and "updated_at" in obj:
            obj["updated_at"] = self.now_iso
        self.store.put(key, obj, parent)
        self._note(bucket, key, obj["id"])

    def _new_id(self, key: str) -> int:
        return self.store.next_id(key)

    def _bump_parent(self, key: str, parent_id: int) -> None:
        if self.store.child_bumps_parent:
            obj, parent = self._get(key, parent_id)
            self._save(key, obj, parent)

    def _pick(self, key: str, pred: Callable[[dict], bool] | None = None) -> dict:
        objs = [o for o in self.store.objs(key).values() if pred is None or pred(o)]
        if not objs:
            raise ValueError(f"no {key} to choose from")
        return self.store.rng.choice(objs)

    # -- generic kinds ------------------------------------------------------------------------------
    def _update(self, key: str, id: int, fields: dict[str, Any] | None = None,  # noqa: A002
                touch: bool = True) -> None:
        """Change ``fields``; ``touch=False`` keeps ``updated_at`` as it was: a change no ``updated_since``
        listing shows, for tests of reconciliation (``harvest-dlt --verify``): an incremental load cannot see it."""
        if key == "company":
            company = dict(self.store.company)
            company.update(fields or {})
            self.store.set_company(company)
            self._note("updated", "company", 0)
            return
        obj, parent = self._get(key, id)
        unknown = set(fields or {}) - set(obj)
        if unknown:
            raise ValueError(f"{key} has no field(s) {sorted(unknown)}")
        obj.update(fields or {})
        self._main_id = obj["id"]
        self._save(key, obj, parent, bump=touch)

    def _delete(self, key: str, id: int) -> None:  # noqa: A002
        st = self.store
        obj, parent = self._get(key, id)
        self._main_id = obj["id"]
        if key == "invoice_payments":
            self._payment_removed(parent, obj)
        st.delete(key, obj["id"], parent)
        self._note("deleted", key, obj["id"])
        children = {"invoices": ("invoice_messages", "invoice_payments"), "estimates": ("estimate_messages",),
                    "projects": ("user_assignments", "task_assignments"), "users": ("billable_rates", "cost_rates")}
        for child in children.get(key, ()):
            for row in list(st.table(child).children(obj["id"])):
                st.delete(child, row.id, row.parent)
                self._note("deleted", child, row.id)
        if key == "invoices":  # its time entries and expenses are no longer invoiced
            for tkey in ("time_entries", "expenses"):
                for row in [r for r in st.table(tkey).ordered() if r.invoice_id == obj["id"]]:
                    o = st.obj(tkey, row.id)
                    o.update(is_billed=False, invoice=None, is_locked=o["is_closed"],
                             locked_reason=R.LOCK_APPROVED if o["is_closed"] else None)
                    self._save(tkey, o, None)
        if key == "users":
            st.meta["teammates"].pop(obj["id"], None)
            for mates in st.meta["teammates"].values():
                if obj["id"] in mates:
                    mates.remove(obj["id"])
            for role in list(st.objs("roles").values()):
                if obj["id"] in role["user_ids"]:
                    role = dict(role, user_ids=[u for u in role["user_ids"] if u != obj["id"]])
                    self._save("roles", role, None)
            st.mark_derived_dirty()

    def _create(self, key: str, fields: dict[str, Any] | None = None, parent_id: int | None = None,
                **params: Any) -> None:
        nested = {
            "invoice_payments": lambda: self._add_payment(parent_id, **params),
            "invoice_messages": lambda: self._add_invoice_message(parent_id, **params),
            "estimate_messages": lambda: self._add_estimate_message(parent_id, **params),
            "billable_rates": lambda: self._change_rate(parent_id, which="billable", **params),
            "cost_rates": lambda: self._change_rate(parent_id, which="cost", **params),
        }
        if key in nested:
            if parent_id is None:
                raise ValueError(f"creating {key} needs parent_id")
            nested[key]()
            return
        builder = getattr(self, f"_new_{key}", None)
        if builder is None:
            raise ValueError(f"cannot create {key}")
        obj, parent = builder(parent_id=parent_id, **params)
        unknown = set(fields or {}) - set(obj)
        if unknown:
            raise ValueError(f"{key} has no field(s) {sorted(unknown)}")
        obj.update(fields or {})
        self._main_id = obj["id"]
        self._save(key, obj, parent, bucket="created")

    # -- builders of new records --------------------------------------------------------------------
    def _stamp(self) -> dict[str, str]:
        return {"created_at": self.now_iso, "updated_at": self.now_iso}

    def _new_clients(self, parent_id: int | None = None, name: str | None = None, currency: str = "USD") -> tuple:
        cid = self._new_id("clients")
        obj = {"id": cid, "name": name or f"{self.store.rng.choice(V.CLIENT_WORDS)} Client {cid % 1000}",
               "is_active": True, "address": None, "statement_key": f"{self.store.rng.getrandbits(128):032x}",
               **self._stamp(), "currency": currency}
        return obj, None

    def _new_contacts(self, parent_id: int | None = None, client_id: int | None = None) -> tuple:
        c = self.store.objs("clients")[client_id] if client_id else self._pick("clients")
        rng = self.store.rng
        first, last = rng.choice(V.FIRST_NAMES), rng.choice(V.LAST_NAMES)
        obj = {"id": self._new_id("contacts"), "title": None, "first_name": first, "last_name": last,
               "email": f"{first}.{last}@example.test".lower(), "phone_office": "", "phone_mobile": "", "fax": "",
               **self._stamp(), "client": R.client_ref(c, currency=False)}
        return obj, None

    def _new_projects(self, parent_id: int | None = None, client_id: int | None = None) -> tuple:
        c = self.store.objs("clients")[client_id] if client_id else self._pick("clients", lambda o: o["is_active"])
        pid = self._new_id("projects")
        obj = {
            "id": pid, "name": f"{self.store.rng.choice(V.PROJECT_WORDS)} {pid % 100}", "code": f"NEW-{pid % 1000}",
            "is_active": True, "is_billable": True, "is_fixed_fee": False, "bill_by": "Project", "budget": None,
            "budget_by": "none", "budget_is_monthly": False, "notify_when_over_budget": False,
            "over_budget_notification_percentage": 80.0, "show_budget_to_all": False, **self._stamp(),
            "starts_on": self.today, "ends_on": None, "over_budget_notification_date": None, "notes": "",
            "cost_budget": None, "cost_budget_include_expenses": False, "hourly_rate": 100.0, "fee": None,
            "client": R.client_ref(c),
        }
        return obj, None

    def _new_tasks(self, parent_id: int | None = None, name: str | None = None) -> tuple:
        tid = self._new_id("tasks")
        obj = {"id": tid, "name": name or f"Task {tid % 10000}", "billable_by_default": True,
               "default_hourly_rate": 100.0, "is_default": False, "is_active": True, **self._stamp()}
        return obj, None

    def _new_users(self, parent_id: int | None = None, access_roles: list[str] | None = None) -> tuple:
        rng = self.store.rng
        uid = self._new_id("users")
        first, last = rng.choice(V.FIRST_NAMES), rng.choice(V.LAST_NAMES)
        obj = {
            "id": uid, "first_name": first, "last_name": last, "email": f"{first}.{last}.{uid}@example.com".lower(),
            "telephone": "", "timezone": "London", "has_access_to_all_future_projects": False,
            "is_contractor": False, "is_active": True, "weekly_capacity": 126000, "default_hourly_rate": 100.0,
            "cost_rate": 50.0, "roles": [], "access_roles": access_roles or ["member"],
            "avatar_url": f"https://cache.harvestapp.com/assets/profile_images/abraj_albait_towers.png?{uid}",
            **self._stamp(),
        }
        for key, amount in (("billable_rates", 100.0), ("cost_rates", 50.0)):
            rate = R.rate(id=self._new_id(key), amount=amount, start_date=None, end_date=None,
                          created_at=self.now_iso, updated_at=self.now_iso)
            self._save(key, rate, uid, bucket="created")
        if "manager" in obj["access_roles"]:
            self.store.meta["teammates"].setdefault(uid, [])
        return obj, None

    def _new_roles(self, parent_id: int | None = None, name: str | None = None,
                   user_ids: list[int] | None = None) -> tuple:
        rid = self._new_id("roles")
        return {"id": rid, "name": name or f"Role {rid % 1000}", **self._stamp(), "user_ids": user_ids or []}, None

    def _new_expense_categories(self, parent_id: int | None = None, name: str | None = None) -> tuple:
        eid = self._new_id("expense_categories")
        return {"id": eid, "name": name or f"Category {eid % 1000}", "unit_name": None, "unit_price": None,
                "is_active": True, **self._stamp()}, None

    def _new_invoice_item_categories(self, parent_id: int | None = None, name: str | None = None) -> tuple:
        iid = self._new_id("invoice_item_categories")
        return {"id": iid, "name": name or f"Item {iid % 1000}", "use_as_service": False, "use_as_expense": False,
                **self._stamp()}, None

    def _new_estimate_item_categories(self, parent_id: int | None = None, name: str | None = None) -> tuple:
        eid = self._new_id("estimate_item_categories")
        return {"id": eid, "name": name or f"Item {eid % 1000}", **self._stamp()}, None

    def _new_user_assignments(self, parent_id: int | None = None, project_id: int | None = None,
                              user_id: int | None = None) -> tuple:
        st = self.store
        pid = project_id or parent_id or self._pick("projects", lambda o: o["is_active"])["id"]
        p = st.objs("projects")[pid]
        taken = {r.user_id for r in st.table("user_assignments").children(pid)}
        u = st.objs("users")[user_id] if user_id else self._pick("users", lambda o: o["is_active"]
                                                                 and o["id"] not in taken)
        obj = {"id": self._new_id("user_assignments"), "is_project_manager": False, "is_active": True,
               "use_default_rates": True, "budget": None, **self._stamp(), "hourly_rate": None,
               "project": R.project_ref(p), "user": R.user_ref(u)}
        return obj, pid

    def _new_task_assignments(self, parent_id: int | None = None, project_id: int | None = None,
                              task_id: int | None = None) -> tuple:
        st = self.store
        pid = project_id or parent_id or self._pick("projects", lambda o: o["is_active"])["id"]
        p = st.objs("projects")[pid]
        t = st.objs("tasks")[task_id] if task_id else self._pick("tasks", lambda o: o["is_active"])
        obj = {"id": self._new_id("task_assignments"), "billable": p["is_billable"], "is_active": True,
               **self._stamp(), "hourly_rate": None, "budget": None, "project": R.project_ref(p),
               "task": R.task_ref(t)}
        return obj, pid

    def _assignment_for(self, user_id: int | None, project_id: int | None) -> tuple[dict, dict]:
        """An active (user assignment, task assignment) pair matching the optional user/project."""
        st = self.store
        uas = [st.obj("user_assignments", r.id) for r in st.table("user_assignments").ordered()
               if r.active and (user_id is None or r.user_id == user_id)
               and (project_id is None or r.project_id == project_id)]
        if not uas:
            raise ValueError("no active user assignment matches user_id/project_id")
        ua = st.rng.choice(uas)
        tas = [st.obj("task_assignments", r.id) for r in st.table("task_assignments").children(ua["project"]["id"])]
        if not tas:
            raise ValueError("the project has no task assignments")
        return ua, st.rng.choice(tas)

    def _new_time_entries(self, parent_id: int | None = None, user_id: int | None = None,
                          project_id: int | None = None, task_id: int | None = None, spent_date: str | None = None,
                          hours: float | None = None, running: bool = False) -> tuple:
        st = self.store
        ua, ta = self._assignment_for(user_id, project_id)
        if task_id is not None:
            match = [t for t in (st.obj("task_assignments", r.id) for r in
                                 st.table("task_assignments").children(ua["project"]["id"]))
                     if t["task"]["id"] == task_id]
            if not match:
                raise ValueError("task is not assigned to the project")
            ta = match[0]
        p = st.objs("projects")[ua["project"]["id"]]
        c = st.objs("clients")[p["client"]["id"]]
        u = st.objs("users")[ua["user"]["id"]]
        t = st.objs("tasks")[ta["task"]["id"]]
        billable = p["is_billable"] and ta["billable"]
        rate = None
        if billable:
            rate = p["hourly_rate"] or ta["hourly_rate"] or ua["hourly_rate"] or u["default_hourly_rate"]
        h = float(hours) if hours is not None else st.rng.randint(1, 16) / 4
        start_min = (self.now_ts % DAY) // 60
        obj = R.time_entry(
            id=self._new_id("time_entries"), spent_date=spent_date or self.today, hours=0.0 if running else h,
            hours_without_timer=0.0 if running else h, rounded_hours=0.0 if running else h, notes=None,
            is_locked=False, locked_reason=None, is_closed=False, is_billed=False,
            timer_started_at=self.now_iso if running else None,
            started_time=R.clock_time(start_min if running else max(0, start_min - int(h * 60))),
            ended_time=None if running else R.clock_time(start_min), is_running=running, billable=billable,
            budgeted=p["budget_by"] != "none", billable_rate=rate, cost_rate=u["cost_rate"], **self._stamp(),
            user=R.user_ref(u), client=R.client_ref(c), project=R.project_ref(p), task=R.task_ref(t),
            user_assignment=R.ua_embed(ua), task_assignment=R.ta_embed(ta), invoice=None, external_reference=None,
        )
        return obj, None

    def _new_expenses(self, parent_id: int | None = None, user_id: int | None = None,
                      project_id: int | None = None, total_cost: float | None = None,
                      spent_date: str | None = None) -> tuple:
        st = self.store
        ua, _ = self._assignment_for(user_id, project_id)
        p = st.objs("projects")[ua["project"]["id"]]
        c = st.objs("clients")[p["client"]["id"]]
        u = st.objs("users")[ua["user"]["id"]]
        cat = self._pick("expense_categories", lambda o: o["is_active"] and o["unit_price"] is None)
        obj = R.expense(
            id=self._new_id("expenses"), notes=None,
            total_cost=total_cost if total_cost is not None else st.rng.randint(500, 50000) / 100, units=1.0,
            is_closed=False, is_locked=False, is_billed=False, locked_reason=None, spent_date=spent_date or self.today,
            **self._stamp(), billable=p["is_billable"], receipt=None, user=R.user_ref(u),
            user_assignment=R.ua_embed(ua), project=R.project_ref(p),
            expense_category={"id": cat["id"], "name": cat["name"], "unit_price": cat["unit_price"],
                              "unit_name": cat["unit_name"]},
            client=R.client_ref(c), invoice=None,
        )
        return obj, None

    def _next_number(self, key: str) -> str:
        numbers = [int(o["number"]) for o in self.store.objs(key).values() if str(o["number"]).isdigit()]
        return str(max(numbers, default=1000) + 1)

    def _new_invoices(self, parent_id: int | None = None, client_id: int | None = None,
                      amount: float | None = None) -> tuple:
        st = self.store
        c = st.objs("clients")[client_id] if client_id else self._pick("clients", lambda o: o["is_active"])
        iid = self._new_id("invoices")
        value = amount if amount is not None else st.rng.randint(100, 5000) * 1.0
        creator = st.objs("users")[st.meta["admin_user_id"]]
        obj = {
            "id": iid, "client_key": f"{st.rng.getrandbits(160):040x}", "number": self._next_number("invoices"),
            "purchase_order": "", "amount": value, "due_amount": value, "tax": None, "tax_amount": 0.0, "tax2": None,
            "tax2_amount": 0.0, "discount": None, "discount_amount": 0.0, "subject": "", "notes": "",
            "state": "draft", "period_start": None, "period_end": None, "issue_date": self.today,
            "due_date": day_str(self.now_ts + 30 * DAY), "payment_term": "net 30", "sent_at": None, "paid_at": None,
            "paid_date": None, "closed_at": None, "recurring_invoice_id": None, **self._stamp(),
            "currency": c["currency"], "payment_options": [], "client": R.client_ref(c, currency=False),
            "estimate": None, "retainer": None, "creator": R.user_ref(creator),
            "line_items": [{"id": iid * 10, "kind": "Product", "description": "New work", "quantity": 1.0,
                            "unit_price": value, "amount": value, "taxed": False, "taxed2": False, "project": None}],
        }
        # Recorded behaviour: creating an invoice bumped its client's updated_at.
        if st.child_bumps_parent:
            client_obj, _ = self._get("clients", c["id"])
            self._save("clients", client_obj, None)
        return obj, None

    def _new_estimates(self, parent_id: int | None = None, client_id: int | None = None,
                       amount: float | None = None) -> tuple:
        st = self.store
        c = st.objs("clients")[client_id] if client_id else self._pick("clients", lambda o: o["is_active"])
        eid = self._new_id("estimates")
        value = amount if amount is not None else st.rng.randint(100, 5000) * 1.0
        creator = st.objs("users")[st.meta["admin_user_id"]]
        obj = {
            "id": eid, "client_key": f"{st.rng.getrandbits(160):040x}", "number": self._next_number("estimates"),
            "purchase_order": "", "amount": value, "tax": None, "tax_amount": 0.0, "tax2": None, "tax2_amount": 0.0,
            "discount": None, "discount_amount": 0.0, "subject": "", "notes": "", "state": "draft",
            "issue_date": self.today, "sent_at": None, **self._stamp(), "accepted_at": None, "declined_at": None,
            "currency": c["currency"], "client": R.client_ref(c, currency=False), "creator": R.user_ref(creator),
            "line_items": [{"id": eid * 10, "kind": "Service", "description": "Proposal", "quantity": 1.0,
                            "unit_price": value, "amount": value, "taxed": False, "taxed2": False}],
        }
        return obj, None

    # -- Harvest-specific kinds ---------------------------------------------------------------------
    def _add_payment(self, invoice_id: int, amount: float | None = None, paid_date: str | None = None) -> None:
        inv, _ = self._get("invoices", invoice_id)
        as_int = type(inv["amount"]) is int
        due_c = R.cents(inv["due_amount"])
        pay_c = due_c if amount is None else R.cents(amount)
        if pay_c <= 0 or pay_c > due_c:
            raise ValueError(f"payment must be > 0 and <= the due amount {inv['due_amount']}")
        creator = self.store.objs("users").get(inv["creator"]["id"]) or self.store.objs("users")[
            self.store.meta["admin_user_id"]]
        pay = R.payment(id=self._new_id("invoice_payments"), amount=R.money(pay_c, as_int), paid_at=self.now_iso,
                        paid_date=paid_date or self.today, recorder=creator, notes="", transaction_id=None,
                        created_at=self.now_iso, gateway={"id": None, "name": None})
        self._main_id = pay["id"]
        self._save("invoice_payments", pay, inv["id"], bucket="created")
        inv["due_amount"] = R.money(due_c - pay_c, as_int)
        if due_c - pay_c == 0:
            inv.update(state="paid", paid_at=self.now_iso, paid_date=paid_date or self.today)
        elif inv["state"] == "draft":
            inv["state"] = "open"
        self._save("invoices", inv, None, bump=self.store.child_bumps_parent)

    def _payment_removed(self, invoice_id: int, pay: dict) -> None:
        inv, _ = self._get("invoices", invoice_id)
        as_int = type(inv["amount"]) is int
        inv["due_amount"] = R.money(R.cents(inv["due_amount"]) + R.cents(pay["amount"]), as_int)
        if inv["state"] == "paid":
            inv.update(state="open", paid_at=None, paid_date=None)
        self._save("invoices", inv, None, bump=self.store.child_bumps_parent)

    def _recipients(self, client_id: int) -> list[dict]:
        contacts = [o for o in self.store.objs("contacts").values() if o["client"]["id"] == client_id and o["email"]]
        return [{"name": f"{k['first_name']} {k['last_name']}", "email": k["email"]} for k in contacts[:2]] or [
            {"name": "Billing", "email": "billing@example.test"}]

    def _add_invoice_message(self, invoice_id: int, reminder: bool = False, thank_you: bool = False,
                             event_type: str | None = None, subject: str | None = None,
                             bump_parent: bool | None = None) -> None:
        inv, _ = self._get("invoices", invoice_id)
        bump = self.store.child_bumps_parent if bump_parent is None else bool(bump_parent)
        users = self.store.objs("users")
        sender = users.get(inv["creator"]["id"]) or users[self.store.meta["admin_user_id"]]
        msg = R.invoice_message(
            id=self._new_id("invoice_messages"), sender=sender, thank_you=thank_you, reminder=reminder,
            send_reminder_on=None, created_at=self.now_iso, event_type=event_type,
            recipients=self._recipients(inv["client"]["id"]),
            subject=subject or f"{'Reminder: ' if reminder else ''}Invoice #{inv['number']}",
            body=R.message_body("Invoice", inv["number"], self.store.company.get("name", ""), inv["due_amount"],
                                inv["currency"], inv["due_date"]),
        )
        self._main_id = msg["id"]
        self._save("invoice_messages", msg, inv["id"], bucket="created")
        if reminder:
            return  # a reminder never touches its invoice
        changed = False
        if event_type is None and not thank_you and inv["state"] == "draft":
            inv.update(state="open", sent_at=self.now_iso)
            changed = True
        if changed or bump:
            self._save("invoices", inv, None, bump=bump)

    def _add_estimate_message(self, estimate_id: int, event_type: str | None = None,
                              bump_parent: bool | None = None) -> None:
        est, _ = self._get("estimates", estimate_id)
        bump = self.store.child_bumps_parent if bump_parent is None else bool(bump_parent)
        users = self.store.objs("users")
        sender = users.get(est["creator"]["id"]) or users[self.store.meta["admin_user_id"]]
        msg = R.estimate_message(
            id=self._new_id("estimate_messages"), sender=sender, created_at=self.now_iso, event_type=event_type,
            recipients=self._recipients(est["client"]["id"]), subject=f"Estimate #{est['number']}",
            body=R.message_body("Estimate", est["number"], self.store.company.get("name", ""), est["amount"],
                                est["currency"], self.today),
        )
        self._main_id = msg["id"]
        self._save("estimate_messages", msg, est["id"], bucket="created")
        changed = False
        if event_type is None and est["state"] == "draft":
            est.update(state="sent", sent_at=self.now_iso)
            changed = True
        elif event_type == "accept":
            est.update(state="accepted", accepted_at=self.now_iso)
            changed = True
        elif event_type == "decline":
            est.update(state="declined", declined_at=self.now_iso)
            changed = True
        if changed or bump:
            self._save("estimates", est, None, bump=bump)

    def _change_rate(self, user_id: int, which: str = "billable", amount: float | None = None,
                     start_date: str | None = None) -> None:
        """A new rate from ``start_date`` (default today); the previous one gets its end_date. The user record
        is left untouched (not even ``default_hourly_rate``/``cost_rate`` or ``updated_at``)."""
        if which not in ("billable", "cost"):
            raise ValueError("which must be 'billable' or 'cost'")
        key = f"{which}_rates"
        st = self.store
        self._get("users", user_id)
        chain = st.table(key).children(int(user_id))
        prev = st.obj(key, chain[-1].id) if chain else None
        start = start_date or self.today
        if prev is not None and prev["start_date"] is not None and prev["start_date"] >= start:
            start = day_str(_ts_of_day(prev["start_date"]) + DAY)
        as_int = prev is not None and type(prev["amount"]) is int
        new_c = R.cents(amount) if amount is not None else R.cents(prev["amount"] if prev else 100) + 1000
        rate = R.rate(id=self._new_id(key), amount=R.money(new_c, as_int), start_date=start, end_date=None,
                      created_at=self.now_iso, updated_at=self.now_iso)
        self._main_id = rate["id"]
        if prev is not None:
            prev["end_date"] = day_str(_ts_of_day(start) - DAY)
            self._save(key, prev, int(user_id))
        self._save(key, rate, int(user_id), bucket="created")

    def _invoice_time_entries(self, invoice_id: int, time_entry_ids: list[int]) -> None:
        inv, _ = self._get("invoices", invoice_id)
        self._main_id = inv["id"]
        for tid in time_entry_ids:
            te, _ = self._get("time_entries", tid)
            te.update(is_billed=True, invoice={"id": inv["id"], "number": inv["number"]}, is_locked=True,
                      locked_reason=R.LOCK_INVOICED)
            self._save("time_entries", te, None)

    def _stop_timer(self, time_entry_id: int) -> None:
        te, _ = self._get("time_entries", time_entry_id)
        if not te["is_running"]:
            raise ValueError("time entry is not running")
        started = te["timer_started_at"]
        elapsed = max(0, self.now_ts - _ts_of_iso(started))
        hours = round(te["hours_without_timer"] + elapsed / 3600, 2)
        te.update(hours=hours, hours_without_timer=hours, rounded_hours=round(hours * 4 + 0.4999) / 4,
                  is_running=False, timer_started_at=None, ended_time=R.clock_time((self.now_ts % DAY) // 60))
        self._main_id = te["id"]
        self._save("time_entries", te, None)


def _ts_of_day(d: str) -> int:
    from datetime import UTC, datetime

    return int(datetime.fromisoformat(d).replace(tzinfo=UTC).timestamp())


def _ts_of_iso(s: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())

