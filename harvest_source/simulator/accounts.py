"""Several Harvest accounts behind one server: each ``Account`` has its own generated data (seed + i), ids,
company name, users, request statistics, faults and state; ``Accounts`` routes a request to one of them by
``Harvest-Account-Id`` (header, else the ``account_id`` query parameter) and answers the ID service's
accounts listing for a personal access token.

Why one server and not N: a connector that loads several accounts talks to one ``base_url``, with one token
that reaches them all (Harvest's personal access tokens and OAuth grants both do), so the simulator has to
tell accounts apart exactly the way Harvest does: by the account header, and nothing else.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from ._json import dumps, loads
from .api import Api
from .auth import Authenticator
from .clock import SimClock
from .faults import Faults
from .generator import generate
from .http_types import Request, Response, forbidden, invalid_token
from .stats import Stats
from .store import PARENT_OF, TABLE_KEYS, Store

# How an account answers every API request, whatever the token (switch with ``Account.set_state`` or
# ``POST /__sim__/accounts/<id> {"state": ...}``): the failures a multi-account load must isolate.
STATES = ("ok", "revoked", "down", "forbidden")
# Account i (0-based) gets ids shifted by i * ID_STRIDE: no id of one account appears in another (per kind,
# while a kind has fewer than ~20 million records), so a row that lands in the wrong account shows.
ID_STRIDE = 100_000_000


class Account:
    """One generated account. The methods mirror the ``Simulator`` ones that act on data, so a test
    drives the second account exactly as it drives the first: ``sim.account(id).mutate_random(0.01)``."""

    def __init__(self, index: int, account_id: int, scale: str, seed: int, clock: SimClock, *,
                 token: str | None, member_token: str | None, child_bumps_parent: bool = True) -> None:
        self.index, self.id, self.scale, self.seed = index, account_id, scale, seed
        self.store = Store(seed, clock)
        generate(self.store, scale, seed, index * ID_STRIDE)
        self.store.warm()
        self.store.child_bumps_parent = child_bumps_parent
        self.admin_user_id: int = self.store.meta["admin_user_id"]
        self.member_user_id: int | None = self.store.meta["member_user_id"]
        self.manager_user_id: int | None = self.store.meta.get("manager_user_id")
        self.auth = Authenticator(account_id, token, member_token, self.admin_user_id, self.member_user_id)
        self.api = Api(self.store)
        self.request_stats = Stats()
        self.faults = Faults()
        self.state = "ok"
        self._pending: tuple[str, int] | None = None  # (state, requests still answered before it applies)
        self._state_lock = threading.Lock()
        self._mutator = None

    # -- identity -----------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.store.company.get("name", ""))

    def rename(self, name: str) -> None:
        """Give the company another name (accounts generated from nearby seeds may draw the same one)."""
        with self.store.lock:
            self.store.set_company({**self.store.company, "name": name})
            self.store.meta["company_name"] = name

    def headers(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}", "Harvest-Account-Id": str(self.id),
                "User-Agent": "harvest-dlt tests (dev@example.com)"}

    # -- state --------------------------------------------------------------------------------------
    def set_state(self, state: str, after: int | None = None) -> None:
        """"ok"; "revoked": every token gets Harvest's 401 invalid_token here; "down": 503 to everything;
        "forbidden": 403 to everything. Other accounts keep answering. ``after=N``: the next N requests
        are still answered as now, then the state applies (an account that fails in the middle of a load)."""
        if state not in STATES:
            raise ValueError(f"unknown account state {state!r}; known: {list(STATES)}")
        with self._state_lock:
            if after is None or int(after) <= 0:
                self.state, self._pending = state, None
            else:
                self._pending = (state, int(after))

    def refusal(self) -> Response | None:
        """The answer every request gets while the account is not "ok" (None when it is)."""
        if self._pending is not None:
            with self._state_lock:
                if self._pending is not None:
                    state, left = self._pending
                    if left <= 0:
                        self.state, self._pending = state, None
                    else:
                        self._pending = (state, left - 1)
        if self.state == "revoked":
            return invalid_token()
        if self.state == "down":
            return Response(503, dumps({"status": 503, "error": "Service Unavailable"}))
        if self.state == "forbidden":
            return forbidden()
        return None

    # -- inspection ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Requests routed to this account (the simulator's ``stats()`` counts every request)."""
        return self.request_stats.snapshot()

    def reset_stats(self) -> None:
        self.request_stats.reset()

    def counts(self) -> dict[str, int]:
        with self.store.lock:
            return self.store.counts()

    def records(self, key: str, parent_id: int | None = None) -> list[dict]:
        """Records of ``key`` exactly as an administrator receives them (fresh copies), in list order."""
        if key == "company":
            return [loads(self.store.company_bytes)]
        if key not in TABLE_KEYS:
            raise KeyError(f"unknown records key {key!r}")
        with self.store.lock:
            table = self.store.table(key)
            if parent_id is not None:
                rows = table.children(parent_id)
            elif key in PARENT_OF and key not in ("user_assignments", "task_assignments"):
                parents = self.store.table(PARENT_OF[key]).ordered()
                rows = [r for p in parents for r in table.children(p.id)]
            else:
                rows = table.ordered()
            return [loads(r.data) for r in rows]

    def now(self) -> str:
        return self.store.clock.now_iso()

    # -- change -------------------------------------------------------------------------------------
    @property
    def child_bumps_parent(self) -> bool:
        return self.store.child_bumps_parent

    @child_bumps_parent.setter
    def child_bumps_parent(self, value: bool) -> None:
        self.store.child_bumps_parent = bool(value)

    @property
    def mutator(self):
        if self._mutator is None:
            from .mutations import Mutator

            self._mutator = Mutator(self.store)
        return self._mutator

    def mutate(self, kind: str, **params: Any) -> dict[str, Any]:
        """Apply one change with Harvest's side effects; returns what changed (ids by records key)."""
        return self.mutator.apply(kind, **params)

    def mutate_random(self, fraction: float = 0.01, seed: int | None = None) -> dict[str, list[int]]:
        return self.mutator.random_changes(fraction, seed)

    # -- faults (on top of the server-wide ones) ----------------------------------------------------
    def set_faults(self, rules: list[dict[str, Any]], seed: int = 0) -> None:
        self.faults.set(rules, seed)

    def clear_faults(self) -> None:
        self.faults.clear()

    def summary(self) -> dict[str, Any]:
        pending = self._pending
        return {"id": self.id, "name": self.name, "seed": self.seed, "state": self.state,
                "pending_state": None if pending is None else {"state": pending[0], "after": pending[1]},
                "admin_user_id": self.admin_user_id, "member_user_id": self.member_user_id}


class Accounts:
    """The accounts of one simulator, in creation order (the first is the one ``Simulator`` methods use)."""

    def __init__(self, first_id: int, count: int, scale: str, seed: int, clock: SimClock, *,
                 token: str | None, member_token: str | None, child_bumps_parent: bool = True) -> None:
        if count < 1:
            raise ValueError("accounts must be at least 1")
        self._by_id: dict[int, Account] = {}
        for i in range(count):
            acct = Account(i, first_id + i, scale, seed + i, clock, token=token, member_token=member_token,
                           child_bumps_parent=child_bumps_parent)
            if any(other.name == acct.name for other in self._by_id.values()):
                acct.rename(f"{acct.name} {i + 1}")
            self._by_id[acct.id] = acct
        self.first = next(iter(self._by_id.values()))

    def __iter__(self) -> Iterator[Account]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    @property
    def ids(self) -> list[int]:
        return list(self._by_id)

    def get(self, account_id: int | str | None) -> Account:
        """The account with this id (None: the first); KeyError names the known ones."""
        if account_id is None:
            return self.first
        acct = self._by_id.get(int(account_id))
        if acct is None:
            raise KeyError(f"unknown account {account_id!r}; accounts: {self.ids}")
        return acct

    def route(self, req: Request) -> Account | None:
        """The account a request addresses (``Harvest-Account-Id`` header, else ``account_id`` query)."""
        raw = (req.headers.get("Harvest-Account-Id") or req.query.get("account_id") or "").strip()
        acct = self._by_id.get(int(raw)) if raw.isdigit() else None
        return acct if acct is not None and raw == str(acct.id) else None  # "01234567" is not 1234567

    def reaches(self, token: str) -> bool:
        """Whether a personal access token is one the accounts accept (administrator or member)."""
        auth = self.first.auth
        if not token:
            return False
        if auth.member_token is not None and token == auth.member_token:
            return True
        return auth.admin_token is None or token == auth.admin_token


__all__ = ["ID_STRIDE", "STATES", "Account", "Accounts"]
