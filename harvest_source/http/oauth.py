"""OAuth2 credentials as an ``httpx.Auth`` that keeps its access token fresh (reference 1.3).

Beside ``TokenAuth`` (a fixed personal access token): the access token is obtained from Harvest ID
(``{id_url}/oauth2/token``, ``grant_type=refresh_token``) on the first request, refreshed before its
``expires_in`` runs out, and refreshed once more when Harvest answers 401 in the middle of a run (a
revoked or early-expired token); the request is then sent again. A second 401 right after a fresh
token is not a stale token: it fails with what to do (unless another thread has replaced that token
meanwhile: then it expired under us, and the request gets one more try with the newest). A refresh
token Harvest returns replaces the old one in the ``TokenStore`` at once, so the next run uses it.

Threads: many page threads share one client; one lock makes a single thread refresh while the others
wait for its token, and a thread whose 401 came from a token another thread has already replaced just
retries with the new one. Token requests go to ``id_url`` through a client of their own, so they never
spend the API pacer's budget; the pacer is keyed by the app and account (``pacer_identity``), not by
the access token that changes under it. Tokens never appear in ``repr``, logs or errors (``redact``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx

from ..errors import HarvestAuthError
from ..settings import (
    OAUTH_DEFAULT_EXPIRES_IN_S,
    OAUTH_MAX_REFRESHES_PER_REQUEST,
    OAUTH_REFRESH_MARGIN_FRACTION,
    OAUTH_REFRESH_MARGIN_S,
    OAUTH_TIMEOUT_S,
    OAUTH_TOKEN_ATTEMPTS,
    OAUTH_TOKEN_BACKOFF_S,
)
from ..token_store import TokenStore

log = logging.getLogger("harvest_source")

REAUTHORIZE_HINT = ("authorize again: run `harvest-dlt --authorize` (or put a new refresh_token under "
                    "[sources.harvest] in .dlt/secrets.toml), then run the load again")


def request_token(http: httpx.Client, id_url: str, form: dict[str, str], redact: Callable[[str], str],
                  sleep: Callable[[float], None] = time.sleep) -> dict:
    """POST Harvest ID's token URL; the token response, or a ``HarvestAuthError`` saying what to do.

    A 5xx, a 429 or no answer is tried again (``OAUTH_TOKEN_ATTEMPTS`` in all, backing off): an outage of
    a few seconds at Harvest ID must not fail a run that would then wait a day for its schedule."""
    url = f"{id_url.rstrip('/')}/oauth2/token"
    for attempt in range(1, OAUTH_TOKEN_ATTEMPTS + 1):
        last = attempt == OAUTH_TOKEN_ATTEMPTS
        try:
            response = http.post(url, data=form)
        except httpx.HTTPError as error:
            if last:
                raise HarvestAuthError(f"could not reach Harvest ID at {url}: {redact(str(error))[:200]}",
                                       hint="check the network and the id_url setting, then run again") from None
            log.info("Harvest ID's token URL did not answer (attempt %d); trying again", attempt)
        else:
            if response.status_code < 500 and response.status_code != 429 or last:
                break
            log.info("Harvest ID's token URL answered %d (attempt %d); trying again", response.status_code, attempt)
        sleep(OAUTH_TOKEN_BACKOFF_S * attempt)
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if response.status_code == 200 and body.get("access_token"):
        return body
    said = redact(str(body.get("error_description") or body.get("error") or ""))[:200]
    detail = f" ({response.status_code}{': ' + said if said else ''})"
    if body.get("error") == "invalid_client" or response.status_code == 401:
        raise HarvestAuthError(f"Harvest ID refused the OAuth app's client_id/client_secret{detail}",
                               hint="check client_id and client_secret under [sources.harvest] against the app "
                                    "in https://id.getharvest.com/developers")
    if body.get("error") == "invalid_grant" or response.status_code == 400:
        grant = form.get("grant_type", "").replace("_", " ")
        raise HarvestAuthError(f"Harvest ID refused the {grant}: revoked, expired or already used{detail}",
                               hint=REAUTHORIZE_HINT)
    raise HarvestAuthError(f"Harvest ID's token URL answered {response.status_code}{detail}",
                           hint="Harvest ID may be down: run again later")


class OAuthRefreshAuth(httpx.Auth):
    """Harvest OAuth2: ``Authorization: Bearer <fresh access token>`` and ``Harvest-Account-Id``."""

    requires_request_body = False
    requires_response_body = False

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        store: TokenStore,
        account_id: str,
        id_url: str,
        *,
        user_agent: str,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.account_id = account_id
        self.id_url = id_url.rstrip("/")
        self._client_id, self._client_secret = client_id, client_secret
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._access: str | None = None
        self._refresh_at = 0.0
        self._secrets: set[str] = {client_secret} if client_secret else set()
        self._working: set[str] = set()  # access tokens that got an answer other than 401
        self.refreshes = 0
        self._http = httpx.Client(transport=transport, timeout=httpx.Timeout(OAUTH_TIMEOUT_S),
                                  headers={"User-Agent": user_agent, "Accept": "application/json"})

    # ------------------------------------------------------------------ the token
    def access_token(self, stale: str | None = None) -> str:
        """The current access token, refreshed first when it is due (or is ``stale``, the one a 401 refused)."""
        with self._lock:
            if self._access is None or self._access == stale or self._clock() >= self._refresh_at:
                self._refresh()
            assert self._access is not None
            return self._access

    def _refresh(self) -> None:
        with self._store.locked() as store:  # other processes wait: the refresh token is spent once
            refresh_token = store.load()
            if not refresh_token:
                raise HarvestAuthError("no OAuth refresh token for this app yet", hint=REAUTHORIZE_HINT)
            self._secrets.add(refresh_token)
            body = request_token(self._http, self.id_url, {
                "grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": self._client_id, "client_secret": self._client_secret,
            }, self.redact)
            new_refresh = body.get("refresh_token")
            if new_refresh and new_refresh != refresh_token:
                self._secrets.add(str(new_refresh))
                store.save(str(new_refresh))
        self._access = str(body["access_token"])
        self._secrets.add(self._access)
        try:
            lifetime = float(body.get("expires_in") or OAUTH_DEFAULT_EXPIRES_IN_S)
        except (TypeError, ValueError):
            lifetime = OAUTH_DEFAULT_EXPIRES_IN_S
        margin = min(OAUTH_REFRESH_MARGIN_S, lifetime * OAUTH_REFRESH_MARGIN_FRACTION)
        self._refresh_at = self._clock() + lifetime - margin
        self.refreshes += 1
        log.info("OAuth access token refreshed (valid %.0f s)", lifetime)

    # ------------------------------------------------------------------ httpx.Auth
    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send with the current token; on a 401, refresh and send again. A refreshed token that is refused
        before it ever worked fails the request. One that worked, or that another thread has replaced
        since, expired in between (many threads share it): it is refreshed again, a bounded number of times."""
        token = self.access_token()
        for attempt in range(OAUTH_MAX_REFRESHES_PER_REQUEST + 1):
            self._sign(request, token)
            response = yield request
            if response.status_code != 401:
                self._mark_working(token)
                return
            if attempt and not (self._replaced(token) or self._has_worked(token)):
                break  # a fresh token refused at once: not an expiry, a refusal
            log.info("GET %s: 401 with the current OAuth access token; refreshing it", request.url.path)
            token = self.access_token(stale=token)
        raise HarvestAuthError(
            f"GET {request.url.path}: Harvest refused a freshly refreshed OAuth access token for account "
            f"{self.account_id} (401)", status=401, path=request.url.path,
            hint=f"check that account_id is an account the authorizing user can reach ({self.id_url}/accounts "
                 "lists them) and that the app's access was not removed; if it was, " + REAUTHORIZE_HINT,
        )

    def _replaced(self, token: str) -> bool:
        with self._lock:
            return self._access != token

    def _mark_working(self, token: str) -> None:
        if token not in self._working:  # a set add under the GIL: no lock on every request
            with self._lock:
                self._working.add(token)

    def _has_worked(self, token: str) -> bool:
        return token in self._working

    def _sign(self, request: httpx.Request, token: str) -> None:
        request.headers["Authorization"] = f"Bearer {token}"
        request.headers["Harvest-Account-Id"] = self.account_id

    def redact(self, text: str) -> str:
        """``text`` with every token and the client secret this auth has held replaced by ``***``."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def pacer_identity(self) -> tuple[str, str]:
        """One budget per OAuth app + account: the access token changes under the pacer."""
        return "oauth:" + hashlib.sha256(self._client_id.encode()).hexdigest()[:16], self.account_id

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"OAuthRefreshAuth(account_id={self.account_id!r}, id_url={self.id_url!r})"


__all__ = ["REAUTHORIZE_HINT", "OAuthRefreshAuth", "request_token"]
