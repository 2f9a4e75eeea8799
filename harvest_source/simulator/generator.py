"""Deterministic generation of a fake but internally consistent Harvest account.

Everything derives from ``random.Random(f"harvest-sim/{scale}/{seed}")`` and the simulated clock's start
("now": pinned by tests, today for a demo), so the same (scale, seed, now) always yields the same records,
byte for byte. Consistency rules kept here:
a time entry's project belongs to its client and its user is assigned to that project; invoiced time
entries and expenses carry their invoice and are locked; paid invoices have payments summing to the amount;
role ``user_ids`` exist; ids grow with creation time (which the store's orderings and cursors rely on).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from . import records as R
from . import vocab as V
from .clock import DAY, day_num_str, iso
from .store import Store


@dataclass(frozen=True)
class Scale:
    users: int
    admins: int
    managers: int
    clients: int
    projects: int
    tasks: int
    time_entries: int
    invoices: int  # target total (time-based + product invoices)
    invoice_prob: float  # chance that a client-month with billable time gets invoiced
    estimates: int
    expenses: int
    expense_categories: int
    days: int  # history length


SCALES: dict[str, Scale] = {
    "tiny": Scale(users=6, admins=1, managers=2, clients=3, projects=6, tasks=5, time_entries=90, invoices=9,
                  invoice_prob=1.0, estimates=4, expenses=12, expense_categories=3, days=100),
    "small": Scale(users=20, admins=2, managers=4, clients=15, projects=50, tasks=12, time_entries=20000,
                   invoices=500, invoice_prob=0.85, estimates=120, expenses=1500, expense_categories=6, days=730),
    "large": Scale(users=240, admins=4, managers=30, clients=160, projects=600, tasks=30, time_entries=210000,
                   invoices=6000, invoice_prob=0.85, estimates=1500, expenses=20000, expense_categories=8,
                   days=730),
    # a big agency (issue 16): ten times large's people, about 2M time entries; generation takes minutes
    "huge": Scale(users=2400, admins=10, managers=300, clients=1600, projects=6000, tasks=40, time_entries=2_000_000,
                  invoices=20000, invoice_prob=0.85, estimates=5000, expenses=100000, expense_categories=10,
                  days=730),
}

# First id of each kind (ids are unique per kind, spread apart so a mixed-up id never matches by accident).
ID_BASE = {
    "users": 1_782_000, "clients": 9_500_000, "contacts": 6_900_000, "tasks": 11_200_000, "projects": 28_000_000,
    "user_assignments": 190_000_000, "task_assignments": 300_000_000, "time_entries": 2_380_000_000,
    "expenses": 410_000_000, "expense_categories": 4_300_000, "invoices": 25_000_000,
    "invoice_messages": 88_000_000, "invoice_payments": 19_000_000, "invoice_item_categories": 2_900_000,
    "estimates": 3_100_000, "estimate_messages": 5_200_000, "estimate_item_categories": 1_400_000,
    "roles": 640_000, "billable_rates": 1_100_000, "cost_rates": 1_200_000, "line_items": 150_000_000,
    "estimate_line_items": 160_000_000,
}


# A user-day's tracked hours as a fraction of a fifth of the weekly capacity (uniform between the two), and
# how much of that a weekend day (worked only now and then) holds.
DAY_LOAD = (0.7, 1.15)
WEEKEND_WORK = 0.03
WEEKEND_LOAD = 0.4
# (low, high, mode) of the share of its budget a project has used: a triangular draw
BUDGET_USED = (0.12, 1.45, 0.8)
# The share of invoices still open after their due date, by days late (at most 30, 60, then older):
# clients pay most invoices within a month or two of the due date.
STILL_OPEN_LATE = ((30, 0.3), (60, 0.12), (10**6, 0.01))
# (least, most) days late of the open invoices every account shows (see _late_examples)
LATE_EXAMPLES = ((1, 30), (31, 60))


def _weekday(day: int) -> int:
    """Monday=0 for a day number (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


class _Gen:
    def __init__(self, scale: str, seed: int, now: int, id_offset: int = 0) -> None:
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; choose one of {sorted(SCALES)}")
        self.cfg = SCALES[scale]
        self.scale = scale
        self.rng = random.Random(f"harvest-sim/{scale}/{seed}")
        self.budget_rng = random.Random(f"harvest-sim/{scale}/{seed}/budgets")
        self.time_rng = random.Random(f"harvest-sim/{scale}/{seed}/time")
        self.now = now
        self.today = now // DAY
        self.hist_start = self.today - self.cfg.days
        self.acct_start = self.hist_start - 30
        self._day_cache: dict[int, str] = {}
        self._month_cache: dict[int, tuple[int, int]] = {}
        self.id_next: dict[str, int] = {}
        self.id_offset = id_offset  # the simulator's second, third... account: ids apart from the first's

    # -- small helpers ------------------------------------------------------------------------------
    def ids(self, key: str, n: int, gap: int = 7) -> list[int]:
        rng, cur, out = self.rng, self.id_next.setdefault(key, ID_BASE[key] + self.id_offset), []
        for _ in range(n):
            cur += rng.randint(1, gap)
            out.append(cur)
        self.id_next[key] = cur
        return out

    def ts_on(self, day: int, lo_h: int = 8, hi_h: int = 18) -> int:
        ts = day * DAY + self.rng.randint(lo_h * 3600, hi_h * 3600)
        return min(ts, self.now - 60)

    def d(self, day: int) -> str:
        s = self._day_cache.get(day)
        if s is None:
            s = self._day_cache[day] = day_num_str(day)
        return s

    def month(self, day: int) -> tuple[int, int]:
        m = self._month_cache.get(day)
        if m is None:
            t = time.gmtime(day * DAY)
            m = self._month_cache[day] = (t.tm_year, t.tm_mon)
        return m

    def later(self, ts: int, max_days: float, p: float) -> int:
        """With probability ``p`` a later edit time (before now), else ``ts``."""
        if self.rng.random() < p:
            return min(self.now - 1, ts + self.rng.randint(60, max(61, int(max_days * DAY))))
        return ts

    def hexkey(self, bits: int = 160) -> str:
        return f"{self.rng.getrandbits(bits):0{bits // 4}x}"

    # -- phases -------------------------------------------------------------------------------------
    def run(self, store: Store) -> None:
        self.store = store
        self.company()
        self.users()
        self.catalogs()
        self.clients()
        self.projects()
        self.assignments()
        self.time_entries()
        self.expenses()
        self.budgets()
        self.estimates()
        self.invoices()
        self.emit()

    def company(self) -> None:
        rng = self.rng
        name = f"{rng.choice(V.CLIENT_WORDS)} {rng.choice(('Studio', 'Agency', 'Consulting', 'Works'))}"
        sub = name.lower().replace(" ", "")
        self.company_name = name
        self.subdomain = sub
        self.company_obj = {
            "base_uri": f"https://{sub}.harvestapp.com",
            "full_domain": f"{sub}.harvestapp.com",
            "name": name,
            "is_active": True,
            "week_start_day": "Monday",
            "wants_timestamp_timers": True,
            "time_format": "hours_minutes",
            "date_format": "%Y-%m-%d",
            "plan_type": "simple-v4",
            "clock": "12h",
            "currency_code_display": "iso_code_none",
            "currency_symbol_display": "symbol_before",
            "decimal_symbol": ".",
            "thousands_separator": ",",
            "color_scheme": "orange",
            "weekly_capacity": 126000,
            "expense_feature": True,
            "invoice_feature": True,
            "estimate_feature": True,
            "approval_feature": True,
            "team_feature": True,
            "currency": "USD",
        }

    def users(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.users
        span = int((self.today - self.acct_start) * 0.6)
        created = [self.acct_start * DAY + 9 * 3600] + sorted(
            self.ts_on(self.acct_start + rng.randint(1, span)) for _ in range(n - 1)
        )
        ids = self.ids("users", n)
        used_names: set[str] = set()
        self.users_list: list[dict] = []
        self.user_window: dict[int, tuple[int, int]] = {}
        for i in range(n):
            if i < cfg.admins:
                access = ["administrator"]
            elif i < cfg.admins + cfg.managers:
                extra = [r for r in V.EXTRA_MANAGER_ROLES if rng.random() < 0.3]
                access = ["manager", *extra]
            else:
                access = ["member"]
            while True:
                first, last = rng.choice(V.FIRST_NAMES), rng.choice(V.LAST_NAMES)
                if f"{first} {last}" not in used_names or len(used_names) > 1000:
                    break
            used_names.add(f"{first} {last}")
            uid = ids[i]
            start_day = created[i] // DAY
            # Keep the account owner, the first manager and the first member active: tokens map to them.
            protected = i in (0, cfg.admins, cfg.admins + cfg.managers)
            active = protected or rng.random() > 0.07
            if i == n - 1 and all(u["is_active"] for u in self.users_list):
                active = False  # every scale shows archived rows
            end_day = self.today if active else rng.randint(min(start_day + 60, self.today - 30), self.today - 30)
            self.user_window[uid] = (start_day, end_day)
            upd = created[i] if active else end_day * DAY + rng.randint(9 * 3600, 17 * 3600)
            u = {
                "id": uid,
                "first_name": first,
                "last_name": last,
                "email": f"{first}.{last}{i}@example.com".lower(),
                "telephone": "" if rng.random() < 0.6 else f"+1 555 01{rng.randint(0, 99):02d}",
                "timezone": rng.choice(V.TIMEZONES),
                "has_access_to_all_future_projects": rng.random() < 0.2,
                "is_contractor": i >= cfg.admins + cfg.managers and rng.random() < 0.15,
                "is_active": active,
                "weekly_capacity": rng.choice((126000, 126000, 144000, 72000)),
                "default_hourly_rate": None,
                "cost_rate": None,
                "roles": [],
                "access_roles": access,
                "avatar_url": f"https://cache.harvestapp.com/assets/profile_images/abraj_albait_towers.png?{uid}",
                "created_at": iso(created[i]),
                "updated_at": iso(self.later(upd, 200, 0.3) if active else upd),
            }
            self.users_list.append(u)
        self.users_by_id = {u["id"]: u for u in self.users_list}
        self.admin_ids = [u["id"] for u in self.users_list if u["access_roles"] == ["administrator"]]
        self.manager_ids = [u["id"] for u in self.users_list if "manager" in u["access_roles"]]
        self.member_ids = [u["id"] for u in self.users_list if u["access_roles"] == ["member"]]
        self.staff_ids = self.admin_ids + self.manager_ids
        self._rates()
        self._roles()
        # Managers and their teammates.
        actives = [u["id"] for u in self.users_list if u["access_roles"] != ["administrator"]]
        self.teammates: dict[int, list[int]] = {}
        for mid in self.manager_ids:
            pool = [x for x in actives if x != mid]
            k = min(len(pool), rng.randint(2, 6))
            self.teammates[mid] = sorted(rng.sample(pool, k), reverse=True)

    def _rates(self) -> None:
        rng = self.rng
        pending: list[tuple[int, str, dict]] = []  # (created_ts, key, dict without id)
        for u in self.users_list:
            uid = u["id"]
            start_day, end_day = self.user_window[uid]
            created = self.ts_created(u)
            for key, lo, hi, field in (("billable_rates", 60, 220, "default_hourly_rate"),
                                       ("cost_rates", 30, 110, "cost_rate")):
                k = rng.choice((1, 1, 2, 3)) if key == "billable_rates" else rng.choice((1, 2))
                days = sorted(rng.sample(range(start_day + 20, max(start_day + 21 + k, end_day)), k - 1)) \
                    if end_day - start_day > 30 + k else []
                amount_c = rng.randint(lo // 5, hi // 5) * 500
                chain: list[dict] = []
                for j in range(len(days) + 1):
                    if j == 0:
                        c_ts, sd = created, None
                    else:
                        c_ts = max(chain[-1]["_c"] + 60, days[j - 1] * DAY - rng.randint(0, 5) * DAY)
                        c_ts = min(c_ts, self.now - 120)
                        sd = days[j - 1]
                        amount_c += rng.randint(1, 6) * 500
                    chain.append({"_c": c_ts, "_sd": sd, "_amt": amount_c, "_int": rng.random() < 0.5})
                for j, r in enumerate(chain):
                    nxt = chain[j + 1] if j + 1 < len(chain) else None
                    rec = R.rate(
                        id=0,
                        amount=R.money(r["_amt"], r["_int"]),
                        start_date=self.d(r["_sd"]) if r["_sd"] is not None else None,
                        end_date=self.d(nxt["_sd"] - 1) if nxt else None,
                        created_at=iso(r["_c"]),
                        updated_at=iso(nxt["_c"] if nxt else r["_c"]),
                    )
                    pending.append((r["_c"], key, uid, rec))
                u[field] = R.money(chain[-1]["_amt"], chain[-1]["_int"])
        self.rates: dict[str, list[tuple[int, dict]]] = {"billable_rates": [], "cost_rates": []}
        for key in ("billable_rates", "cost_rates"):
            items = sorted((p for p in pending if p[1] == key), key=lambda p: p[0])
            for rid, (_, _, uid, rec) in zip(self.ids(key, len(items)), items, strict=True):
                rec["id"] = rid
                self.rates[key].append((uid, rec))
        # billable rate of a user on a given day (for "People" billing)
        self.user_rate_days: dict[int, list[tuple[int, Any]]] = {}
        for uid, rec in self.rates["billable_rates"]:
            sd = rec["start_date"]
            day = -1 if sd is None else _day_of(sd)
            self.user_rate_days.setdefault(uid, []).append((day, rec["amount"]))
        self.user_cost_days: dict[int, list[tuple[int, Any]]] = {}
        for uid, rec in self.rates["cost_rates"]:
            sd = rec["start_date"]
            day = -1 if sd is None else _day_of(sd)
            self.user_cost_days.setdefault(uid, []).append((day, rec["amount"]))

    def ts_created(self, obj: dict) -> int:
        return _ts_of(obj["created_at"])

    def _roles(self) -> None:
        rng = self.rng
        n_roles = min(len(V.ROLE_NAMES), max(3, self.cfg.users // 20 + 2))
        names = list(V.ROLE_NAMES[:n_roles])
        members: dict[str, list[int]] = {n: [] for n in names}
        for u in self.users_list:
            for name in names:
                if rng.random() < 0.35:
                    members[name].append(u["id"])
                    u["roles"].append(name)
        created = sorted(self.ts_on(self.acct_start + rng.randint(0, 20)) for _ in names)
        self.roles_list = []
        for rid, name, c in zip(self.ids("roles", len(names)), names, created, strict=True):
            self.roles_list.append({
                "id": rid, "name": name, "created_at": iso(c), "updated_at": iso(self.later(c, 300, 0.5)),
                "user_ids": sorted(members[name]),
            })

    def catalogs(self) -> None:
        cfg, rng = self.cfg, self.rng
        # tasks: most at account start, a few added later
        n = cfg.tasks
        created = sorted(
            self.ts_on(self.acct_start + (rng.randint(0, 3) if i < n * 0.7 else rng.randint(4, self.cfg.days)))
            for i in range(n)
        )
        self.tasks_list = []
        for i, (tid, c) in enumerate(zip(self.ids("tasks", n), created, strict=True)):
            rate_c = rng.choice((None, 0, 9000, 10000, 12500, 15000, 8750))
            self.tasks_list.append({
                "id": tid,
                "name": V.TASK_NAMES[i % len(V.TASK_NAMES)],
                "billable_by_default": rng.random() < 0.8,
                "default_hourly_rate": None if rate_c is None else R.money(rate_c, rng.random() < 0.5),
                "is_default": i < 4,
                "is_active": i < 4 or (rng.random() > 0.1 and i != n - 1),
                "created_at": iso(c),
                "updated_at": iso(self.later(c, 400, 0.3)),
            })
        self.tasks_by_id = {t["id"]: t for t in self.tasks_list}
        # expense categories
        cats = V.EXPENSE_CATEGORIES[: cfg.expense_categories]
        created = sorted(self.ts_on(self.acct_start + rng.randint(0, 5)) for _ in cats)
        self.expense_categories = []
        for cid, (name, unit, price), c in zip(self.ids("expense_categories", len(cats)), cats, created,
                                               strict=True):
            self.expense_categories.append({
                "id": cid, "name": name, "unit_name": unit, "unit_price": price,
                "is_active": name != "Entertainment", "created_at": iso(c),
                "updated_at": iso(self.later(c, 300, 0.2)),
            })
        # item categories
        self.invoice_item_categories = []
        spec = (("Service", True, False), ("Product", False, False), ("Expense", False, True))
        created = sorted(self.ts_on(self.acct_start) for _ in spec)
        for iid, (name, svc, exp), c in zip(self.ids("invoice_item_categories", 3), spec, created, strict=True):
            self.invoice_item_categories.append({
                "id": iid, "name": name, "use_as_service": svc, "use_as_expense": exp,
                "created_at": iso(c), "updated_at": iso(c),
            })
        self.estimate_item_categories = []
        created = sorted(self.ts_on(self.acct_start) for _ in range(2))
        for eid, name, c in zip(self.ids("estimate_item_categories", 2), ("Service", "Product"), created,
                                strict=True):
            self.estimate_item_categories.append({"id": eid, "name": name, "created_at": iso(c),
                                                  "updated_at": iso(c)})

    def clients(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.clients
        names: list[str] = []
        while len(names) < n:
            name = f"{rng.choice(V.CLIENT_WORDS)} {rng.choice(V.CLIENT_SUFFIXES)}"
            if name in names:
                name = f"{name} {len(names)}"
            names.append(name)
        span = max(10, cfg.days - 60)
        created = sorted(self.ts_on(self.acct_start + int(rng.random() ** 2 * span)) for _ in range(n))
        self.clients_list = []
        for i, (cid, c) in enumerate(zip(self.ids("clients", n), created, strict=True)):
            self.clients_list.append({
                "id": cid,
                "name": names[i],
                "is_active": i < 3 or rng.random() > 0.1,
                "address": None if rng.random() < 0.3 else f"{rng.randint(1, 999)} Main Street\n"
                                                             f"Springfield, ST {rng.randint(10000, 99999)}",
                "statement_key": self.hexkey(128),
                "created_at": iso(c),
                "updated_at": iso(self.later(c, 300, 0.3)),
                "currency": "USD" if i == 0 else rng.choice(V.CURRENCIES),
            })
        self.clients_by_id = {c["id"]: c for c in self.clients_list}
        # contacts: 1-3 per client, created after the client
        pending = []
        for c in self.clients_list:
            for _ in range(2 if self.scale == "tiny" else rng.randint(1, 3)):
                first, last = rng.choice(V.FIRST_NAMES), rng.choice(V.LAST_NAMES)
                ts = min(self.now - 100, self.ts_created(c) + rng.randint(60, 20 * DAY))
                pending.append((ts, c, first, last))
        pending.sort(key=lambda p: p[0])
        self.contacts_list = []
        for kid, (ts, c, first, last) in zip(self.ids("contacts", len(pending)), pending, strict=True):
            self.contacts_list.append({
                "id": kid,
                "title": rng.choice((None, "CEO", "Accounts Payable", "Marketing Director", "CTO")),
                "first_name": first,
                "last_name": last,
                "email": "" if rng.random() < 0.1 else f"{first}.{last}@{c['name'].split()[0].lower()}.test".lower(),
                "phone_office": "" if rng.random() < 0.5 else f"+1 555 02{rng.randint(0, 99):02d}",
                "phone_mobile": "" if rng.random() < 0.6 else f"+1 555 03{rng.randint(0, 99):02d}",
                "fax": "",
                "created_at": iso(ts),
                "updated_at": iso(self.later(ts, 300, 0.2)),
                "client": R.client_ref(c, currency=False),
            })
        self.contacts_by_client: dict[int, list[dict]] = {}
        for k in self.contacts_list:
            self.contacts_by_client.setdefault(k["client"]["id"], []).append(k)

    def projects(self) -> None:
        cfg, rng = self.cfg, self.rng
        n = cfg.projects
        clients = self.clients_list
        owners = [clients[i % len(clients)] for i in range(min(n, len(clients)))]
        owners += [rng.choice(clients) for _ in range(n - len(owners))]
        pending = []
        for c in owners:
            c_ts = self.ts_created(c)
            ts = min(self.now - 40 * DAY, c_ts + rng.randint(3600, max(7200, (self.now - 40 * DAY - c_ts) // 2)))
            ts = max(ts, c_ts + 60)
            pending.append((ts, c))
        pending.sort(key=lambda p: p[0])
        self.projects_list = []
        self.project_window: dict[int, tuple[int, int]] = {}
        codes: dict[str, int] = {}
        for pid, (ts, c) in zip(self.ids("projects", n), pending, strict=True):
            initials = "".join(w[0] for w in c["name"].split()[:2]).upper()
            codes[initials] = codes.get(initials, 0) + 1
            code = None if rng.random() < 0.1 else f"{initials}-{100 + codes[initials]}"
            bill_by = rng.choice(("Project", "Tasks", "Tasks", "People", "none"))
            billable = bill_by != "none"
            fixed = billable and rng.random() < 0.15
            budget_by = rng.choice(("project", "project_cost", "task", "task_fees", "person", "none", "none"))
            budget_c = None if budget_by == "none" else rng.randint(20, 400) * 1000
            start_day = ts // DAY
            active = c["is_active"] and rng.random() > 0.12
            if pid == self.id_next["projects"] and all(p["is_active"] for p in self.projects_list):
                active = False  # every scale shows an archived project
            if active:
                end_day = self.today
            else:
                end_day = rng.randint(min(start_day + 20, self.today - 20), max(start_day + 20, self.today - 20))
            self.project_window[pid] = (start_day, end_day)
            upd = ts if active else end_day * DAY + 15 * 3600
            p = {
                "id": pid,
                "name": rng.choice(V.PROJECT_WORDS) + ("" if rng.random() < 0.7 else f" {rng.randint(2, 9)}"),
                "code": code,
                "is_active": active,
                "is_billable": billable,
                "is_fixed_fee": fixed,
                "bill_by": bill_by,
                "budget": None if budget_c is None else R.money(budget_c, rng.random() < 0.5),
                "budget_by": budget_by,
                "budget_is_monthly": budget_by != "none" and rng.random() < 0.2,
                "notify_when_over_budget": budget_by != "none" and rng.random() < 0.5,
                "over_budget_notification_percentage": rng.choice((80, 80.0, 90.0, 100)),
                "show_budget_to_all": rng.random() < 0.3,
                "created_at": iso(ts),
                "updated_at": iso(min(self.now - 1, max(ts, upd)) if not active else self.later(ts, 200, 0.4)),
                "starts_on": None if rng.random() < 0.3 else self.d(start_day),
                "ends_on": None if active or rng.random() < 0.3 else self.d(end_day),
                "over_budget_notification_date": None,
                "notes": rng.choice((None, "", "Kick-off in person.", "Retainer, renews monthly.")),
                "cost_budget": None if rng.random() < 0.8 else R.money(rng.randint(50, 200) * 1000, False),
                "cost_budget_include_expenses": rng.random() < 0.2,
                "hourly_rate": R.money(rng.randint(20, 40) * 500, rng.random() < 0.5) if bill_by == "Project" else None,
                "fee": R.money(rng.randint(20, 200) * 10000, rng.random() < 0.5) if fixed else None,
                "client": R.client_ref(c),
            }
            self.projects_list.append(p)
        self.projects_by_id = {p["id"]: p for p in self.projects_list}

    def assignments(self) -> None:
        rng = self.rng
        # task assignments: 3-6 tasks per project
        pending = []
        active_tasks = [t for t in self.tasks_list if t["is_active"]] or self.tasks_list
        for p in self.projects_list:
            k = 3 if self.scale == "tiny" else rng.randint(3, 6)
            chosen = rng.sample(active_tasks, min(k, len(active_tasks)))
            base = self.ts_created(p)
            for j, t in enumerate(chosen):
                pending.append((base + j + 1, p, t))
        pending.sort(key=lambda x: x[0])
        self.tas_by_project: dict[int, list[dict]] = {}
        self.tas_list = []
        for tid, (ts, p, t) in zip(self.ids("task_assignments", len(pending)), pending, strict=True):
            billable = p["is_billable"] and t["billable_by_default"]
            ta = {
                "id": tid,
                "billable": billable,
                "is_active": rng.random() > 0.05,
                "created_at": iso(ts),
                "updated_at": iso(self.later(ts, 200, 0.2)),
                "hourly_rate": (t["default_hourly_rate"] if t["default_hourly_rate"]
                                else R.money(rng.randint(16, 40) * 500, True)) if p["bill_by"] == "Tasks" else None,
                "budget": None if p["budget_by"] not in ("task", "task_fees") else R.money(rng.randint(5, 60) * 1000,
                                                                                           rng.random() < 0.5),
                "project": R.project_ref(p),
                "task": R.task_ref(t),
            }
            self.tas_list.append(ta)
            self.tas_by_project.setdefault(p["id"], []).append(ta)
        # user assignments: 2-8 users per project, windows must overlap
        pending = []
        for p in self.projects_list:
            ps, pe = self.project_window[p["id"]]
            candidates = [u for u in self.users_list
                          if self.user_window[u["id"]][0] <= pe - 2 and self.user_window[u["id"]][1] >= ps + 2]
            if not candidates:
                continue
            k = min(len(candidates), 2 if self.scale == "tiny" else rng.randint(2, 8))
            chosen = rng.sample(candidates, k)
            pm_pool = [u for u in candidates if u["id"] in self.staff_ids]
            if pm_pool and not any(u["id"] in self.staff_ids for u in chosen):
                chosen.append(rng.choice(pm_pool))
            pending.extend(self._ua_pending(p, chosen))
        # make sure every user has at least one assignment on a project alive during their window
        assigned = {x[2]["id"] for x in pending}
        for u in self.users_list:
            if u["id"] in assigned:
                continue
            us, ue = self.user_window[u["id"]]
            options = [p for p in self.projects_list
                       if self.project_window[p["id"]][0] <= ue - 2 and self.project_window[p["id"]][1] >= us + 2]
            if options:
                pending.extend(self._ua_pending(rng.choice(options), [u]))
        pending.sort(key=lambda x: x[0])
        if all(x[4] for x in pending):  # every scale shows an archived assignment
            ts, p, u, is_pm, _, (start, end) = pending[0]
            pending[0] = (ts, p, u, is_pm, False, (start, max(start, min(end, self.today - 10))))
        self.uas_by_user: dict[int, list[tuple[dict, int, int]]] = {}
        self.uas_list = []
        for uaid, (ts, p, u, is_pm, active, window) in zip(self.ids("user_assignments", len(pending)), pending,
                                                            strict=True):
            default_rates = p["bill_by"] != "People" or rng.random() < 0.6
            ua = {
                "id": uaid,
                "is_project_manager": is_pm,
                "is_active": active,
                "use_default_rates": default_rates,
                "budget": None if p["budget_by"] != "person" else R.money(rng.randint(10, 80) * 1000, True),
                "created_at": iso(ts),
                "updated_at": iso(max(ts, window[1] * DAY + 16 * 3600) if not active else self.later(ts, 100, 0.2)),
                "hourly_rate": None if default_rates else R.money(rng.randint(16, 40) * 500, rng.random() < 0.5),
                "project": R.project_ref(p),
                "user": R.user_ref(u),
            }
            self.uas_list.append(ua)
            self.uas_by_user.setdefault(u["id"], []).append((ua, window[0], window[1]))

    def _ua_pending(self, p: dict, users: list[dict]) -> list[tuple]:
        rng = self.rng
        ps, pe = self.project_window[p["id"]]
        out = []
        pm_done = False
        for u in users:
            us, ue = self.user_window[u["id"]]
            start, end = max(ps, us), min(pe, ue)
            if end < start:
                continue
            ts = max(self.ts_created(p), self.ts_created(u)) + rng.randint(60, 3 * DAY)
            ts = min(ts, self.now - 3600)
            is_pm = (not pm_done) and u["id"] in self.staff_ids
            pm_done = pm_done or is_pm
            active = end >= self.today and rng.random() > 0.05 and p["is_active"]
            if not active and end >= self.today:
                end = rng.randint(start, max(start, self.today - 10))
            if not p["is_active"]:
                active = False
            out.append((ts, p, u, is_pm, active, (start, min(end, self.today))))
        return out

    # -- time ---------------------------------------------------------------------------------------
    def time_entries(self) -> None:
        """Working days first, then entries: each user-day tracks about its share of the weekly capacity
        (a day's total split over a few entries), so days stay under ten hours and weeks near capacity.

        The days' draws depend on the calendar (weekends), so they come from their own random stream: the
        running timers and the later phases draw the same numbers whatever day the account ends on."""
        users = [u for u in self.users_list if self.uas_by_user.get(u["id"])]
        # entries: [created_ts, user, ua, ta, day, quarters, start_minute|None, notes, closed, ext, inv, running]
        self.entries: list[list] = []
        self._running_timers(users)
        rng = self.rng
        self.rng = self.time_rng
        try:
            days = self._work_days(users)
            n = self.cfg.time_entries
            worked = sorted(self.rng.sample(days, min(len(days), max(1, n // 2))))
            per_day = [1] * len(worked)
            for _ in range(n - len(worked) if worked else 0):
                per_day[self.rng.randrange(len(worked))] += 1
            for (uid, day), k in zip(worked, per_day, strict=True):
                self._day_entries(self.users_by_id[uid], day, k)
            if not any(e[9] for e in self.entries):  # every account shows an external reference
                self.entries[-1][9] = self._external_reference()
        finally:
            self.rng = rng
        self.entries.sort(key=lambda e: e[0])

    def _work_days(self, users: list[dict]) -> list[tuple[int, int]]:
        """(user id, day) pairs a user could work: weekdays (rarely a weekend) inside the user's window on
        which one of their assignments is alive; contractors work about half of them."""
        rng, out = self.rng, []
        for u in users:
            uid, uas = u["id"], self.uas_by_user[u["id"]]
            us, ue = self.user_window[uid]
            lo, hi = max(us, min(a[1] for a in uas)), min(ue, max(a[2] for a in uas), self.today - 1)
            for day in range(lo, hi + 1):
                if _weekday(day) >= 5 and rng.random() >= WEEKEND_WORK:
                    continue
                if u["is_contractor"] and rng.random() < 0.5:
                    continue
                if any(s <= day <= e for _, s, e in uas):
                    out.append((uid, day))
        return out

    def _day_entries(self, u: dict, day: int, k: int) -> None:
        """``k`` consecutive entries of one user-day whose hours add up to about a day's capacity."""
        rng = self.rng
        alive = [ua for ua, s, e in self.uas_by_user[u["id"]] if s <= day <= e]
        cap_q = u["weekly_capacity"] * 4 // (5 * 3600)  # quarters of hour in a day's capacity
        total = max(k, round(cap_q * rng.uniform(*DAY_LOAD) * (WEEKEND_LOAD if _weekday(day) >= 5 else 1)))
        cuts = sorted(rng.sample(range(1, total), k - 1)) if k > 1 else []
        cursor = rng.randint(96, 120) * 5  # the day starts between 8:00 and 10:00
        for q in (b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)):
            ua = rng.choice(alive)
            ta = rng.choice(self.tas_by_project[ua["project"]["id"]])
            start_min = None if rng.random() < 0.1 else cursor
            cursor += q * 15
            self.entries.append(self._entry(u, ua, ta, day, q, start_min))

    def _entry(self, u: dict, ua: dict, ta: dict, day: int, q: int, start_min: int | None) -> list:
        rng = self.rng
        created = day * DAY + (start_min or 540) * 60 + q * 900 + rng.randint(0, 3600)
        if rng.random() < 0.1:
            created += rng.randint(1, 4) * DAY
        created = min(created, self.now - rng.randint(300, 7200))
        closed = day < self.today - 14 and rng.random() < 0.85
        ext = self._external_reference() if rng.random() < 0.03 else None
        notes = None if rng.random() < 0.12 else rng.choice(V.NOTES)
        return [created, u, ua, ta, day, q, start_min, notes, closed, ext, None, None]

    def _external_reference(self) -> dict:
        """A GitHub issue linked to a time entry."""
        rng = self.rng
        return {
            "id": str(rng.randint(10**8, 10**10)),
            "group_id": str(rng.randint(10**5, 10**7)),
            "account_id": str(rng.randint(10**4, 10**6)),
            "permalink": f"https://github.com/example/repo/issues/{rng.randint(1, 5000)}",
            "service": "github.com",
            "service_icon_url": "https://proxy.harvestfiles.net/production/platform/github.png",
        }

    def _running_timers(self, users: list[dict]) -> None:
        """A tenth of the users who can track time today (at least one) have a timer running."""
        rng, today = self.rng, self.today
        can = {u["id"]: [ua for ua, _, end in self.uas_by_user[u["id"]] if ua["is_active"] and end >= today]
               for u in users if u["is_active"]}
        can = {uid: uas for uid, uas in can.items() if uas}
        for uid in sorted(rng.sample(sorted(can), min(len(can), max(1, len(users) // 10)))):
            ua = can[uid][0]
            ta = self.tas_by_project[ua["project"]["id"]][0]
            started = max(today * DAY, self.now - rng.randint(10, 180) * 60)
            self.entries.append([started, self.users_by_id[uid], ua, ta, today, 0, None, rng.choice(V.NOTES), False,
                                 None, None, started])

    def expenses(self) -> None:
        cfg, rng = self.cfg, self.rng
        users = [u for u in self.users_list if self.uas_by_user.get(u["id"])]
        cats = self.expense_categories
        self.exps: list[list] = []
        for _ in range(cfg.expenses):
            u = rng.choice(users)
            ua, start, end = rng.choice(self.uas_by_user[u["id"]])
            cat = rng.choice(cats)
            day = rng.randint(start, end)
            if cat["unit_price"] is not None:
                units = float(rng.randint(1, 300)) if cat["unit_name"] == "mile" else float(rng.randint(1, 5))
                cost_c = int(round(units * cat["unit_price"] * 100))
            else:
                units = 1.0
                cost_c = rng.randint(500, 90000)
            p = self.projects_by_id[ua["project"]["id"]]
            billable = p["is_billable"] and rng.random() < 0.8
            created = min(self.now - 600, day * DAY + rng.randint(9 * 3600, 20 * 3600) + rng.randint(0, 3) * DAY)
            closed = day < self.today - 14 and rng.random() < 0.7
            self.exps.append([created, u, ua, cat, day, units, cost_c, billable, closed, None,
                              rng.random() < 0.4, rng.choice((None, "Client lunch", "Train ticket", "Hotel", ""))])
        self.exps.sort(key=lambda e: e[0])

    # -- budgets ------------------------------------------------------------------------------------
    def budgets(self) -> None:
        """Size each budget from what its project really spent, so most projects sit at 10-130 % of it.

        Runs after time and expenses (on its own random stream, so the other phases draw the same numbers
        whatever the budgets are). Hour budgets (project, task, person) compare with hours, money budgets
        (project_cost, task_fees) with billable fees; a monthly budget with an average month."""
        spent = self._project_spend()
        for p in self.projects_list:
            hours, fees = spent.get(p["id"], (0.0, 0))
            start, end = self.project_window[p["id"]]
            scale = 30.4 / max(30.4, end - start) if p["budget_is_monthly"] else 1
            if p["budget"] is not None:
                money = p["budget_by"] in ("project_cost", "task_fees")
                p["budget"] = self._budget(p["budget"], fees * scale / 100 if money else hours * scale, money)
                self._split_budget(p)
            if p["cost_budget"] is not None:
                p["cost_budget"] = self._budget(p["cost_budget"], fees * scale / 100, True)

    def _project_spend(self) -> dict[int, tuple[float, int]]:
        """Project id -> (hours, billable fees in cents) of its finished time entries."""
        out: dict[int, tuple[float, int]] = {}
        for e in self.entries:
            if e[11] is not None:
                continue
            pid = e[2]["project"]["id"]
            rate = self._entry_rate_c(e) if e[3]["billable"] and self.projects_by_id[pid]["is_billable"] else 0
            hours, fees = out.get(pid, (0.0, 0))
            out[pid] = (hours + e[5] / 4, fees + e[5] * (rate or 0) // 4)
        return out

    def _budget(self, old: Any, spent: float, money: bool) -> Any:
        """A round budget of which ``spent`` is a plausible share (mostly 15-130 %, now and then over)."""
        used = self.budget_rng.triangular(*BUDGET_USED)
        step = 100 if money else 10  # dollars or hours
        amount = max(step, round(spent / used / step) * step) if spent > 0 else R.cents(old) // 100
        return R.money(amount * 100, isinstance(old, int))

    def _split_budget(self, p: dict) -> None:
        """Task (person) assignment budgets share the project's task (person) budget."""
        if p["budget_by"] == "person":
            parts = [ua for ua in self.uas_list if ua["project"]["id"] == p["id"] and ua["budget"] is not None]
        else:
            parts = [ta for ta in self.tas_by_project.get(p["id"], []) if ta["budget"] is not None]
        weights = [self.budget_rng.uniform(1, 3) for _ in parts]
        for x, w in zip(parts, weights, strict=True):
            share = int(R.cents(p["budget"]) * w / sum(weights)) // 100 * 100
            x["budget"] = R.money(share, isinstance(x["budget"], int))

    # -- estimates & invoices -----------------------------------------------------------------------
    def _line_item_product(self, est: bool) -> list[dict]:
        rng = self.rng
        out = []
        for _ in range(rng.randint(1, 3)):
            qty = float(rng.randint(1, 10))
            price_c = rng.randint(10, 400) * 500
            out.append({"kind": rng.choice(("Service", "Product")), "description": rng.choice(V.PROJECT_WORDS),
                        "_q": qty, "_p": price_c, "_amt": int(round(qty * price_c))})
        return out

    def estimates(self) -> None:
        cfg, rng = self.cfg, self.rng
        clients = [c for c in self.clients_list]
        pending = []
        for _ in range(cfg.estimates):
            c = rng.choice(clients)
            cday = self.ts_created(c) // DAY
            day = rng.randint(min(cday + 1, self.today), self.today)
            created = min(self.now - 3600, day * DAY + rng.randint(9 * 3600, 17 * 3600))
            pending.append((created, c, day))
        pending.sort(key=lambda p: p[0])
        self.estimates_list: list[dict] = []
        self.est_messages: list[tuple[int, int, dict]] = []  # (created_ts, estimate idx, message draft)
        self.accepted_estimates: list[dict] = []
        for eid, (created, c, day) in zip(self.ids("estimates", len(pending)), pending, strict=True):
            items = self._line_item_product(True)
            creator = self.users_by_id[rng.choice(self.staff_ids)]
            age = self.today - day
            state = "draft" if age < 5 and rng.random() < 0.5 else rng.choice(("sent", "accepted", "accepted",
                                                                                "declined"))
            sent_ts = accepted_ts = declined_ts = None
            if state != "draft":
                sent_ts = min(self.now - 1800, created + rng.randint(600, DAY))
            if state in ("accepted", "declined"):
                t = min(self.now - 600, sent_ts + rng.randint(3600, 10 * DAY))
                if state == "accepted":
                    accepted_ts = t
                else:
                    declined_ts = t
            est = {"_id": eid, "_c": created, "_client": c, "_day": day, "_items": items, "_creator": creator,
                   "_state": state, "_sent": sent_ts, "_acc": accepted_ts, "_dec": declined_ts,
                   "_tax": rng.choice((None, None, 8.25, 20)), "_disc": rng.choice((None, None, 5)),
                   "_int": rng.random() < 0.5, "_po": "" if rng.random() < 0.7 else f"PO-{rng.randint(1000, 9999)}"}
            self.estimates_list.append(est)
            if state == "accepted":
                self.accepted_estimates.append(est)

    def _totals(self, items: list[dict], tax: Any, tax2: Any, disc: Any) -> tuple[int, int, int, int]:
        """(amount, tax_amount, tax2_amount, discount_amount) in cents."""
        sub = sum(li["_amt"] for li in items)
        disc_c = int(round(sub * disc / 100)) if disc else 0
        taxable = sum(li["_amt"] for li in items if li.get("_taxed", True))
        taxable = taxable - (int(round(taxable * disc / 100)) if disc else 0)
        tax_c = int(round(taxable * tax / 100)) if tax else 0
        tax2_c = int(round(taxable * tax2 / 100)) if tax2 else 0
        return sub - disc_c + tax_c + tax2_c, tax_c, tax2_c, disc_c

    def invoices(self) -> None:
        cfg, rng = self.cfg, self.rng
        cur_month = self.month(self.today)
        # buckets of billable, not running time and expenses per (client, month) before the current month
        buckets: dict[tuple, dict] = {}
        for e in self.entries:
            if e[11] is not None:
                continue
            ua, ta, day = e[2], e[3], e[4]
            p = self.projects_by_id[ua["project"]["id"]]
            if not (p["is_billable"] and ta["billable"]):
                continue
            m = self.month(day)
            if m >= cur_month:
                continue
            b = buckets.setdefault((m, p["client"]["id"]), {"time": [], "exp": []})
            b["time"].append(e)
        for x in self.exps:
            if not x[7]:
                continue
            m = self.month(x[4])
            if m >= cur_month:
                continue
            p = self.projects_by_id[x[2]["project"]["id"]]
            buckets.setdefault((m, p["client"]["id"]), {"time": [], "exp": []})["exp"].append(x)
        drafts: list[dict] = []
        for (m, client_id) in sorted(buckets):
            if rng.random() >= cfg.invoice_prob:
                continue
            b = buckets[(m, client_id)]
            c = self.clients_by_id[client_id]
            y, mo = m
            nxt = (y + (mo == 12), 1 if mo == 12 else mo + 1)
            first_next = _day_of(f"{nxt[0]:04d}-{nxt[1]:02d}-01")
            issue = min(self.today, first_next + rng.randint(0, 4))
            period_start = _day_of(f"{y:04d}-{mo:02d}-01")
            groups: dict[tuple, list] = {}
            for e in b["time"]:
                groups.setdefault((e[2]["project"]["id"], self._entry_rate_c(e)), []).append(e)
            items = []
            for (pid, rate_c), es in sorted(groups.items()):
                p = self.projects_by_id[pid]
                q = sum(e[5] for e in es)
                items.append({"kind": "Service", "description": f"{p['name']} ({self.d(period_start)} - "
                                                              f"{self.d(first_next - 1)})",
                              "_q": q / 4, "_p": rate_c, "_amt": int(round(q * rate_c / 4)), "_project": p})
            eg: dict[int, list] = {}
            for x in b["exp"]:
                eg.setdefault(x[2]["project"]["id"], []).append(x)
            for pid, xs in sorted(eg.items()):
                p = self.projects_by_id[pid]
                total = sum(x[6] for x in xs)
                items.append({"kind": "Expense", "description": f"{p['name']} expenses", "_q": 1.0, "_p": total,
                              "_amt": total, "_project": p, "_taxed": False})
            created = min(self.now - 3600, issue * DAY + rng.randint(8 * 3600, 12 * 3600))
            drafts.append({"_c": created, "_client": c, "_issue": issue, "_items": items, "_time": b["time"],
                           "_exp": b["exp"], "_period": (period_start, first_next - 1), "_estimate": None})
        # at most the target count (the latest months), so the count does not depend on the calendar
        drafts = drafts[-cfg.invoices:]
        # invoices from accepted estimates, then plain product invoices up to the target count
        for est in self.accepted_estimates:
            if rng.random() < 0.5 or len(drafts) >= cfg.invoices:
                continue
            issue = min(self.today, est["_acc"] // DAY + rng.randint(1, 10))
            items = [dict(li) for li in est["_items"]]
            drafts.append({"_c": min(self.now - 3600, max(est["_acc"] + 600, issue * DAY + 36000)),
                           "_client": est["_client"], "_issue": issue, "_items": items, "_time": [], "_exp": [],
                           "_period": None, "_estimate": est})
        while len(drafts) < cfg.invoices:
            c = rng.choice(self.clients_list)
            cday = self.ts_created(c) // DAY
            issue = rng.randint(min(cday + 1, self.today), self.today)
            items = self._line_item_product(False)
            for li in items:
                if rng.random() < 0.3:
                    ps = [p for p in self.projects_list if p["client"]["id"] == c["id"]]
                    if ps:
                        li["_project"] = rng.choice(ps)
            drafts.append({"_c": min(self.now - 3600, issue * DAY + rng.randint(8 * 3600, 17 * 3600)),
                           "_client": c, "_issue": issue, "_items": items, "_time": [], "_exp": [],
                           "_period": None, "_estimate": None})
        drafts.sort(key=lambda d: d["_c"])
        self.invoices_list: list[dict] = []
        self.inv_messages: list[tuple[int, int, dict]] = []
        self.inv_payments: list[tuple[int, int, dict]] = []
        line_ids = iter(self.ids("line_items", sum(len(d["_items"]) for d in drafts), gap=3))
        for n, (iid, dr) in enumerate(zip(self.ids("invoices", len(drafts)), drafts, strict=True)):
            dr["_id"] = iid
            dr["_number"] = str(1001 + n)
            for li in dr["_items"]:
                li["_lid"] = next(line_ids)
            self._invoice_lifecycle(dr)
        self._late_examples()
        paid_count = sum(1 for dr in self.invoices_list if dr["_payments"])
        # tiny accounts must show at least three invoices with payments
        if paid_count < 3:
            for dr in sorted(self.invoices_list, key=lambda d: d["_c"]):
                if paid_count >= 3:
                    break
                if not dr["_payments"] and dr["_state"] in ("open", "draft") and dr["_amount"] > 1:
                    self._force_paid(dr)
                    paid_count += 1
        # the invoices' side effects on time entries, expenses and clients
        for dr in self.invoices_list:
            ref = {"id": dr["_id"], "number": dr["_number"]}
            for e in dr["_time"]:
                e[10] = (ref, dr["_c"])
            for x in dr["_exp"]:
                x[9] = (ref, dr["_c"])
            c = dr["_client"]
            if _ts_of(c["updated_at"]) < dr["_c"]:
                c["updated_at"] = iso(dr["_c"])

    def _late_examples(self) -> None:
        """Every account shows an open invoice in each of the early aging buckets (1-30 and 31-60 days
        late), whatever the day: an agency always has a few, and the README's aging queries show them.
        When chance left none, the first invoice due in that range is reopened (its payments undone)."""
        for lo, hi in LATE_EXAMPLES:
            due = [dr for dr in self.invoices_list if lo <= self.today - dr["_due"] <= hi and dr["_sent"]]
            if due and not any(dr["_state"] == "open" for dr in due):
                dr = due[0]
                dr.update(_state="open", _payments=[], _closed=None)
                dr["_messages"] = [m for m in dr["_messages"] if m[0] not in ("thank_you", "close")]

    def _entry_rate_c(self, e: list) -> int:
        rate = self._entry_rate(e)
        return R.cents(rate)

    def _entry_rate(self, e: list) -> Any:
        ua, ta, day = e[2], e[3], e[4]
        p = self.projects_by_id[ua["project"]["id"]]
        if not (p["is_billable"] and ta["billable"]):
            return None
        if p["bill_by"] == "Project":
            return p["hourly_rate"]
        if p["bill_by"] == "Tasks":
            return ta["hourly_rate"]
        if p["bill_by"] == "People":
            if ua["hourly_rate"] is not None:
                return ua["hourly_rate"]
            return _rate_on(self.user_rate_days[e[1]["id"]], day)
        return None

    def _invoice_lifecycle(self, dr: dict) -> None:
        rng = self.rng
        dr["_tax"] = rng.choice((None, None, 8.25, 20, 20.0, 5.5))
        dr["_tax2"] = None if rng.random() < 0.95 else 2.5
        dr["_disc"] = rng.choice((None, None, None, 10, 5.0))
        amount, tax_c, tax2_c, disc_c = self._totals(dr["_items"], dr["_tax"], dr["_tax2"], dr["_disc"])
        dr.update(_amount=amount, _tax_c=tax_c, _tax2_c=tax2_c, _disc_c=disc_c, _int=rng.random() < 0.5)
        term = rng.choice((("upon receipt", 0), ("net 15", 15), ("net 30", 30), ("net 30", 30), ("net 45", 45),
                           ("net 60", 60)))
        dr["_term"] = term[0]
        dr["_due"] = dr["_issue"] + term[1]
        dr["_creator"] = self.users_by_id[rng.choice(self.staff_ids)]
        age = self.today - dr["_issue"]
        dr["_payments"] = []
        dr["_messages"] = []
        dr["_sent"] = dr["_closed"] = None
        if (age < 7 and rng.random() < 0.5) or dr["_amount"] <= 0:
            dr["_state"] = "draft"
        else:
            dr["_sent"] = min(self.now - 1200, dr["_c"] + rng.randint(600, 2 * DAY))
            dr["_messages"].append(("send", dr["_sent"]))
            overdue = dr["_due"] < self.today - 5
            roll = rng.random()
            open_share = next(share for days, share in STILL_OPEN_LATE if self.today - dr["_due"] <= days)
            if overdue and roll >= open_share + 0.05:
                self._pay(dr, dr["_amount"])
                dr["_state"] = "paid"
                if rng.random() < 0.3:
                    t = min(self.now - 60, dr["_payments"][-1][0] + rng.randint(60, 7200))
                    dr["_messages"].append(("thank_you", t))
            elif overdue and roll >= open_share:
                dr["_state"] = "closed"
                dr["_closed"] = min(self.now - 60, (dr["_due"] + rng.randint(10, 40)) * DAY + 40000)
                dr["_messages"].append(("close", dr["_closed"]))
            else:
                dr["_state"] = "open"
                if rng.random() < 0.25 and dr["_amount"] > 200:
                    self._pay(dr, rng.randint(1, dr["_amount"] - 1), parts=1)
                if dr["_due"] < self.today - 2 and rng.random() < 0.6:
                    t = min(self.now - 60, (dr["_due"] + 3) * DAY + 36000)
                    dr["_messages"].append(("reminder", t))
        self.invoices_list.append(dr)

    def _pay(self, dr: dict, amount_c: int, parts: int | None = None) -> None:
        rng = self.rng
        k = parts or rng.choice((1, 1, 1, 2, 3))
        k = max(1, min(k, amount_c))
        cuts = sorted(rng.sample(range(1, amount_c), k - 1)) if k > 1 else []
        amounts = [b - a for a, b in zip([0, *cuts], [*cuts, amount_c], strict=True)]
        lo = dr["_sent"] // DAY if dr["_sent"] else dr["_issue"]
        hi = max(lo, min(self.today, dr["_due"] + 20))
        days = sorted(rng.randint(lo, hi) for _ in amounts)
        last = dr["_sent"] or dr["_c"]
        for a, day in zip(amounts, days, strict=True):
            t = max(last + 60, day * DAY + rng.randint(9 * 3600, 18 * 3600))
            t = min(t, self.now - 120)
            last = t
            dr["_payments"].append((t, a))

    def _force_paid(self, dr: dict) -> None:
        if dr["_sent"] is None:
            dr["_sent"] = min(self.now - 7200, dr["_c"] + 600)
            dr["_messages"].append(("send", dr["_sent"]))
        dr["_payments"] = []
        self._pay(dr, dr["_amount"], parts=2 if dr["_amount"] > 1 else 1)
        dr["_state"] = "paid"
        dr["_messages"] = [m for m in dr["_messages"] if m[0] != "reminder"]

    # -- emit: build final records and load them into the store --------------------------------------
    def emit(self) -> None:
        st = self.store
        st.set_company(self.company_obj)
        st.meta["teammates"] = self.teammates
        st.meta["admin_user_id"] = self.admin_ids[0]
        st.meta["manager_user_id"] = self.manager_ids[0] if self.manager_ids else None
        st.meta["member_user_id"] = self.member_ids[0] if self.member_ids else None
        st.meta["subdomain"] = self.subdomain
        st.meta["company_name"] = self.company_name
        put = st.put
        for u in self.users_list:
            put("users", u)
        for key in ("billable_rates", "cost_rates"):
            for uid, rec in self.rates[key]:
                put(key, rec, uid)
        for r in self.roles_list:
            put("roles", r)
        for t in self.tasks_list:
            put("tasks", t)
        for x in self.expense_categories:
            put("expense_categories", x)
        for x in self.invoice_item_categories:
            put("invoice_item_categories", x)
        for x in self.estimate_item_categories:
            put("estimate_item_categories", x)
        for c in self.clients_list:
            put("clients", c)
        for k in self.contacts_list:
            put("contacts", k)
        for p in self.projects_list:
            put("projects", p)
        for ta in self.tas_list:
            put("task_assignments", ta, ta["project"]["id"])
        for ua in self.uas_list:
            put("user_assignments", ua, ua["project"]["id"])
        self._emit_time()
        self._emit_expenses()
        self._emit_estimates()
        self._emit_invoices()

    def _emit_time(self) -> None:
        rng, put = self.rng, self.store.put
        user_refs = {u["id"]: R.user_ref(u) for u in self.users_list}
        client_refs = {c["id"]: R.client_ref(c) for c in self.clients_list}
        project_refs = {p["id"]: R.project_ref(p) for p in self.projects_list}
        task_refs = {t["id"]: R.task_ref(t) for t in self.tasks_list}
        ua_embeds = {ua["id"]: R.ua_embed(ua) for ua in self.uas_list}
        ta_embeds = {ta["id"]: R.ta_embed(ta) for ta in self.tas_list}
        ids = self.ids("time_entries", len(self.entries), gap=40)
        d, now = self.d, self.now
        for tid, e in zip(ids, self.entries, strict=True):
            created, u, ua, ta, day, q, start_min, notes, closed, ext, inv, running = e
            p = self.projects_by_id[ua["project"]["id"]]
            billable = p["is_billable"] and ta["billable"]
            rate = self._entry_rate(e) if billable else None
            cost = _rate_on(self.user_cost_days[u["id"]], day)
            updated = created
            locked_reason = None
            if running is not None:
                hours = round((now - running) / 3600, 2)
                hwt = 0.0
                started, ended = R.clock_time((running % DAY) // 60), None
            else:
                hours = q / 4
                hwt = hours
                if start_min is None:
                    started = ended = None
                else:
                    started, ended = R.clock_time(start_min), R.clock_time(start_min + q * 15)
                if rng.random() < 0.15:
                    updated = self.later(created, 20, 1.0)
            if closed:
                approved = min(now - 60, (day + rng.randint(7, 12)) * DAY + 50000)
                updated = max(updated, approved)
                locked_reason = R.LOCK_APPROVED
            invoice = None
            if inv is not None:
                invoice = inv[0]
                updated = max(updated, inv[1])
                locked_reason = R.LOCK_INVOICED
            rec = R.time_entry(
                id=tid, spent_date=d(day), hours=hours, hours_without_timer=hwt,
                rounded_hours=hours if running is None else round(hours * 4 + 0.4999) / 4,
                notes=notes, is_locked=locked_reason is not None, locked_reason=locked_reason, is_closed=closed,
                is_billed=invoice is not None, timer_started_at=iso(running) if running is not None else None,
                started_time=started, ended_time=ended, is_running=running is not None, billable=billable,
                budgeted=p["budget_by"] != "none", billable_rate=rate, cost_rate=cost, created_at=iso(created),
                updated_at=iso(updated), user=user_refs[u["id"]], client=client_refs[p["client"]["id"]],
                project=project_refs[p["id"]], task=task_refs[ta["task"]["id"]], user_assignment=ua_embeds[ua["id"]],
                task_assignment=ta_embeds[ta["id"]], invoice=invoice, external_reference=ext,
            )
            put("time_entries", rec)
        self.entries = []

    def _emit_expenses(self) -> None:
        rng, put = self.rng, self.store.put
        cat_refs = {c["id"]: {"id": c["id"], "name": c["name"], "unit_price": c["unit_price"],
                              "unit_name": c["unit_name"]} for c in self.expense_categories}
        ids = self.ids("expenses", len(self.exps))
        for xid, x in zip(ids, self.exps, strict=True):
            created, u, ua, cat, day, units, cost_c, billable, closed, inv, has_receipt, notes = x
            p = self.projects_by_id[ua["project"]["id"]]
            updated = self.later(created, 10, 0.1)
            reason = None
            if closed:
                updated = max(updated, min(self.now - 60, (day + 10) * DAY + 40000))
                reason = R.LOCK_APPROVED
            if inv is not None:
                updated = max(updated, inv[1])
                reason = R.EXPENSE_INVOICED
            receipt = None
            if has_receipt:
                ext = rng.choice((("pdf", "application/pdf"), ("jpg", "image/jpeg"), ("png", "image/png")))
                receipt = {
                    "url": f"https://{self.subdomain}.harvestapp.com/expenses/{xid}/receipt",
                    "file_name": f"receipt-{xid}.{ext[0]}",
                    "file_size": rng.randint(20_000, 2_000_000),
                    "content_type": ext[1],
                }
            rec = R.expense(
                id=xid, notes=notes, total_cost=R.money(cost_c, rng.random() < 0.5), units=units, is_closed=closed,
                is_locked=reason is not None, is_billed=inv is not None, locked_reason=reason, spent_date=self.d(day),
                created_at=iso(created), updated_at=iso(updated), billable=billable, receipt=receipt,
                user=R.user_ref(u), user_assignment=R.ua_embed(ua), project=R.project_ref(p),
                expense_category=cat_refs[cat["id"]], client=R.client_ref(self.clients_by_id[p["client"]["id"]]),
                invoice=inv[0] if inv else None,
            )
            put("expenses", rec)
        self.exps = []

    def _recipients(self, c: dict) -> list[dict]:
        out = [{"name": f"{k['first_name']} {k['last_name']}", "email": k["email"]}
               for k in self.contacts_by_client.get(c["id"], []) if k["email"]]
        return out[:2] or [{"name": c["name"], "email": f"billing@{c['name'].split()[0].lower()}.test"}]

    def _line_items(self, items: list[dict], with_project: bool, taxed: bool, taxed2: bool, as_int: bool) -> list:
        out = []
        for li in items:
            rec = {
                "id": li["_lid"],
                "kind": li["kind"],
                "description": li["description"],
                "quantity": li["_q"],
                "unit_price": R.money(li["_p"], as_int),
                "amount": R.money(li["_amt"], as_int),
                "taxed": taxed and li.get("_taxed", True),
                "taxed2": taxed2 and li.get("_taxed", True),
            }
            if with_project:
                p = li.get("_project")
                rec["project"] = R.project_ref(p) if p else None
            out.append(rec)
        return out

    def _emit_estimates(self) -> None:
        put, rng = self.store.put, self.rng
        line_ids = iter(self.ids("estimate_line_items", sum(len(e["_items"]) for e in self.estimates_list), gap=3))
        msgs: list[tuple[int, int, dict]] = []
        for n, est in enumerate(self.estimates_list):
            for li in est["_items"]:
                li["_lid"] = next(line_ids)
            amount, tax_c, tax2_c, disc_c = self._totals(est["_items"], est["_tax"], None, est["_disc"])
            c = est["_client"]
            upd = max(t for t in (est["_c"], est["_sent"], est["_acc"], est["_dec"]) if t is not None)
            number = str(2001 + n)
            a = est["_int"]
            rec = {
                "id": est["_id"],
                "client_key": self.hexkey(),
                "number": number,
                "purchase_order": est["_po"],
                "amount": R.money(amount, a),
                "tax": est["_tax"],
                "tax_amount": R.money(tax_c, a),
                "tax2": None,
                "tax2_amount": R.money(tax2_c, a),
                "discount": est["_disc"],
                "discount_amount": R.money(disc_c, a),
                "subject": f"Estimate for {c['name']}",
                "notes": "" if rng.random() < 0.5 else "Valid for 30 days.",
                "state": est["_state"],
                "issue_date": self.d(est["_day"]),
                "sent_at": iso(est["_sent"]) if est["_sent"] else None,
                "created_at": iso(est["_c"]),
                "updated_at": iso(upd),
                "accepted_at": iso(est["_acc"]) if est["_acc"] else None,
                "declined_at": iso(est["_dec"]) if est["_dec"] else None,
                "currency": c["currency"],
                "client": R.client_ref(c, currency=False),
                "creator": R.user_ref(est["_creator"]),
                "line_items": self._line_items(est["_items"], False, est["_tax"] is not None, False, a),
            }
            put("estimates", rec)
            est["_number"] = number
            for event, t in (("send", est["_sent"]), ("accept", est["_acc"]), ("decline", est["_dec"])):
                if t is not None:
                    msgs.append((t, est["_id"], {"event": None if event == "send" else event, "est": est,
                                                 "amount": rec["amount"]}))
        msgs.sort(key=lambda m: m[0])
        for mid, (t, est_id, m) in zip(self.ids("estimate_messages", len(msgs)), msgs, strict=True):
            est = m["est"]
            c = est["_client"]
            sender = est["_creator"]
            subject = f"Estimate #{est['_number']} from {self.company_name}"
            rec = R.estimate_message(
                id=mid, sender=sender, created_at=iso(t), event_type=m["event"], recipients=self._recipients(c),
                subject=subject, body=R.message_body("Estimate", est["_number"], self.company_name, m["amount"],
                                                     c["currency"], self.d(est["_day"] + 30)),
                send_me_a_copy=rng.random() < 0.3,
            )
            put("estimate_messages", rec, est_id)

    def _emit_invoices(self) -> None:
        put, rng = self.store.put, self.rng
        msgs: list[tuple[int, int, str, dict]] = []
        pays: list[tuple[int, int, int, dict]] = []
        for dr in self.invoices_list:
            c = dr["_client"]
            a = dr["_int"]
            paid = sum(p[1] for p in dr["_payments"])
            bumps = [dr["_c"], dr["_sent"], dr["_closed"]] + [p[0] for p in dr["_payments"]]
            bumps += [t for kind, t in dr["_messages"] if kind != "reminder"]
            upd = max(t for t in bumps if t is not None)
            last_pay = dr["_payments"][-1][0] if dr["_payments"] and dr["_state"] == "paid" else None
            period = dr["_period"]
            rec = {
                "id": dr["_id"],
                "client_key": self.hexkey(),
                "number": dr["_number"],
                "purchase_order": "" if rng.random() < 0.7 else f"PO-{rng.randint(1000, 9999)}",
                "amount": R.money(dr["_amount"], a),
                "due_amount": R.money(dr["_amount"] - paid, a),
                "tax": dr["_tax"],
                "tax_amount": R.money(dr["_tax_c"], a),
                "tax2": dr["_tax2"],
                "tax2_amount": R.money(dr["_tax2_c"], a),
                "discount": dr["_disc"],
                "discount_amount": R.money(dr["_disc_c"], a),
                "subject": "" if period is None else f"Services {self.d(period[0])} to {self.d(period[1])}",
                "notes": "" if rng.random() < 0.6 else "Thank you for your business.",
                "state": dr["_state"],
                "period_start": self.d(period[0]) if period else None,
                "period_end": self.d(period[1]) if period else None,
                "issue_date": self.d(dr["_issue"]),
                "due_date": self.d(dr["_due"]),
                "payment_term": dr["_term"],
                "sent_at": iso(dr["_sent"]) if dr["_sent"] else None,
                "paid_at": iso(last_pay) if last_pay else None,
                "paid_date": self.d(last_pay // DAY) if last_pay else None,
                "closed_at": iso(dr["_closed"]) if dr["_closed"] else None,
                "recurring_invoice_id": None,
                "created_at": iso(dr["_c"]),
                "updated_at": iso(upd),
                "currency": c["currency"],
                "payment_options": [] if rng.random() < 0.5 else ["credit_card"],
                "client": R.client_ref(c, currency=False),
                "estimate": {"id": dr["_estimate"]["_id"]} if dr["_estimate"] else None,
                "retainer": None,
                "creator": R.user_ref(dr["_creator"]),
                "line_items": self._line_items(dr["_items"], True, dr["_tax"] is not None, dr["_tax2"] is not None,
                                               a),
            }
            put("invoices", rec)
            for kind, t in dr["_messages"]:
                msgs.append((t, dr["_id"], kind, {"dr": dr, "amount": rec["amount"]}))
            for t, amount_c in dr["_payments"]:
                pays.append((t, dr["_id"], amount_c, {"dr": dr}))
        msgs.sort(key=lambda m: m[0])
        for mid, (t, inv_id, kind, m) in zip(self.ids("invoice_messages", len(msgs)), msgs, strict=True):
            dr = m["dr"]
            c = dr["_client"]
            subject = f"Invoice #{dr['_number']} from {self.company_name}"
            if kind == "reminder":
                subject = f"Reminder: {subject}"
            elif kind == "thank_you":
                subject = f"Thank you for your payment of invoice #{dr['_number']}"
            rec = R.invoice_message(
                id=mid, sender=dr["_creator"], thank_you=kind == "thank_you", reminder=kind == "reminder",
                send_reminder_on=None, created_at=iso(t), event_type="close" if kind == "close" else None,
                recipients=self._recipients(c), subject=subject,
                body=R.message_body("Invoice", dr["_number"], self.company_name, m["amount"], c["currency"],
                                    self.d(dr["_due"])),
                send_me_a_copy=rng.random() < 0.2, attach_pdf=rng.random() < 0.7,
            )
            put("invoice_messages", rec, inv_id)
        pays.sort(key=lambda p: p[0])
        for pid, (t, inv_id, amount_c, m) in zip(self.ids("invoice_payments", len(pays)), pays, strict=True):
            dr = m["dr"]
            gateway = {"id": None, "name": None} if rng.random() < 0.7 else {"id": 1234, "name": "Stripe"}
            rec = R.payment(
                id=pid, amount=R.money(amount_c, dr["_int"]), paid_at=iso(t), paid_date=self.d(t // DAY),
                recorder=dr["_creator"], notes="" if rng.random() < 0.7 else "Paid by bank transfer",
                transaction_id=None if gateway["id"] is None else f"ch_{self.hexkey(64)}", created_at=iso(t),
                gateway=gateway,
            )
            put("invoice_payments", rec, inv_id)


def _day_of(date_str: str) -> int:
    """Day number of a YYYY-MM-DD string."""
    y, m, d = (int(x) for x in date_str.split("-"))
    return _days_from_civil(y, m, d)


def _days_from_civil(y: int, m: int, d: int) -> int:
    # Howard Hinnant's algorithm: days since 1970-01-01 for a proleptic Gregorian date.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _ts_of(iso_str: str) -> int:
    """Epoch seconds of a ...Z timestamp."""
    day = _day_of(iso_str[:10])
    h, mi, s = int(iso_str[11:13]), int(iso_str[14:16]), int(iso_str[17:19])
    return day * DAY + h * 3600 + mi * 60 + s


def _rate_on(chain: list[tuple[int, Any]], day: int) -> Any:
    """The rate in effect on ``day`` from a [(start_day, amount)] chain sorted by start."""
    amount = chain[0][1]
    for start, a in chain:
        if start <= day:
            amount = a
        else:
            break
    return amount


def generate(store: Store, scale: str, seed: int, id_offset: int = 0) -> None:
    """Fill ``store`` with the account for (scale, seed), ending at the store clock's "now"; every id
    shifted by ``id_offset`` (0 for the first account, so its records stay byte for byte the same)."""
    _Gen(scale, seed, store.clock.ts, id_offset).run(store)
