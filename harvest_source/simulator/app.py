"""Request pipeline of the simulator: faults -> latency -> User-Agent -> account (by Harvest-Account-Id) ->
the account's faults and state -> auth -> rate limit (per token and account) -> route, then faults that
rewrite answers, and statistics (server-wide and the account's). /__sim__/ control paths bypass all of it."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from . import faults as F
from ._json import dumps, loads
from .accounts import Account, Accounts
from .auth import _bearer
from .clock import http_date
from .faults import Faults
from .http_types import (
    INVALID_TOKEN_DESCRIPTION,
    ApiError,
    Request,
    Response,
    bad_request,
    invalid_token,
    json_response,
    message_error,
)
from .oauth import API_PREFIX, accounts_document
from .ratelimit import RateLimiter
from .stats import Stats


class SimApp:
    """One server for every account: server-wide faults and statistics, then the account the request
    names (``Harvest-Account-Id``) with its own faults, state, authentication, rate-limit buckets and data."""

    def __init__(self, accounts: Accounts, limiter: RateLimiter, latency_ms: float = 0, control: Any = None) -> None:
        self.accounts = accounts
        self.store = accounts.first.store  # the first account's (its clock is every account's clock)
        self.auth = accounts.first.auth
        self.api = accounts.first.api
        self.limiter = limiter
        self.faults = Faults()  # server-wide: every account
        self.stats = Stats()  # every request, whichever account it named
        self.latency_ms = latency_ms
        self.control = control  # object with handle_control(method, path, query, body) -> Response
        self.base = "http://127.0.0.1"
        self.id_service: Any = None  # oauth.IdService: Harvest ID at /id/ (outside the API's rate limit)

    def http_date(self) -> str:
        return http_date(self.store.clock.ts)

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Response | None:
        parts = urlsplit(target)
        path = parts.path or "/"
        if path.startswith("/__sim__/") or path == "/__sim__":
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            try:
                return self.control.handle_control(method, path, query, body)
            except ApiError as err:
                return err.response
            except (ValueError, KeyError, TypeError) as exc:
                return message_error(422, f"{type(exc).__name__}: {exc}")
        if path.rstrip("/") == f"{API_PREFIX}/accounts" and method == "GET":
            return self._list_accounts(headers)
        if self.id_service is not None and path.startswith("/id/"):
            return self.id_service.handle(method, path, parts.query, headers, body)
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        resp, account = self._handle_api(method, path, parts.query, headers, target)
        status = "drop" if resp is None else resp.status
        self.stats.record(method, path, parts.query, status)
        if account is not None:
            account.request_stats.record(method, path, parts.query, status)
        return resp

    def _list_accounts(self, headers: Any) -> Response:
        """Harvest ID's accounts list: for an OAuth access token its grant's accounts, for a personal
        access token every account (a PAT reaches all the accounts of its user), plus the Forecast one."""
        token = _bearer(headers.get("Authorization"))
        if self.id_service is not None and self.id_service.issued_access(token):
            return self.id_service.handle("GET", f"{API_PREFIX}/accounts", "", headers, b"")
        if not self.accounts.reaches(token):
            return Response(401, dumps({"error": "invalid_token", "error_description": INVALID_TOKEN_DESCRIPTION}))
        return Response(200, accounts_document([{"id": a.id, "name": a.name} for a in self.accounts]))

    def _handle_api(self, method: str, path: str, raw_query: str, headers: Any,
                    target: str) -> tuple[Response | None, Account | None]:
        rule = self.faults.pick(path, F.PRE_KINDS)
        if rule is not None:
            if rule.kind == "drop":
                return None, None
            if rule.kind == "slow":
                time.sleep(float(rule.params.get("seconds", 5)))
            else:
                return F.pre_response(rule), None
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if not (headers.get("User-Agent") or "").strip():
            return bad_request("Missing User-Agent header: include your application name and a contact"), None
        host = headers.get("Host")
        req = Request(method, path, dict(parse_qsl(raw_query, keep_blank_values=True)), raw_query, headers,
                      f"http://{host}" if host else self.base)
        account = self.accounts.route(req)
        if account is None:
            return invalid_token(), None
        return self._handle_account(account, req, target), account

    def _handle_account(self, account: Account, req: Request, target: str) -> Response | None:
        rule = account.faults.pick(req.path, F.PRE_KINDS)
        if rule is not None:
            if rule.kind == "drop":
                return None
            if rule.kind == "slow":
                time.sleep(float(rule.params.get("seconds", 5)))
            else:
                return F.pre_response(rule)
        refused = account.refusal()
        if refused is not None:
            return refused
        try:
            req.principal = account.auth.authenticate(req)
        except ApiError as err:
            return err.response
        retry = self.limiter.check(req.principal.token, req.path, account.id)
        if retry is not None:
            return Response(429, b"", content_type="text/html", headers=[("Retry-After", str(retry))])
        if req.method not in ("GET", "HEAD"):
            return message_error(405, "The simulator is read-only; change data with POST /__sim__/mutate")
        resp = account.api.dispatch(req)
        if resp.status == 200:
            kinds = F.POST_KINDS | F.ENVELOPE_KINDS if resp.records_key else F.POST_KINDS
            rule = self.faults.pick(req.path, kinds) or account.faults.pick(req.path, kinds)
            if rule is not None:
                resp = F.post_response(rule, resp, f"{req.base}{target}")
        return resp


def read_json(body: bytes) -> dict:
    """Body of a control POST (empty means {})."""
    if not body.strip():
        return {}
    doc = loads(body)
    if not isinstance(doc, dict):
        raise ValueError("expected a JSON object")
    return doc


__all__ = ["SimApp", "read_json", "dumps", "json_response"]
