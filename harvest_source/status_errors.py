"""Harvest's answers into the typed errors of ``errors``: which status means what, and what to do.

Kept beside the error types, apart from the transport, so the words a user reads about a status are
in one place: the transport decides *whether* to retry, this module says what a final answer means.
Server text is redacted before it is quoted (``redact`` removes the token, should Harvest echo it).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from . import errors
from .http.decoding import JSON_ERRORS, loads
from .settings import DEFAULT_BASE_URL

Redact = Callable[[str], str]


def status_error(
    response: httpx.Response, path: str, *, listing: bool, base_url: str, redact: Redact
) -> errors.HarvestError:
    """The error for a final non-2xx answer (429 and 5xx were retried before they got here)."""
    status = response.status_code
    said = server_message(response, redact)
    detail = f": {said}" if said else ""
    if status == 401:
        return errors.HarvestAuthError(
            f"GET {path}: Harvest rejected the credentials (401){detail}", status=status, path=path,
            hint=errors.CREDENTIALS_HINT,
        )
    if status == 403:
        return errors.HarvestPermissionError(
            f"GET {path}: the token's user is not allowed to read this endpoint (403){detail}",
            status=status,
            path=path,
            hint="use a token of an administrator (or a role with access), or deselect this resource",
        )
    if status == 404:
        return errors.HarvestNotFoundError(
            f"GET {path}: not found (404){detail}", status=status, path=path,
            hint=_not_found_hint(base_url, listing),
        )
    if 300 <= status < 400:
        where = httpx.URL(response.headers.get("location", "")).host or "another location"
        return errors.HarvestResponseError(
            f"GET {path}: redirected ({status}) to {where}; redirects are not followed to protect the token",
            status=status,
            path=path,
            hint=f"set base_url to the final API URL ({DEFAULT_BASE_URL})",
        )
    hint = (
        "check the parameters (dates as ISO 8601, report ranges <= 1 year) and that a User-Agent is set"
        if status == 400
        else "Harvest refused the request as sent; check the parameters and the account's features"
    )
    return errors.HarvestRequestError(
        f"GET {path}: request refused ({status}){detail}", status=status, path=path, hint=hint
    )


def _not_found_hint(base_url: str, listing: bool) -> str:
    """A base URL without /v2 is the likely cause of any 404 (issue 17): say so before blaming the record."""
    if not httpx.URL(base_url).path.rstrip("/").endswith("/v2"):
        return f"base_url {base_url} has no /v2: set it to {DEFAULT_BASE_URL}"
    if listing:
        return "the account id or base URL may be wrong: check sources.harvest.account_id and sources.harvest.base_url"
    return "the record may not exist; otherwise check sources.harvest.account_id and sources.harvest.base_url"


def server_message(response: httpx.Response, redact: Redact) -> str:
    """Harvest's own explanation from a JSON error body (``message``/``error_description``), redacted."""
    if "json" not in response.headers.get("content-type", "").lower():
        return ""
    try:
        body = loads(response.content)
    except JSON_ERRORS:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("message", "error_description", "error"):
        if isinstance(body.get(key), str) and body[key].strip():
            return redact(body[key].strip())[:300]
    return ""


def exhausted(path: str, status: int | None, reason: str, attempts: int, base_url: str) -> errors.HarvestError:
    """The error after the last retry: unusable 200 bodies are a response error, the rest exhausted."""
    if status is not None and 200 <= status < 300:
        return errors.HarvestResponseError(
            f"GET {path}: the body was not valid JSON in {attempts} attempts (last: {reason})",
            status=status,
            path=path,
            hint="the response keeps arriving truncated or corrupt; check proxies between you and Harvest",
        )
    if status is None:
        hint = f"could not reach {httpx.URL(base_url).host}; check base_url ({base_url}) and the network"
    elif status == 429:
        hint = "Harvest kept throttling; run fewer concurrent jobs on this token or try later"
    else:
        hint = "Harvest kept failing; try again later (see https://www.harveststatus.com)"
    return errors.HarvestRetriesExhausted(
        f"GET {path}: still failing after {attempts} attempts (last: {reason})",
        status=status,
        path=path,
        hint=hint,
        last_status=status,
        attempts=attempts,
    )


__all__ = ["exhausted", "server_message", "status_error"]
