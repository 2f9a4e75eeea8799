"""Query semantics shared by every list endpoint: parameter parsing (400/422 as Harvest answers them),
filters over the store's rows, and the page/cursor envelope with absolute, filter-carrying links.

The envelope is spliced from pre-serialized record bytes, so a 2000-record page costs one join.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import math
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from ._json import dumps, loads
from .http_types import ApiError, Request, Response, bad_request, unprocessable
from .store import Row

MAX_PER_PAGE = 2000

_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$"
)
_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_FALSE = {"false", "0", "f", "off", "no", "n"}


def parse_updated_since(value: str) -> str:
    """ISO 8601 date-time -> the UTC ``YYYY-MM-DDTHH:MM:SSZ`` string that compares with stored ``updated_at``.

    Fractions round *up* to the next second, so the bound stays inclusive on second-resolution data.
    A space instead of ``T`` (or anything else unparsable) is a 400, as Harvest answers.
    """
    m = _DT_RE.match(value)
    if not m:
        raise ApiError(bad_request(f"Invalid updated_since: {value!r} is not an ISO 8601 date-time"))
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo), int(d), int(hh or 0), int(mi or 0), int(ss or 0), tzinfo=UTC)
    except ValueError as exc:
        raise ApiError(bad_request(f"Invalid updated_since: {value!r}")) from exc
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if frac and int(frac) > 0:
        dt += timedelta(seconds=1)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: str, name: str) -> str:
    """``YYYY-MM-DD`` (or compact ``YYYYMMDD``, as the report docs use) -> ``YYYY-MM-DD``; else 400."""
    m = _DATE_RE.match(value)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        except ValueError:
            pass
    raise ApiError(bad_request(f"Invalid {name}: {value!r} is not a date"))


def parse_bool(value: str) -> bool | None:
    """Rails-style boolean cast: empty means "not given"."""
    if value == "":
        return None
    return value.strip().lower() not in _FALSE


def parse_int(value: str) -> int:
    """Id parameters: something that is not an integer matches nothing (Rails casts it to 0)."""
    try:
        return int(value)
    except ValueError:
        return 0


def parse_per_page(query: dict[str, str]) -> int:
    raw = query.get("per_page")
    if raw is None or raw == "":
        return MAX_PER_PAGE
    try:
        n = int(raw)
    except ValueError as exc:
        raise ApiError(unprocessable("per_page must be an integer between 1 and 2000")) from exc
    if n < 1 or n > MAX_PER_PAGE:
        raise ApiError(unprocessable("per_page must be between 1 and 2000"))
    return n


def parse_page(query: dict[str, str]) -> int | None:
    raw = query.get("page")
    if raw is None or raw == "":
        return None
    try:
        n = int(raw)
    except ValueError:
        return 1
    return max(1, n)


# -- filters -------------------------------------------------------------------------------------------
# param name -> how it applies; endpoints list which params they honour.
def _f_updated(rows: list[Row], v: str) -> list[Row]:
    return [r for r in rows if r.updated >= v]


def _attr_eq(attr: str):
    def f(rows: list[Row], v: object) -> list[Row]:
        return [r for r in rows if getattr(r, attr) == v]

    return f


def _f_project_in(rows: list[Row], v: int) -> list[Row]:
    return [r for r in rows if v in r.extra]


def _f_from(rows: list[Row], v: str) -> list[Row]:
    return [r for r in rows if r.date >= v]


def _f_to(rows: list[Row], v: str) -> list[Row]:
    return [r for r in rows if r.date <= v]


FILTERS = {
    "updated_since": (parse_updated_since, _f_updated),
    "is_active": (parse_bool, _attr_eq("active")),
    "is_billed": (parse_bool, _attr_eq("is_billed")),
    "is_running": (parse_bool, _attr_eq("is_running")),
    "user_id": (parse_int, _attr_eq("user_id")),
    "client_id": (parse_int, _attr_eq("client_id")),
    "project_id": (parse_int, _attr_eq("project_id")),
    "task_id": (parse_int, _attr_eq("task_id")),
    "project_id:in": (parse_int, _f_project_in),
    "external_reference_id": (str, _attr_eq("ext_ref")),
    "state": (str, _attr_eq("state")),
    "from": (lambda v: parse_date(v, "from"), _f_from),
    "to": (lambda v: parse_date(v, "to"), _f_to),
}


def parse_filters(query: dict[str, str], accepted: Sequence[str]) -> tuple[tuple[str, object], ...]:
    """Parse the accepted filter params present in ``query`` (``name:variant`` selects a variant)."""
    out = []
    for spec in accepted:
        name = spec.split(":", 1)[0]
        raw = query.get(name)
        if raw is None:
            continue
        parsed = FILTERS[spec][0](raw)
        if parsed is None:
            continue
        out.append((spec, parsed))
    return tuple(out)


def apply_filters(rows: list[Row], filters: tuple[tuple[str, object], ...]) -> list[Row]:
    for spec, value in filters:
        rows = FILTERS[spec][1](rows, value)
    return rows


def carried_params(query: dict[str, str], accepted: Sequence[str]) -> dict[str, str]:
    """The filter params (raw, as sent) that links must carry."""
    names = [s.split(":", 1)[0] for s in accepted]
    return {n: query[n] for n in names if n in query and query[n] != ""}


# -- cursors & links ---------------------------------------------------------------------------------
def encode_cursor(direction: str, row_id: int) -> str:
    raw = dumps({direction: {"id": row_id}})
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(value: str) -> tuple[str, int]:
    try:
        padded = value + "=" * (-len(value) % 4)
        raw = base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
        obj = loads(raw)
        (direction, inner), = obj.items()
        if direction not in ("after", "before"):
            raise ValueError(direction)
        return direction, int(inner["id"])
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        raise ApiError(unprocessable("Invalid cursor")) from exc


def link(req: Request, params: dict[str, object]) -> str:
    """Absolute link to the current path with params sorted alphabetically (as Rails' to_query does)."""
    return f"{req.base}{req.path}?{urlencode(sorted((k, str(v)) for k, v in params.items()))}"


def _envelope(records_key: str, page_rows: Sequence[Row], meta: dict) -> Response:
    head = b'{"' + records_key.encode() + b'":['
    body = head + b",".join([r.data for r in page_rows]) + b"]," + dumps(meta)[1:]
    return Response(200, body, records_key=records_key)


def envelope_from_bytes(records_key: str, items: Sequence[bytes], meta: dict) -> Response:
    head = b'{"' + records_key.encode() + b'":['
    body = head + b",".join(items) + b"]," + dumps(meta)[1:]
    return Response(200, body, records_key=records_key)


def paginate(
    req: Request, records_key: str, rows: list[Row], *, mode: str, carried: dict[str, str], order: str = "id_desc"
) -> Response:
    """Slice ``rows`` (already filtered and ordered) into the page the request asks for.

    ``mode`` is "page" (page numbers and page links) or "cursor" (id-keyset cursors in links.next/previous,
    page numbers null on middle pages; ``page=N`` still works as Harvest's deprecated page mode).
    """
    q = req.query
    per_page = parse_per_page(q)
    total = len(rows)
    total_pages = math.ceil(total / per_page)
    cursor = q.get("cursor") if mode == "cursor" else None
    page = parse_page(q)

    def page_link(n: int, ref: str) -> str:
        return link(req, {**carried, "page": n, "per_page": per_page, "ref": ref})

    def cursor_link(direction: str, row_id: int, ref: str) -> str:
        return link(req, {**carried, "cursor": encode_cursor(direction, row_id), "per_page": per_page, "ref": ref})

    first = page_link(1, "first")
    last = page_link(max(1, total_pages), "last")

    if cursor:
        direction, anchor = decode_cursor(cursor)
        if order == "id_desc":
            keys = _neg_ids(rows)
            start = bisect.bisect_right(keys, -anchor) if direction == "after" else None
            end = bisect.bisect_left(keys, -anchor) if direction == "before" else None
        else:
            keys = [r.id for r in rows]
            start = bisect.bisect_right(keys, anchor) if direction == "after" else None
            end = bisect.bisect_left(keys, anchor) if direction == "before" else None
        if start is None:
            start = max(0, end - per_page)
        chunk = rows[start:start + per_page]
        is_first = start == 0
        is_last = start + per_page >= total
        number = (start + len(chunk) - 1) // per_page + 1 if chunk else max(1, total_pages)
        if is_last:
            number = max(1, total_pages)
        meta_page = number if (is_first or is_last) else None
        next_page = (number + 1) if (is_first and not is_last) else None
        prev_page = (number - 1) if (is_last and not is_first and number > 1) else None
        links = {
            "first": first,
            "next": None if is_last or not chunk else cursor_link("after", chunk[-1].id, "next_cursor"),
            "previous": None if is_first or not chunk else cursor_link("before", chunk[0].id, "previous_cursor"),
            "last": last,
        }
        meta = {
            "per_page": per_page, "total_pages": total_pages, "total_entries": total, "next_page": next_page,
            "previous_page": prev_page, "page": meta_page, "links": links,
        }
        return _envelope(records_key, chunk, meta)

    number = page or 1
    start = (number - 1) * per_page
    chunk = rows[start:start + per_page]
    has_next = start + per_page < total
    if mode == "cursor":
        nxt = cursor_link("after", chunk[-1].id, "next_cursor") if has_next and chunk else None
        prev = cursor_link("before", chunk[0].id, "previous_cursor") if number > 1 and chunk else None
        if number > 1 and not chunk:
            prev = page_link(number - 1, "previous")
    else:
        nxt = page_link(number + 1, "next") if has_next else None
        prev = page_link(number - 1, "previous") if number > 1 else None
    meta = {
        "per_page": per_page, "total_pages": total_pages, "total_entries": total,
        "next_page": number + 1 if has_next else None, "previous_page": number - 1 if number > 1 else None,
        "page": number, "links": {"first": first, "next": nxt, "previous": prev, "last": last},
    }
    return _envelope(records_key, chunk, meta)


def _neg_ids(rows: list[Row]) -> list[int]:
    return [-r.id for r in rows]
