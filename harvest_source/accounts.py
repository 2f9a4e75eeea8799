"""Which Harvest accounts a run loads: the ``account_id`` setting, and Harvest ID's accounts listing.

``account_id`` is one id, a comma-separated list, or ``all``. ``all`` asks Harvest ID
(``GET {id_url}/accounts``, reference 1.2) which accounts the token reaches and keeps those whose
``product`` is ``harvest``: a Harvest ID token also reaches Forecast accounts, whose ids the Harvest
API refuses (tap-harvest silently takes the first account, which can be a Forecast one). The skipped
ones are named, so the summary can say why they were not loaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from .errors import HarvestAuthError, HarvestConfigError, HarvestError
from .settings import DEFAULT_ID_URL, DEFAULT_USER_AGENT, OAUTH_TIMEOUT_S

ALL = "all"
HARVEST_PRODUCT = "harvest"


def parse_account_setting(value: Any) -> list[str] | Literal["all"]:
    """``account_id`` as a list of ids (in the order given, duplicates dropped) or ``"all"``."""
    text = str(value if value is not None else "").strip()
    if text.lower() == ALL:
        return ALL
    ids: list[str] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise HarvestConfigError(
                f"account_id {part!r} is not a Harvest account id (a number)",
                hint="set sources.harvest.account_id (SOURCES__HARVEST__ACCOUNT_ID) to an id, a comma-separated "
                     "list of ids, or all "
                     "(https://id.getharvest.com/developers lists the ids your token reaches)",
            )
        if part not in ids:
            ids.append(part)
    if not ids:
        raise HarvestConfigError(
            "account_id is empty",
            hint="set sources.harvest.account_id (SOURCES__HARVEST__ACCOUNT_ID) to an id, a list, or all",
        )
    return ids


@dataclass
class Discovered:
    """What Harvest ID listed: the Harvest accounts to load, and the others, named for the summary."""

    harvest: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # account id -> why (e.g. a Forecast account)


def discover_accounts(
    bearer: Callable[[], str], id_url: str = DEFAULT_ID_URL, *, user_agent: str = DEFAULT_USER_AGENT,
    transport: httpx.BaseTransport | None = None, redact: Callable[[str], str] = lambda text: text,
) -> Discovered:
    """Every account the token reaches (``GET {id_url}/accounts``), Harvest ones to load, others skipped.

    ``bearer`` returns the access token (a PAT, or an OAuth access token, refreshed as needed)."""
    url = f"{id_url.rstrip('/')}/accounts"
    with httpx.Client(transport=transport, timeout=httpx.Timeout(OAUTH_TIMEOUT_S),
                      headers={"User-Agent": user_agent, "Accept": "application/json"}) as http:
        try:
            response = http.get(url, headers={"Authorization": f"Bearer {bearer()}"})
        except httpx.HTTPError as error:
            raise HarvestError(f"could not reach Harvest ID at {url}: {redact(str(error))[:200]}",
                               hint="check the network and the id_url setting, or list the account ids "
                                    "in account_id instead of all") from None
    if response.status_code == 401:
        raise HarvestAuthError(f"Harvest ID refused the token when listing its accounts ({url}: 401)",
                               status=401, path=url,
                               hint="check access_token (or the OAuth app's settings), or list the account "
                                    "ids in account_id instead of all")
    try:
        body = response.json() if response.status_code == 200 else None
    except ValueError:
        body = None
    listed = body.get("accounts") if isinstance(body, dict) else None
    if not isinstance(listed, list):
        raise HarvestError(f"Harvest ID's accounts listing ({url}) answered {response.status_code} without "
                           "an accounts list", hint="run again later, or list the account ids in account_id")
    found = Discovered()
    for account in listed:
        if not isinstance(account, dict) or account.get("id") is None:
            continue
        account_id = str(account["id"])
        product = str(account.get("product") or "")
        if product == HARVEST_PRODUCT:
            if account_id not in found.harvest:
                found.harvest.append(account_id)
        else:
            name = account.get("name") or "unnamed"
            found.skipped[account_id] = f"{name!s}: a {product or 'non-Harvest'} account, not Harvest"
    if not found.harvest:
        raise HarvestConfigError(f"the token reaches no Harvest account ({url} lists "
                                 f"{len(listed)} account(s), none with product harvest)",
                                 hint="use a token of a Harvest user, or list the account ids in account_id")
    return found


__all__ = ["ALL", "Discovered", "discover_accounts", "parse_account_setting"]
