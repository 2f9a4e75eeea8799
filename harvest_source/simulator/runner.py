"""The public face of the simulator: ``Simulator`` (start/stop, inspect, mutate, inject faults) and the
``run_simulator`` context manager that serves it on a free port in a background thread.

With ``accounts=N`` one server holds N accounts (``accounts.py``). The data methods of ``Simulator`` act on
the first account, as they did when there was only one; ``sim.account(id)`` gives any account the same
methods. Statistics, faults set on ``sim`` and the rate limiter are server-wide."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ._json import dumps
from .accounts import Account, Accounts
from .app import SimApp, read_json
from .auth import DEFAULT_ACCOUNT_ID, DEFAULT_ADMIN_TOKEN
from .clock import SimClock, start_ts
from .http_types import Response, json_response, message_error
from .oauth import API_PREFIX, DEFAULT_TOKEN_LIFETIME_S, IdService
from .ratelimit import RateLimiter
from .server import ServerThread


class Simulator:
    """A generated Harvest account served over HTTP. See the package docstring for the interface."""

    def __init__(
        self,
        scale: str = "tiny",
        seed: int = 1,
        *,
        token: str | None = None,
        member_token: str | None = None,
        account_id: int | None = None,
        rate_limit: str = "off",
        time_scale: float = 1.0,
        latency_ms: float = 0,
        child_bumps_parent: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        now: str | int | None = None,
        oauth_client_id: str | None = None,
        oauth_client_secret: str | None = None,
        refresh_token: str | None = None,
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
        accounts: int = 1,
    ) -> None:
        self.scale, self.seed = scale, seed
        self.account_id = int(account_id) if account_id is not None else DEFAULT_ACCOUNT_ID
        # Account i: id account_id + i, data of seed + i, ids shifted (accounts.ID_STRIDE); one shared clock.
        self.accounts = Accounts(self.account_id, int(accounts), scale, seed, SimClock(start_ts(now)),
                                 token=token, member_token=member_token, child_bumps_parent=child_bumps_parent)
        first = self.accounts.first
        self.store = first.store
        self._token = token
        self.member_token = member_token
        self.admin_user_id: int = first.admin_user_id
        self.member_user_id: int | None = first.member_user_id
        self.manager_user_id: int | None = first.manager_user_id
        self.auth = first.auth
        self.limiter = RateLimiter(rate_limit, time_scale)
        self.app = SimApp(self.accounts, self.limiter, latency_ms, control=self)
        self.oauth: IdService | None = None
        if oauth_client_id:
            self.oauth = IdService(oauth_client_id, oauth_client_secret or "", refresh_token,
                                   lambda: [{"id": a.id, "name": a.name} for a in self.accounts],
                                   token_lifetime_s, time_scale)
            self.app.id_service = self.oauth
            for acct in self.accounts:
                acct.auth.oauth = self.oauth
        self._host, self._port = host, port
        self._server: ServerThread | None = None

    # -- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> Simulator:
        if self._server is None:
            self._server = ServerThread(self.app, self._host, self._port)
            self.app.base = f"http://{self._server.host}:{self._server.port}"
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("simulator not started")
        return self._server.port

    @property
    def base_url(self) -> str:
        return f"http://{self._server.host if self._server else self._host}:{self.port}/v2"

    @property
    def id_url(self) -> str:
        """The ID service's root, as the connector's ``id_url`` setting wants it."""
        return f"{self.base_url[:-3]}{API_PREFIX}"

    @property
    def admin_token(self) -> str:
        return self._token if self._token is not None else DEFAULT_ADMIN_TOKEN

    def headers(self, token: str | None = None, account: int | None = None) -> dict[str, str]:
        """The three headers Harvest requires, for the administrator (or ``token``), on the first
        account (or ``account``)."""
        return self.accounts.get(account).headers(token or self.admin_token)

    # -- accounts -----------------------------------------------------------------------------------
    @property
    def account_ids(self) -> list[int]:
        """Every account's id, the first (``account_id``) first."""
        return self.accounts.ids

    def account(self, account_id: int | str | None = None) -> Account:
        """One account (None: the first), with ``mutate``, ``mutate_random``, ``records``, ``counts``,
        ``stats``, ``set_faults``, ``set_state``... acting on that account only."""
        return self.accounts.get(account_id)

    def set_account_state(self, account_id: int | str, state: str, after: int | None = None) -> None:
        """"ok", "revoked" (401 invalid_token), "down" (503) or "forbidden" (403) for every request
        to that account, whatever the token; the other accounts keep answering. ``after=N``: from the
        N+1-th request to that account on."""
        self.accounts.get(account_id).set_state(state, after)

    @property
    def child_bumps_parent(self) -> bool:
        return self.store.child_bumps_parent

    @child_bumps_parent.setter
    def child_bumps_parent(self, value: bool) -> None:
        for acct in self.accounts:
            acct.child_bumps_parent = value

    @property
    def latency_ms(self) -> float:
        return self.app.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self.app.latency_ms = value

    # -- inspection ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        self.app.stats.reset()

    def counts(self) -> dict[str, int]:
        return self.accounts.first.counts()

    def records(self, key: str, parent_id: int | None = None) -> list[dict]:
        """Records of ``key`` exactly as an administrator receives them (fresh copies), in list order."""
        return self.accounts.first.records(key, parent_id)

    def now(self) -> str:
        return self.store.clock.now_iso()

    def advance_clock(self, seconds: int) -> str:
        """Move the clock every account shares."""
        with self.store.lock:
            self.store.clock.advance(seconds)
        return self.now()

    # -- change (the first account; ``sim.account(id).mutate(...)`` for another) ------------------------
    @property
    def mutator(self):
        return self.accounts.first.mutator

    def mutate(self, kind: str, **params: Any) -> dict[str, Any]:
        """Apply one change with Harvest's side effects; returns what changed (ids by records key)."""
        return self.accounts.first.mutate(kind, **params)

    def mutate_random(self, fraction: float = 0.01, seed: int | None = None) -> dict[str, list[int]]:
        return self.accounts.first.mutate_random(fraction, seed)

    # -- faults -------------------------------------------------------------------------------------
    def set_faults(self, rules: list[dict[str, Any]], seed: int = 0) -> None:
        self.app.faults.set(rules, seed)

    def clear_faults(self) -> None:
        self.app.faults.clear()

    # -- /__sim__/ ----------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url, "account_id": self.account_id, "admin_token": self.admin_token,
            "member_token": self.member_token, "admin_user_id": self.admin_user_id,
            "member_user_id": self.member_user_id, "scale": self.scale, "seed": self.seed,
            "rate_limit": self.limiter.mode, "time_scale": self.limiter.time_scale,
            "child_bumps_parent": self.child_bumps_parent, "now": self.now(),
            "account_ids": self.account_ids, "accounts": [a.summary() for a in self.accounts],
        }

    def handle_control(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        """``account`` (query parameter, or a key of a POST's body) picks the account of stats, counts,
        mutate, mutate_random and faults; without it: server-wide stats and faults, the first account's data."""
        route = (method, path.rstrip("/"))
        if self.oauth is not None and route[1].startswith("/__sim__/oauth"):
            answer = self.oauth.handle_control(*route, body)
            if answer is not None:
                return answer
        if route[1].startswith("/__sim__/accounts"):
            return self._account_control(route, body)
        doc = read_json(body) if method in ("POST", "PUT") else {}
        account = doc.pop("account", None) if "account" in doc else query.get("account")
        acct = None if account is None else self.accounts.get(account)
        if route == ("GET", "/__sim__/stats"):
            return json_response(self.stats() if acct is None else acct.stats())
        if route == ("POST", "/__sim__/reset"):
            self.reset_stats()
            for each in self.accounts:
                each.reset_stats()
            self.limiter.reset()
            return json_response({"ok": True})
        if route == ("GET", "/__sim__/counts"):
            return json_response(self.account(account).counts())
        if route == ("GET", "/__sim__/config"):
            return json_response(self.config())
        if route == ("GET", "/__sim__/clock"):
            return json_response({"now": self.now()})
        if route == ("POST", "/__sim__/clock"):
            return json_response({"now": self.advance_clock(int(doc.get("advance", 1)))})
        if route == ("POST", "/__sim__/mutate"):
            kind = doc.pop("kind")
            return Response(200, dumps(self.account(account).mutate(kind, **doc)))
        if route == ("POST", "/__sim__/mutate_random"):
            return json_response(self.account(account).mutate_random(float(doc.get("fraction", 0.01)),
                                                                     doc.get("seed")))
        if route == ("POST", "/__sim__/faults"):
            (self if acct is None else acct).set_faults(doc.get("rules", []), int(doc.get("seed", 0)))
            return json_response({"ok": True, "rules": len(doc.get("rules", []))})
        if route == ("DELETE", "/__sim__/faults"):
            (self if acct is None else acct).clear_faults()
            return json_response({"ok": True})
        return message_error(404, f"unknown control route {method} {path}")

    def _account_control(self, route: tuple[str, str], body: bytes) -> Response:
        """``GET /__sim__/accounts``: every account's id, name, seed and state;
        ``POST /__sim__/accounts/<id> {"state": "ok"|"revoked"|"down"|"forbidden", "after": N}``: one account
        fails (after N more requests)."""
        method, path = route
        if path == "/__sim__/accounts" and method == "GET":
            return json_response({"accounts": [a.summary() for a in self.accounts]})
        tail = path.removeprefix("/__sim__/accounts/")
        if tail.isdigit() and method == "GET":
            return json_response(self.accounts.get(tail).summary())
        if tail.isdigit() and method == "POST":
            acct = self.accounts.get(tail)
            doc = read_json(body)
            acct.set_state(str(doc.get("state", "ok")), doc.get("after"))
            return json_response(acct.summary())
        return message_error(404, f"unknown control route {method} {path}")


@contextlib.contextmanager
def run_simulator(
    scale: str = "tiny",
    seed: int = 1,
    *,
    token: str | None = None,
    member_token: str | None = None,
    account_id: int | None = None,
    rate_limit: str = "off",
    time_scale: float = 1.0,
    latency_ms: float = 0,
    child_bumps_parent: bool = True,
    port: int = 0,
    host: str = "127.0.0.1",
    now: str | int | None = None,
    oauth_client_id: str | None = None,
    oauth_client_secret: str | None = None,
    refresh_token: str | None = None,
    token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
    accounts: int = 1,
) -> Iterator[Simulator]:
    """Generate the account, serve it on ``host:port`` (0 = a free port) in a thread, stop on exit.

    ``now`` pins the account's clock (its data ends that day); by default ``$HARVEST_SIM_NOW``, else today.
    ``oauth_client_id`` (with its secret, the initial ``refresh_token`` and ``token_lifetime_s``) serves an
    OAuth app at ``sim.id_url`` whose access tokens expire and whose refresh tokens rotate (``oauth.py``).
    ``accounts`` serves that many accounts (ids ``sim.account_ids``, data of seed, seed + 1, ...)."""
    sim = Simulator(scale, seed, token=token, member_token=member_token, account_id=account_id,
                    rate_limit=rate_limit, time_scale=time_scale, latency_ms=latency_ms,
                    child_bumps_parent=child_bumps_parent, host=host, port=port, now=now,
                    oauth_client_id=oauth_client_id, oauth_client_secret=oauth_client_secret,
                    refresh_token=refresh_token, token_lifetime_s=token_lifetime_s, accounts=accounts)
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()
