"""Tokens, accounts and roles (reference 1.1 and 1.4): who is calling, or the exact 401.

A token is bound to a user: the administrator token to the account owner, the member token to a member
whose time entries and expenses are the only ones that member may see.
"""

from __future__ import annotations

from dataclasses import dataclass

from .http_types import ApiError, Request, invalid_token

DEFAULT_ACCOUNT_ID = 1234567
DEFAULT_ADMIN_TOKEN = "sim-admin-token"


@dataclass(frozen=True)
class Principal:
    token: str
    user_id: int
    role: str  # "administrator" | "member"

    @property
    def is_admin(self) -> bool:
        return self.role == "administrator"


class Authenticator:
    """Maps (token, account id) to a Principal; anything else is Harvest's invalid_token 401."""

    def __init__(
        self,
        account_id: int,
        admin_token: str | None,
        member_token: str | None,
        admin_user_id: int,
        member_user_id: int | None,
    ) -> None:
        self.account_id = account_id
        self.admin_token = admin_token  # None: any non-empty token (except the member's) is the administrator
        self.member_token = member_token
        self.admin_user_id = admin_user_id
        self.member_user_id = member_user_id
        self.oauth = None  # an IdService (oauth.py) when the simulator has an OAuth app: its tokens expire

    def _oauth_state(self, token: str) -> str | None:
        return self.oauth.access_state(token, self.account_id) if self.oauth is not None else None

    def authenticate(self, req: Request) -> Principal:
        token = _bearer(req.headers.get("Authorization")) or req.query.get("access_token") or ""
        account = req.headers.get("Harvest-Account-Id") or req.query.get("account_id") or ""
        if not token or account.strip() != str(self.account_id):
            raise ApiError(invalid_token())
        state = self._oauth_state(token)
        if state == "live":  # an OAuth access token acts as the account owner
            return Principal(token, self.admin_user_id, "administrator")
        if state in ("expired", "denied"):  # denied: an OAuth grant that does not reach this account
            raise ApiError(invalid_token())
        if self.member_token is not None and token == self.member_token and self.member_user_id is not None:
            return Principal(token, self.member_user_id, "member")
        if self.admin_token is None or token == self.admin_token:
            return Principal(token, self.admin_user_id, "administrator")
        raise ApiError(invalid_token())


def _bearer(value: str | None) -> str:
    if not value:
        return ""
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
