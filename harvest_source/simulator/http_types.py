"""Request/response values passed between the HTTP layer and the API handlers, plus Harvest's error bodies
(reference 1.4), kept in one place so every path answers errors the same way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._json import dumps

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"

INVALID_TOKEN_DESCRIPTION = (
    "The access token provided is expired, revoked, malformed or invalid for other reasons."
)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    headers: Any  # email.message.Message-like: case-insensitive .get()
    base: str  # scheme://host:port used for absolute links
    principal: Any = None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = JSON
    headers: list[tuple[str, str]] = field(default_factory=list)
    records_key: str | None = None  # set on list envelopes (faults that edit envelopes use it)
    declared_length: int | None = None  # a Content-Length larger than the body (then the connection closes)


class ApiError(Exception):
    """Raised by handlers to answer with a ready-made error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(status, dumps(obj))


def message_error(status: int, message: str) -> Response:
    """422/403-style error: ``{"message": ...}`` plus a ``Hint`` header with the same text."""
    return Response(status, dumps({"message": message}), headers=[("Hint", message)])


def forbidden() -> Response:
    return message_error(403, "Not authorized!")


def unprocessable(message: str) -> Response:
    return message_error(422, message)


def bad_request(message: str) -> Response:
    return Response(400, dumps({"message": message}))


def not_found_json() -> Response:
    return Response(404, dumps({"status": 404, "error": "Not Found"}), content_type="application/json; charset=UTF-8")


def invalid_token() -> Response:
    body = {"error": "invalid_token", "error_description": INVALID_TOKEN_DESCRIPTION}
    challenge = (
        'Bearer realm="Rack::OAuth2 Protected Resources", error="invalid_token", '
        f'error_description="{INVALID_TOKEN_DESCRIPTION}"'
    )
    return Response(401, dumps(body), headers=[("WWW-Authenticate", challenge)])


HTML_404 = b"""<!DOCTYPE html>
<html>
<head>
  <title>The page you were looking for doesn't exist (404)</title>
  <meta name="viewport" content="width=device-width,initial-scale=1">
</head>
<body>
  <div class="dialog">
    <h1>The page you were looking for doesn't exist.</h1>
    <p>You may have mistyped the address or the page may have moved.</p>
  </div>
</body>
</html>
"""


def html_not_found() -> Response:
    return Response(404, HTML_404, content_type=HTML)


def html_error_page(status: int) -> Response:
    """An HTML error page as a proxy or the Rails app would send it (used by the "html" fault)."""
    body = (
        f"<!DOCTYPE html>\n<html>\n<head><title>We're sorry, but something went wrong ({status})</title></head>\n"
        "<body><h1>We're sorry, but something went wrong.</h1>\n"
        "<p>Harvest is experiencing technical difficulties. Please try again shortly.</p></body>\n</html>\n"
    )
    return Response(status, body.encode(), content_type=HTML)
