"""Harvest ID's OAuth2 side (reference 1.3), at ``<root>/id/api/v2``: the token URL with the
``authorization_code`` and ``refresh_token`` grants, ``accounts`` (the token's Harvest accounts plus one
Forecast account), and the ``oauth2/authorize`` page that sends the browser back to the redirect URL
with a code.

A grant reaches every simulated account (``scope=harvest:all``, the default) or the ones its authorize
request named (``scope=harvest:ID harvest:ID``); the refresh and access tokens issued from it inherit that
reach. ``revoke(account=ID)`` takes one account out of every grant: the user removed the app's access to it,
so that account answers 401 to the app's tokens (and leaves their accounts list) while the others load.

Access tokens live ``token_lifetime_s`` seconds (divided by the time scale, on the real monotonic clock);
for tests that need expiry at exact points of a run, ``expire_every_calls`` expires every access token
after each N-th API call made with one. An expired one gets Harvest's invalid_token 401 on API calls.
Refresh tokens rotate: each use returns a new one and the old one stops working (Harvest's own rotation
is not documented: the strict reading, so a connector that keeps the newest token is tested). Error
bodies follow RFC 6749 (``invalid_grant``/``invalid_client``); Harvest's exact ones are not recorded.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ._json import dumps, loads
from .http_types import JSON, Response

ID_PREFIX = "/id"
API_PREFIX = "/id/api/v2"
DEFAULT_TOKEN_LIFETIME_S = 64799.0  # v1-era docs: 18 h (reference 1.3)
FORECAST_ACCOUNT_ID = 7654321


Scope = frozenset[int] | None  # the account ids a grant reaches; None: all of them


def accounts_document(harvest: list[dict[str, Any]]) -> bytes:
    """Harvest ID's ``GET /accounts`` body: the Harvest accounts given, then the one Forecast account."""
    accounts = [{"id": a["id"], "name": a["name"], "product": "harvest"} for a in harvest]
    accounts.append({"id": FORECAST_ACCOUNT_ID, "name": "Forecast (simulated)", "product": "forecast"})
    user = {"id": 1, "first_name": "Sim", "last_name": "Owner", "email": "owner@example.com"}
    return dumps({"user": user, "accounts": accounts})


def _error(status: int, error: str, description: str) -> Response:
    return Response(status, dumps({"error": error, "error_description": description}))


class IdService:
    """Clients, codes and tokens of one simulated Harvest ID. Thread-safe."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str | None,
        accounts: Callable[[], list[dict[str, Any]]],
        token_lifetime_s: float = DEFAULT_TOKEN_LIFETIME_S,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.token_lifetime_s = float(token_lifetime_s)
        self.time_scale = float(time_scale) or 1.0
        self._accounts = accounts
        self._clock = clock
        self._lock = threading.Lock()
        self._refresh: dict[str, Scope] = {refresh_token: None} if refresh_token else {}
        self._codes: dict[str, tuple[str, Scope]] = {}  # code -> (redirect_uri it was issued for, scope)
        self._access: dict[str, float] = {}  # access token -> expiry (clock seconds)
        self._scope: dict[str, Scope] = {}  # access token -> the accounts it reaches
        self._calls = 0  # API calls authenticated with an issued token
        self.expire_every_calls: int | None = None  # set: every N such calls, all access tokens expire
        self.issued: list[str] = []  # every token handed out (tests scan outputs for them)
        self.counts = {"authorization_code": 0, "refresh_token": 0, "refused": 0, "expired_access": 0}

    # ------------------------------------------------------------------ used by the API's authentication
    def access_state(self, token: str, account: int | None = None) -> str | None:
        """"live", "expired" (or revoked) for a token this service issued, None for any other token;
        "denied" when ``account`` is outside the token's grant (Harvest answers that with a 401 too)."""
        with self._lock:
            expiry = self._access.get(token)
            if expiry is None:
                return None
            scope = self._scope.get(token)
            if account is not None and scope is not None and account not in scope:
                return "denied"
            now = self._clock()
            if expiry > now:
                self._calls += 1
                if self.expire_every_calls and self._calls % self.expire_every_calls == 0:
                    for issued in self._access:  # this call passes; the next ones need a new token
                        self._access[issued] = min(self._access[issued], now)
                return "live"
            self.counts["expired_access"] += 1
            return "expired"

    def issued_access(self, token: str) -> bool:
        """Whether this service issued ``token`` as an access token (live or not); counts no call."""
        with self._lock:
            return token in self._access

    # ------------------------------------------------------------------ /__sim__/ controls
    def expire_access_tokens(self) -> int:
        """Every access token issued so far expires now (the next API call with one gets a 401)."""
        with self._lock:
            now = self._clock()
            for token in self._access:
                self._access[token] = min(self._access[token], now)
            return len(self._access)

    def revoke(self, refresh_token: str | None = None, account: int | None = None) -> int:
        """Revoke one refresh token; or take one ``account`` out of every grant (tokens keep working for
        the other accounts); or (neither) every refresh token and access token: the user removed the
        app's access in Harvest ID. Returns how many refresh tokens were affected."""
        with self._lock:
            if refresh_token is not None:
                return int(self._refresh.pop(refresh_token, False) is not False)
            if account is not None:
                everyone = frozenset(int(a["id"]) for a in self._accounts())
                for grants in (self._refresh, self._scope):
                    for token, scope in grants.items():
                        grants[token] = (everyone if scope is None else scope) - {int(account)}
                self._codes = {c: (r, (everyone if sc is None else sc) - {int(account)})
                               for c, (r, sc) in self._codes.items()}
                return len(self._refresh)
            revoked = len(self._refresh)
            self._refresh.clear()
            self._codes.clear()
        self.expire_access_tokens()
        return revoked

    def grant(self, accounts: list[int] | None = None) -> str:
        """A new refresh token reaching ``accounts`` (None: all), as if a user had authorized the app
        once more: one grant per customer account is how a platform connects several customers."""
        refresh = "sim-refresh-" + secrets.token_urlsafe(16)
        with self._lock:
            self._refresh[refresh] = None if accounts is None else frozenset(int(a) for a in accounts)
            self.issued.append(refresh)
        return refresh

    def reach(self, token: str) -> list[int] | None:
        """The account ids a live access token reaches (None: every account); for the accounts list."""
        with self._lock:
            scope = self._scope.get(token)
        return None if scope is None else sorted(scope)

    @property
    def refresh_tokens(self) -> set[str]:
        with self._lock:
            return set(self._refresh)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"client_id": self.client_id, "token_lifetime_s": self.token_lifetime_s,
                    "expire_every_calls": self.expire_every_calls,
                    "live_refresh_tokens": len(self._refresh), "access_tokens_issued": len(self._access),
                    **self.counts}

    def handle_control(self, method: str, path: str, body: bytes) -> Response | None:
        doc = loads(body) if body.strip() else {}
        if (method, path) == ("GET", "/__sim__/oauth"):
            return Response(200, dumps(self.snapshot()))
        if (method, path) == ("POST", "/__sim__/oauth/revoke"):
            account = doc.get("account")
            return Response(200, dumps({"revoked": self.revoke(doc.get("refresh_token"),
                                                               None if account is None else int(account))}))
        if (method, path) == ("POST", "/__sim__/oauth/grant"):  # {"accounts": [ids]} or {}: all accounts
            return Response(200, dumps({"refresh_token": self.grant(doc.get("accounts"))}))
        if (method, path) == ("POST", "/__sim__/oauth"):  # {"expire_every_calls": N}: expiry at exact points
            every = doc.get("expire_every_calls")
            self.expire_every_calls = int(every) if every else None
            return Response(200, dumps(self.snapshot()))
        if (method, path) == ("POST", "/__sim__/oauth/expire"):
            return Response(200, dumps({"expired": self.expire_access_tokens()}))
        return None

    # ------------------------------------------------------------------ the ID service's routes
    def handle(self, method: str, path: str, raw_query: str, headers: Any, body: bytes) -> Response:
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        route = path.rstrip("/")
        if route in (f"{ID_PREFIX}/oauth2/authorize", f"{API_PREFIX}/oauth2/authorize") and method == "GET":
            return self._authorize(query)
        if route == f"{API_PREFIX}/oauth2/token" and method == "POST":
            return self._token(_form(headers, body))
        if route == f"{API_PREFIX}/accounts" and method == "GET":
            return self._list_accounts(headers)
        return Response(404, dumps({"status": 404, "error": "Not Found"}))

    def _authorize(self, query: dict[str, str]) -> Response:
        if query.get("client_id") != self.client_id:
            return Response(400, b"<h1>Unknown client_id</h1>", content_type="text/html; charset=utf-8")
        if query.get("response_type") != "code":
            return Response(400, b"<h1>response_type must be code</h1>", content_type="text/html; charset=utf-8")
        redirect = query.get("redirect_uri") or "http://127.0.0.1/"
        scope_text = query.get("scope") or "harvest:all"
        scope = _parse_scope(scope_text)
        code = "sim-code-" + secrets.token_urlsafe(12)
        with self._lock:
            self._codes[code] = (redirect, scope)
        scheme, netloc, rpath, rquery, _ = urlsplit(redirect)
        params = parse_qsl(rquery) + [("code", code), ("scope", scope_text)]
        if "state" in query:
            params.append(("state", query["state"]))
        location = urlunsplit((scheme, netloc, rpath, urlencode(params), ""))
        return Response(302, b"", content_type=None, headers=[("Location", location)])

    def _token(self, form: dict[str, str]) -> Response:
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            self.counts["refused"] += 1
            return _error(401, "invalid_client", "Client authentication failed.")
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                issued = self._codes.pop(form.get("code", ""), None)
                if issued is None:
                    return self._refused("The authorization code is invalid, expired or already used.")
                scope = issued[1]
            elif grant == "refresh_token":
                old = form.get("refresh_token", "")
                if old not in self._refresh:
                    return self._refused("The refresh token is invalid, expired, revoked or already used.")
                scope = self._refresh.pop(old)  # rotation: the old one stops working
            else:
                return _error(400, "unsupported_grant_type", f"grant_type {grant!r} is not supported.")
            self.counts[grant] += 1
            access = "sim-access-" + secrets.token_urlsafe(16)
            refresh = "sim-refresh-" + secrets.token_urlsafe(16)
            self._access[access] = self._clock() + self.token_lifetime_s / self.time_scale
            self._scope[access] = scope
            self._refresh[refresh] = scope
            self.issued += [access, refresh]
        return Response(200, dumps({"access_token": access, "refresh_token": refresh, "token_type": "bearer",
                                    "expires_in": int(self.token_lifetime_s) if self.token_lifetime_s >= 1
                                    else self.token_lifetime_s}))

    def _refused(self, description: str) -> Response:
        self.counts["refused"] += 1
        return _error(400, "invalid_grant", description)

    def _list_accounts(self, headers: Any) -> Response:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or self.access_state(token.strip()) != "live":
            return _error(401, "invalid_token", "The access token provided is expired, revoked, malformed or "
                                                "invalid for other reasons.")
        reach = self.reach(token.strip())
        harvest = [a for a in self._accounts() if reach is None or int(a["id"]) in reach]
        return Response(200, accounts_document(harvest), content_type=JSON)


def _parse_scope(text: str) -> Scope:
    """``harvest:all`` (None: every account) or space-separated ``harvest:ID`` (those accounts only);
    only ``forecast:ID`` scopes reach no Harvest account; anything else is read as ``harvest:all``."""
    words = text.split()
    if "harvest:all" in words:
        return None
    ids = frozenset(int(w[8:]) for w in words if w.startswith("harvest:") and w[8:].isdigit())
    if ids or (words and all(w.startswith("forecast:") for w in words)):
        return ids
    return None


def _form(headers: Any, body: bytes) -> dict[str, str]:
    """The token request's fields: form-encoded or JSON (both are seen in the wild, reference 1.3)."""
    if "json" in (headers.get("Content-Type") or ""):
        doc = loads(body) if body.strip() else {}
        return {str(k): str(v) for k, v in doc.items()} if isinstance(doc, dict) else {}
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


__all__ = ["API_PREFIX", "DEFAULT_TOKEN_LIFETIME_S", "FORECAST_ACCOUNT_ID", "ID_PREFIX", "IdService",
           "accounts_document"]
