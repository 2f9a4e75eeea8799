"""Typed errors of the Harvest client.

Every error says what failed (``status``, ``path``) and what to do about it (``hint``), so the
pipeline can print it as is. None of them ever carries the access token: the client builds the
messages from the request path (never headers) and redacts any server text before it gets here,
and it raises them outside of ``except`` blocks so no httpx exception is chained as context.
"""

from __future__ import annotations

from typing import Any

CREDENTIALS_HINT = (
    "check the access token and account id: sources.harvest.access_token / SOURCES__HARVEST__ACCESS_TOKEN "
    "and sources.harvest.account_id / SOURCES__HARVEST__ACCOUNT_ID"
)


def _rebuild(cls: type[HarvestError], message: str, state: dict[str, Any]) -> HarvestError:
    """Unpickle helper: the keyword-only constructors do not fit Exception's default reduce."""
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class HarvestError(Exception):
    """Base of all client errors: one ``except HarvestError`` catches everything we raise."""

    def __init__(self, message: str, *, status: int | None = None, path: str = "", hint: str = "") -> None:
        self.message = message
        self.status = status
        self.path = path
        self.hint = hint
        full = f"{message}. Hint: {hint}" if hint else message
        super().__init__(full)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, path={self.path!r}, message={self.message!r})"


class HarvestRunStopped(HarvestError):
    """Not sent or given up: another part of the run already failed, so its requests and back-offs stop.

    Never the reason a run failed: the runner reports the error that stopped it (``RunReport.failed``)."""


class HarvestConfigError(HarvestError, ValueError):
    """A setting is unusable (empty token, non-numeric account id, bad base URL); no request was sent."""


class HarvestAuthError(HarvestError):
    """401: the token is invalid/expired/revoked or does not match the account id."""


class HarvestPermissionError(HarvestError):
    """403: the token's user may not read this endpoint (role too low or feature disabled)."""


class HarvestNotFoundError(HarvestError):
    """404: the record or route does not exist (on a list endpoint: account id or base URL likely wrong)."""


class HarvestRequestError(HarvestError):
    """400/422 (and other unexpected 4xx): Harvest refused the request as sent; retrying will not help."""


class HarvestResponseError(HarvestError):
    """A success status whose body is unusable: not JSON, truncated, wrong envelope, or a paging loop."""


class HarvestRetriesExhausted(HarvestError):
    """429, 5xx or transport errors still failing after the bounded retries."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str = "",
        hint: str = "",
        last_status: int | None = None,
        attempts: int = 0,
    ) -> None:
        super().__init__(message, status=status, path=path, hint=hint)
        self.last_status = last_status
        self.attempts = attempts


class UnreadableBody(ValueError):
    """Raised by a decode function: the body is truncated or corrupt, so the request is worth another attempt.

    Not a ``HarvestError``: it never leaves the client. The client retries it like a body orjson cannot
    parse (backoff, ``max_attempts``); the message is the attempt's reason in the log and in the final
    "not valid JSON in N attempts" error.
    """


__all__ = [
    "CREDENTIALS_HINT",
    "HarvestAuthError",
    "HarvestConfigError",
    "HarvestError",
    "HarvestNotFoundError",
    "HarvestPermissionError",
    "HarvestRequestError",
    "HarvestResponseError",
    "HarvestRetriesExhausted",
    "UnreadableBody",
]
