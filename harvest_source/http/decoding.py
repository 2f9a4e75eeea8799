"""Bodies into values: orjson for single objects and list pages, and the checks of a list's envelope.

Decoding is a function the caller may choose (``HarvestClient.iter_decoded``): these are the
default ones, and the contract every decoder keeps: it gets ``(body, url_path)``, returns a page
with an ``envelope`` (whose ``links.next`` drives paging), and raises ``UnreadableBody`` for a body
that is truncated or corrupt, so the request is made again. Any other error is final.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol, TypeVar

import httpx

from ..errors import HarvestResponseError, UnreadableBody

try:  # orjson comes with dlt; json is the fallback so the client imports anywhere.
    import orjson

    loads: Callable[[bytes], Any] = orjson.loads
    JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # pragma: no cover - depends on the environment
    loads = json.loads
    JSON_ERRORS = (ValueError,)


class Enveloped(Protocol):
    """What a decode function returns for one list page."""

    @property
    def envelope(self) -> Mapping[str, Any]:
        """The page without its records; its ``links.next`` drives paging."""
        ...


PageT = TypeVar("PageT", bound=Enveloped)


class JsonPage(NamedTuple):
    """A list page decoded by orjson: what ``iter_pages`` yields the records of."""

    envelope: dict[str, Any]
    records: list[dict[str, Any]]


def require_json(response: httpx.Response, path: str) -> None:
    """A 2xx that is not JSON (an HTML login page, a proxy's page) is a wrong base URL, not data."""
    ctype = response.headers.get("content-type", "")
    if "json" not in ctype.lower():
        raise HarvestResponseError(
            f"GET {path}: expected JSON but got {ctype or 'no content type'} with status {response.status_code}",
            status=response.status_code,
            path=path,
            hint="check that base_url points at the Harvest API v2 (e.g. https://api.harvestapp.com/v2)",
        )


def keep_body(raw: bytes, path: str) -> bytes:
    """The decode function of a read-ahead request: the body as it came; it is decoded in its page thread."""
    return raw


def decode_json(raw: bytes, path: str) -> Any:
    """The default decode function: orjson (or json); a body it cannot parse is worth another attempt."""
    try:
        return loads(raw)
    except JSON_ERRORS as error:
        raise UnreadableBody(f"invalid or truncated JSON body ({len(raw)} bytes)") from error


def json_page(raw: bytes, records_key: str, path: str) -> JsonPage:
    """A list page as dicts: the records under ``records_key``, the rest of the object as the envelope."""
    data = decode_json(raw, path)
    found = records(data, records_key, path)
    del data[records_key]
    return JsonPage(data, found)


def records(data: Any, records_key: str, path: str) -> list[dict[str, Any]]:
    """The list under ``records_key``; anything else means the envelope is not what we expect."""
    if not isinstance(data, dict):
        raise unusable_page(path, f"expected a JSON object with '{records_key}', got {type(data).__name__}",
                            "check that base_url points at the Harvest API v2")
    if records_key not in data:
        raise unusable_page(path, f"the response has no '{records_key}' key (keys: {', '.join(list(data)[:8])})",
                            "check the records key of this endpoint in the catalog")
    found = data[records_key]
    if not isinstance(found, list):
        raise unusable_page(path, f"'{records_key}' is a {type(found).__name__}, not a list",
                            "check the records key of this endpoint in the catalog")
    return found


def unusable_page(path: str, what: str, hint: str) -> HarvestResponseError:
    """A 200 list page whose envelope or links cannot be used: final, a retry would get the same."""
    return HarvestResponseError(f"GET {path}: {what}", status=200, path=path, hint=hint)


def record_count(page: object) -> int | None:
    """How many records a decoded page holds, when its type tells (for the one log line per request).

    Knows the JSON page (``records``) and the arrow decoder's pages (``table`` and/or ``rows``);
    anything else (a single object, a raw body) is None."""
    if isinstance(page, JsonPage):
        return len(page.records)
    table, rows = getattr(page, "table", None), getattr(page, "rows", None)
    if table is None and rows is None:
        return None
    count = getattr(table, "num_rows", 0) if table is not None else 0
    return count + (len(rows) if isinstance(rows, list) else 0)


__all__ = [
    "JSON_ERRORS",
    "Enveloped",
    "JsonPage",
    "PageT",
    "decode_json",
    "json_page",
    "keep_body",
    "loads",
    "record_count",
    "records",
    "require_json",
    "unusable_page",
]
