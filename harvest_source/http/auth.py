"""Credentials as ``httpx.Auth``: httpx adds them to each request just before it is sent.

Why an ``Auth`` and not default headers: the credential kind becomes one swappable part. A personal
access token is a fixed Bearer header; OAuth2 (the many-accounts issue) adds a second ``Auth``
beside this one that refreshes its token when Harvest answers 401, which httpx's auth flows are built
for. Whatever the kind, the secret stays inside the ``Auth``: its ``repr`` hides it and ``redact``
removes it from any text (a server message, a transport error) before that text is shown.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx


class TokenAuth(httpx.Auth):
    """A Harvest personal access token: ``Authorization: Bearer …`` and ``Harvest-Account-Id`` on each request."""

    requires_request_body = False
    requires_response_body = False

    def __init__(self, token: str, account_id: str) -> None:
        self._token = token
        self.account_id = account_id

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        request.headers["Harvest-Account-Id"] = self.account_id
        yield request

    def redact(self, text: str) -> str:
        """``text`` with the token replaced by ``***`` (server messages, transport error texts)."""
        return text.replace(self._token, "***") if self._token else text

    def pacer_identity(self) -> tuple[str, str]:
        """What the process-wide pacer registry hashes (with the base URL): one budget per credential."""
        return self._token, self.account_id

    def __repr__(self) -> str:
        return f"TokenAuth(account_id={self.account_id!r})"


__all__ = ["TokenAuth"]
