"""``harvest-dlt --authorize``: the OAuth2 authorization-code flow for a user who has an OAuth app.

It prints Harvest ID's authorize URL, waits for the browser to come back to a one-request web server
on 127.0.0.1 (a free port; register ``http://127.0.0.1`` as the app's redirect URL: Harvest accepts a
``redirect_uri`` that starts with the registered one, reference 1.3), exchanges the code for tokens and
keeps the refresh token in the token store, where the next runs find it. No token is ever printed.
"""

from __future__ import annotations

import http.server
import secrets
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from .errors import HarvestAuthError, HarvestConfigError
from .http.oauth import request_token
from .oauth_settings import OAuthSettings
from .settings import AUTHORIZE_WAIT_S, DEFAULT_USER_AGENT, OAUTH_TIMEOUT_S

CALLBACK_PATH = "/harvest-dlt/callback"
_DONE_PAGE = b"<html><body><h1>harvest-dlt is authorized.</h1><p>You can close this window.</p></body></html>"


class _Callback(http.server.BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self.send_error(404)
            return
        self.server.answer = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(_DONE_PAGE)))
        self.end_headers()
        self.wfile.write(_DONE_PAGE)
        self.server.arrived.set()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the query holds the code
        pass


class _CallbackServer(http.server.HTTPServer):
    answer: dict[str, str]
    arrived: threading.Event


def authorize(oauth: OAuthSettings, *, say: Callable[[str], None] = print, wait_s: float = AUTHORIZE_WAIT_S,
              user_agent: str = DEFAULT_USER_AGENT) -> list[dict]:
    """Run the flow; returns the accounts the new grant reaches (``GET {id_url}/accounts``)."""
    server = _CallbackServer(("127.0.0.1", 0), _Callback)
    server.answer, server.arrived = {}, threading.Event()
    redirect_uri = f"http://127.0.0.1:{server.server_address[1]}{CALLBACK_PATH}"
    state = secrets.token_urlsafe(16)
    query = urlencode({"client_id": oauth.client_id, "response_type": "code", "redirect_uri": redirect_uri,
                       "state": state})
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        say(f"Open this URL in a browser and allow access:\n{oauth.authorize_url}?{query}")
        say(f"Waiting for Harvest ID to send the browser back to {redirect_uri} ...")
        if not server.arrived.wait(wait_s):
            raise HarvestAuthError(f"no answer from Harvest ID within {wait_s:g} s",
                                   hint="run harvest-dlt --authorize again and open the URL it prints")
    finally:
        server.shutdown()
        server.server_close()
    answer = server.answer
    if answer.get("state") != state:
        raise HarvestAuthError("the redirect did not carry this run's state (not our request)",
                               hint="run harvest-dlt --authorize again")
    if not answer.get("code"):
        raise HarvestAuthError(f"Harvest ID sent no code ({answer.get('error', 'access not granted')})",
                               hint="run harvest-dlt --authorize again and allow access")
    with httpx.Client(timeout=OAUTH_TIMEOUT_S, headers={"User-Agent": user_agent}) as http:
        body = request_token(http, oauth.id_url, {
            "grant_type": "authorization_code", "code": answer["code"], "client_id": oauth.client_id,
            "client_secret": oauth.client_secret, "redirect_uri": redirect_uri,
        }, lambda text: text.replace(answer["code"], "***"))
        if not body.get("refresh_token"):
            raise HarvestAuthError("Harvest ID returned no refresh token", hint="check the app's settings in "
                                   "https://id.getharvest.com/developers (a server-side app is needed)")
        store = oauth.store()
        with store.locked():
            store.save(str(body["refresh_token"]))
        say(f"Authorized. The refresh token is stored (private) in {store.folder}.")
        return _accounts(http, oauth.id_url, str(body["access_token"]))


def _accounts(http: httpx.Client, id_url: str, access_token: str) -> list[dict]:
    try:
        response = http.get(f"{id_url}/accounts", headers={"Authorization": f"Bearer {access_token}"})
        accounts = response.json().get("accounts", []) if response.status_code == 200 else []
    except (httpx.HTTPError, ValueError, AttributeError):
        accounts = []
    return [a for a in accounts if isinstance(a, dict)]


def run_authorize(oauth: OAuthSettings | None, say: Callable[[str], None] = print) -> None:
    """The CLI's ``--authorize``: the flow, then which ``account_id`` values the grant can load."""
    if oauth is None:
        raise HarvestConfigError("--authorize needs an OAuth app",
                                 hint="put client_id and client_secret under [sources.harvest] in .dlt/secrets.toml")
    if oauth.refresh_token:
        say("note: a refresh_token is configured; runs keep using it until you remove it from your secrets")
    for account in authorize(oauth, say=say):
        say(f"  account_id {account.get('id')}: {account.get('name')} ({account.get('product')})")


__all__ = ["CALLBACK_PATH", "authorize", "run_authorize"]
