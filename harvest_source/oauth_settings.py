"""The OAuth2 settings of one Harvest OAuth app, checked once, as the alternative to an access token.

``client_id``, ``client_secret`` and (optionally) ``refresh_token`` come from secrets
(``[sources.harvest]``); without a refresh token the one stored by ``harvest-dlt --authorize`` is used.
The value object travels from ``runner.resolve_credentials`` to ``harvest_source()`` and the client; its
``repr`` shows no secret, so printing or logging it leaks nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from .errors import HarvestConfigError
from .http.oauth import REAUTHORIZE_HINT, OAuthRefreshAuth
from .settings import DEFAULT_ID_URL
from .token_store import TokenStore


@dataclass(frozen=True)
class OAuthSettings:
    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(default="", repr=False)  # the configured seed; "" = the --authorize grant
    id_url: str = DEFAULT_ID_URL
    token_dir: str | None = None

    @classmethod
    def from_values(
        cls, client_id: object, client_secret: object, refresh_token: object = None,
        id_url: object = None, token_dir: object = None, *, need_token: bool = True,
    ) -> OAuthSettings:
        """Checked settings; ``need_token``: a refresh token must be configured or stored (not for --authorize)."""
        missing = [name for name, value in (("client_id", client_id), ("client_secret", client_secret))
                   if not str(value or "").strip()]
        if missing:
            raise HarvestConfigError(
                "OAuth needs " + " and ".join(missing),
                hint="put client_id and client_secret of your Harvest OAuth app under [sources.harvest] in "
                     ".dlt/secrets.toml (or use access_token, a Personal Access Token)")
        url = str(id_url or DEFAULT_ID_URL).strip().rstrip("/")
        if not url.startswith(("https://", "http://")):
            raise HarvestConfigError(f"id_url {url!r} is not an http(s) URL", hint=f"leave it unset ({DEFAULT_ID_URL})")
        settings = cls(str(client_id).strip(), str(client_secret).strip(), str(refresh_token or "").strip(), url,
                       str(token_dir) if token_dir else None)
        if need_token and not settings.store().load():
            raise HarvestConfigError("no OAuth refresh token: none is configured and none is stored",
                                     hint=REAUTHORIZE_HINT)
        return settings

    def store(self) -> TokenStore:
        return TokenStore(self.client_id, self.refresh_token, self.token_dir)

    def auth(self, account_id: str, *, user_agent: str, transport: httpx.BaseTransport | None = None
             ) -> OAuthRefreshAuth:
        return OAuthRefreshAuth(self.client_id, self.client_secret, self.store(), account_id, self.id_url,
                                user_agent=user_agent, transport=transport)

    @property
    def authorize_url(self) -> str:
        """Harvest ID's authorize page: ``https://id.getharvest.com/oauth2/authorize`` for the default id_url."""
        root = self.id_url.removesuffix("/api/v2")
        return f"{root}/oauth2/authorize"

    @property
    def token_folder(self) -> Path:
        return self.store().folder


__all__ = ["OAuthSettings"]
