"""Settings checked before the first request: a bad token, account id, base URL or User-Agent is a
``HarvestConfigError`` that names the setting to fix, never a puzzling answer from the server.

No message quotes the token: a rejected one is described ("contains spaces"), never shown.
"""

from __future__ import annotations

import httpx

from ..errors import CREDENTIALS_HINT, HarvestConfigError


def check_token(token: object) -> str:
    """The token, stripped: printable ASCII without spaces, as an HTTP header value must be."""
    if not isinstance(token, str) or not token.strip():
        raise HarvestConfigError("the Harvest access token is empty", hint=CREDENTIALS_HINT)
    token = token.strip()
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in token):
        raise HarvestConfigError(
            "the Harvest access token contains spaces, control or non-ASCII characters (value not shown)",
            hint=CREDENTIALS_HINT,
        )
    return token


def check_account_id(account_id: object) -> str:
    """The account id as digits (an int is accepted; a bool is not)."""
    text = str(account_id).strip() if isinstance(account_id, (str, int)) and not isinstance(account_id, bool) else ""
    if not text.isascii() or not text.isdigit():
        raise HarvestConfigError(
            f"the Harvest account id must be numeric, got {text[:40]!r}" if text else "the Harvest account id is empty",
            hint="set sources.harvest.account_id / SOURCES__HARVEST__ACCOUNT_ID to the numeric id shown at "
            "https://id.getharvest.com/developers",
        )
    return text


def check_base_url(base_url: str) -> str:
    """An http(s) URL without query or credentials, without its trailing slash."""
    url = httpx.URL(base_url.strip()) if isinstance(base_url, str) else None
    if url is None or url.scheme not in ("http", "https") or not url.host or url.query or url.userinfo:
        raise HarvestConfigError(
            "base_url must be an http(s) URL without query or credentials",
            hint="set sources.harvest.base_url / SOURCES__HARVEST__BASE_URL, e.g. https://api.harvestapp.com/v2",
        )
    return str(url).rstrip("/")


def check_user_agent(user_agent: str) -> str:
    """Harvest answers 400 without a User-Agent; a non-ASCII one cannot be sent as a header."""
    if not user_agent or not user_agent.strip() or not user_agent.isascii() or not user_agent.isprintable():
        raise HarvestConfigError(
            "user_agent is empty or not printable ASCII",
            hint="Harvest answers 400 without a User-Agent; set an app name and contact",
        )
    return user_agent


def check_max_attempts(max_attempts: int) -> int:
    """At least one attempt, or no request would ever be sent."""
    if max_attempts < 1:
        raise HarvestConfigError(f"max_attempts must be >= 1, got {max_attempts}", hint="use e.g. 8")
    return max_attempts


__all__ = ["check_account_id", "check_base_url", "check_max_attempts", "check_token", "check_user_agent"]
