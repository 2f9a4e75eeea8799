"""HarvestClient tests on httpx.MockTransport: no network, no real sleeping, no timed assertions."""

from __future__ import annotations

import json
import logging
import pickle
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fakes import FakeTime, run_in_threads

from harvest_source.client import DEFAULT_USER_AGENT, HarvestClient, UnreadableBody
from harvest_source.errors import (
    HarvestAuthError,
    HarvestConfigError,
    HarvestError,
    HarvestNotFoundError,
    HarvestPermissionError,
    HarvestRequestError,
    HarvestResponseError,
    HarvestRetriesExhausted,
    HarvestRunStopped,
)
from harvest_source.http import pacing

TOKEN = "1234567.pt.TOPSECRET-token-value"
ACCOUNT = "987654"
BASE = "https://api.harvestapp.com/v2"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Wraps a handler and keeps every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
        return self.handler(request)


def sequence(*responses: httpx.Response | Exception) -> Handler:
    """A handler answering with the given responses (or raising the given exceptions) in order."""
    items: Iterator[httpx.Response | Exception] = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = next(items)
        if isinstance(item, Exception):
            if isinstance(item, httpx.RequestError):
                item.request = request
            raise item
        return item

    return handler


def make(handler: Handler, **kwargs: Any) -> tuple[HarvestClient, Recorder, FakeTime]:
    ft = FakeTime(5000.0)
    rec = Recorder(handler)
    kwargs.setdefault("rng", random.Random(7))
    client = HarvestClient(
        TOKEN, ACCOUNT, BASE, transport=httpx.MockTransport(rec), sleep=ft.sleep, clock=ft.clock, **kwargs
    )
    return client, rec, ft


def page(key: str, records: list[Any], next_url: str | None, next_page: int | None = None, **extra: Any) -> dict:
    return {
        key: records,
        "per_page": 2000,
        "total_pages": 3,
        "total_entries": 6,
        "next_page": next_page,
        "previous_page": None,
        "page": extra.get("page"),
        "links": {
            "first": f"{BASE}/x?page=1",
            "next": next_url,
            "previous": None,
            "last": f"{BASE}/x?page=3",
        },
    }


def ok(body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(200, json=body, headers=headers)


def assert_no_secret(err: BaseException) -> None:
    """The token appears nowhere an error is displayed or chained."""
    texts = [str(err), repr(err), repr(err.args)]
    cause, context = err.__cause__, err.__context__
    texts += [str(cause), repr(cause), str(context), repr(context)]
    for text in texts:
        assert TOKEN not in text
        assert "TOPSECRET" not in text
        assert "Bearer" not in text
    restored = pickle.loads(pickle.dumps(err))
    assert type(restored) is type(err) and str(restored) == str(err)


@pytest.fixture(autouse=True)
def _fresh_registry():
    pacing.clear_pacers()
    yield
    pacing.clear_pacers()


# --------------------------------------------------------------------------- headers and params
def test_sends_the_four_headers_on_every_request():
    client, rec, _ = make(sequence(ok({"name": "Acme"}), ok({"id": 1})))
    client.get_json("company")
    client.get_json("/users/me")
    for req in rec.requests:
        assert req.headers["Authorization"] == f"Bearer {TOKEN}"
        assert req.headers["Harvest-Account-Id"] == ACCOUNT
        assert req.headers["User-Agent"] == DEFAULT_USER_AGENT
        assert req.headers["Accept"] == "application/json"
    assert [str(r.url) for r in rec.requests] == [f"{BASE}/company", f"{BASE}/users/me"]


def test_account_id_may_be_an_int():
    rec = Recorder(sequence(ok({})))
    HarvestClient(TOKEN, 42, transport=httpx.MockTransport(rec), sleep=lambda s: None).get_json("company")
    assert rec.requests[0].headers["Harvest-Account-Id"] == "42"


def test_first_page_has_per_page_2000_and_encoded_params():
    client, rec, _ = make(sequence(ok(page("time_entries", [], None))))
    params = {
        "updated_since": "2024-01-01T00:00:00Z",
        "is_running": False,
        "is_billed": True,
        "user_id": None,
    }
    assert list(client.iter_pages("time_entries", "time_entries", params)) == [[]]
    url = rec.requests[0].url
    assert url.path == "/v2/time_entries"
    assert url.params["per_page"] == "2000"
    assert url.params["updated_since"] == "2024-01-01T00:00:00Z"
    assert url.params["is_running"] == "false" and url.params["is_billed"] == "true"
    assert "user_id" not in url.params


# --------------------------------------------------------------------------- pagination
def test_follows_links_next_in_page_mode():
    n2, n3 = f"{BASE}/time_entries?page=2&per_page=2000&ref=next", f"{BASE}/time_entries?page=3&per_page=2000"
    client, rec, _ = make(
        sequence(
            ok(page("time_entries", [{"id": 1}], n2, next_page=2, page=1)),
            ok(page("time_entries", [{"id": 2}], n3, next_page=3, page=2)),
            ok(page("time_entries", [{"id": 3}], None, next_page=None, page=3)),
        )
    )
    pages = list(client.iter_pages("/time_entries", "time_entries", {"from": "2024-01-01"}))
    assert pages == [[{"id": 1}], [{"id": 2}], [{"id": 3}]]
    # links.next is followed verbatim: no params added, nothing dropped
    assert [str(r.url) for r in rec.requests[1:]] == [n2, n3]


def test_cursor_mode_keeps_going_when_next_page_is_null_on_the_middle_page():
    c2 = f"{BASE}/clients?cursor=eyJhZnRlciI6eyJpZCI6MzAwN319&per_page=2000&ref=next_cursor"
    c3 = f"{BASE}/clients?cursor=eyJhZnRlciI6eyJpZCI6MjB9fQ&per_page=2000&ref=next_cursor"
    client, rec, _ = make(
        sequence(
            ok(page("clients", [{"id": 3}], c2, next_page=2, page=1)),
            ok(page("clients", [{"id": 2}], c3, next_page=None, page=None)),  # middle page: nulls
            ok(page("clients", [{"id": 1}], None, next_page=None, page=3)),
        )
    )
    records = [r for p in client.iter_pages("clients", "clients") for r in p]
    assert [r["id"] for r in records] == [3, 2, 1]
    assert [str(r.url) for r in rec.requests[1:]] == [c2, c3]


def test_repeating_next_link_is_a_loop_error_not_a_hang():
    n2 = f"{BASE}/clients?cursor=abc&per_page=2000"

    def handler(request: httpx.Request) -> httpx.Response:
        return ok(page("clients", [{"id": 1}], n2))

    client, rec, _ = make(handler)
    with pytest.raises(HarvestResponseError, match="already visited") as info:
        list(client.iter_pages("clients", "clients"))
    assert len(rec.requests) == 2
    assert info.value.path == "/v2/clients"


def test_page_cap_stops_endless_distinct_links():
    counter = iter(range(1, 1000))

    def handler(request: httpx.Request) -> httpx.Response:
        return ok(page("clients", [], f"{BASE}/clients?cursor=c{next(counter)}"))

    client, rec, _ = make(handler, max_pages=5)
    with pytest.raises(HarvestResponseError, match="more than 5 pages"):
        list(client.iter_pages("clients", "clients"))
    assert len(rec.requests) == 5


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example.com/v2/clients?page=2", "http://api.harvestapp.com/v2/clients?page=2"],
)
def test_next_link_to_another_origin_is_refused(next_url: str):
    client, rec, _ = make(sequence(ok(page("clients", [{"id": 1}], next_url))))
    with pytest.raises(HarvestResponseError, match="another host") as info:
        list(client.iter_pages("clients", "clients"))
    assert len(rec.requests) == 1  # the token never went to the foreign URL
    assert_no_secret(info.value)


def test_missing_records_key_names_path_and_key():
    client, _, _ = make(sequence(ok(page("users", [], None))))
    with pytest.raises(HarvestResponseError) as info:
        list(client.iter_pages("clients", "clients"))
    assert "'clients'" in str(info.value) and "/v2/clients" in str(info.value)


def test_records_not_a_list_and_missing_links_are_envelope_errors():
    client, _, _ = make(sequence(ok({"clients": {"id": 1}, "links": {"next": None}})))
    with pytest.raises(HarvestResponseError, match="not a list"):
        list(client.iter_pages("clients", "clients"))
    client, _, _ = make(sequence(ok({"clients": []})))
    with pytest.raises(HarvestResponseError, match="links"):
        list(client.iter_pages("clients", "clients"))


def test_abandoned_generator_sends_no_more_requests():
    n2 = f"{BASE}/clients?cursor=x"
    client, rec, _ = make(sequence(ok(page("clients", [{"id": 1}], n2)), ok(page("clients", [], None))))
    gen = client.iter_pages("clients", "clients")
    assert next(gen) == [{"id": 1}]
    gen.close()
    assert len(rec.requests) == 1


# --------------------------------------------------------------------------- iter_decoded: the caller's decoder
@dataclass
class Decoded:
    envelope: dict[str, Any]
    body: bytes
    path: str
    thread: int


def decoder(*failures: Exception) -> tuple[Callable[[bytes, str], Decoded], list[int]]:
    """A decode function raising the given errors on its first calls, then decoding; and its call log."""
    pending = list(failures)
    calls: list[int] = []

    def decode(raw: bytes, path: str) -> Decoded:
        calls.append(threading.get_ident())
        if pending:
            raise pending.pop(0)
        data = json.loads(raw)
        return Decoded({"links": data["links"]}, raw, path, threading.get_ident())

    return decode, calls


def test_iter_decoded_yields_what_decode_returns_and_pages_by_its_envelope():
    n2 = f"{BASE}/time_entries?cursor=b"
    client, rec, _ = make(
        sequence(ok(page("time_entries", [{"id": 1}], n2)), ok(page("time_entries", [{"id": 2}], None)))
    )
    decode, calls = decoder()
    pages = list(client.iter_decoded("time_entries", decode, {"is_running": False}))
    assert [json.loads(p.body)["time_entries"] for p in pages] == [[{"id": 1}], [{"id": 2}]]
    assert [p.path for p in pages] == ["/v2/time_entries"] * 2
    assert rec.requests[0].url.params["per_page"] == "2000" and rec.requests[0].url.params["is_running"] == "false"
    assert str(rec.requests[1].url) == n2
    assert all(p.thread == threading.get_ident() for p in pages)  # decoded in the thread that asked


def test_iter_decoded_retries_a_body_its_decoder_finds_unreadable():
    bodies = [ok(page("clients", [{"id": 1}], None)) for _ in range(3)]
    client, rec, ft = make(sequence(*bodies))
    decode, calls = decoder(UnreadableBody("truncated arrow body"), UnreadableBody("truncated arrow body"))
    pages = list(client.iter_decoded("clients", decode))
    assert len(pages) == 1 and len(rec.requests) == 3 and len(calls) == 3
    assert client.stats.retries == 2 and client.stats.by_status == {200: 3} and len(ft.sleeps) == 2


def test_iter_decoded_unreadable_every_time_ends_as_the_not_valid_json_error():
    client, rec, _ = make(lambda r: ok(page("clients", [], None)), max_attempts=3)
    decode, _ = decoder(*(UnreadableBody("truncated arrow body") for _ in range(5)))
    with pytest.raises(HarvestResponseError) as info:
        list(client.iter_decoded("clients", decode))
    assert len(rec.requests) == 3 and info.value.status == 200
    assert "the body was not valid JSON in 3 attempts (last: truncated arrow body)" in str(info.value)


@pytest.mark.parametrize(
    "error", [HarvestResponseError("GET /v2/clients: no 'clients' list", status=200, path="/v2/clients"),
              KeyError("clients"), ValueError("not an unreadable body")],
)
def test_iter_decoded_other_decode_errors_propagate_without_a_retry(error: Exception):
    client, rec, _ = make(lambda r: ok(page("clients", [], None)))
    decode, calls = decoder(error)
    with pytest.raises(type(error)) as info:
        list(client.iter_decoded("clients", decode))
    assert info.value is error
    assert len(rec.requests) == 1 and len(calls) == 1 and client.stats.retries == 0


def test_iter_decoded_never_decodes_errors_or_non_json_bodies():
    decode, calls = decoder()
    client, rec, _ = make(sequence(httpx.Response(503, json={"error": "busy"}),
                                   httpx.Response(200, html="<html>login</html>")))
    with pytest.raises(HarvestResponseError, match="expected JSON"):
        list(client.iter_decoded("clients", decode))
    assert len(rec.requests) == 2 and calls == []


# --------------------------------------------------------------------------- typed errors
@pytest.mark.parametrize(
    ("status", "body", "ctype", "cls", "words"),
    [
        (
            401,
            {"error": "invalid_token", "error_description": "The access token provided is expired"},
            "application/json",
            HarvestAuthError,
            ["401", "SOURCES__HARVEST__ACCESS_TOKEN", "SOURCES__HARVEST__ACCOUNT_ID", "expired"],
        ),
        (
            403,
            {"message": "Not authorized!"},
            "application/json",
            HarvestPermissionError,
            ["403", "Not authorized!"],
        ),
        (
            404,
            {"status": 404, "error": "Not Found"},
            "application/json",
            HarvestNotFoundError,
            ["account id"],
        ),
        (
            404,
            "<html><body>The page you were looking for doesn't exist</body></html>",
            "text/html",
            HarvestNotFoundError,
            ["404", "base URL"],
        ),
        (
            422,
            {"message": "per_page must be less than or equal to 2000"},
            "application/json",
            HarvestRequestError,
            ["422", "per_page must be less"],
        ),
        (
            400,
            {"message": "Invalid timeframe: must not exceed 1 year"},
            "application/json",
            HarvestRequestError,
            ["400", "Invalid timeframe"],
        ),
    ],
)
def test_client_errors_are_typed_immediate_and_secret_free(status, body, ctype, cls, words):
    content = json.dumps(body).encode() if isinstance(body, dict) else body.encode()
    client, rec, ft = make(lambda r: httpx.Response(status, content=content, headers={"content-type": ctype}))
    with pytest.raises(cls) as info:
        list(client.iter_pages("clients", "clients"))
    err = info.value
    assert isinstance(err, HarvestError)
    assert err.status == status and err.path == "/v2/clients" and err.hint
    for word in words:
        assert word in str(err)
    assert len(rec.requests) == 1 and ft.sleeps == []  # not retried
    assert_no_secret(err)


def test_server_text_echoing_the_token_is_redacted():
    body = {"message": f"token {TOKEN} is not valid here"}
    client, _, _ = make(lambda r: httpx.Response(422, json=body))
    with pytest.raises(HarvestRequestError) as info:
        client.get_json("company")
    assert "***" in str(info.value)
    assert_no_secret(info.value)


def test_404_on_single_object_says_record_may_not_exist():
    client, _, _ = make(lambda r: httpx.Response(404, json={"status": 404, "error": "Not Found"}))
    with pytest.raises(HarvestNotFoundError, match="may not exist"):
        client.get_json("users/1")


def test_redirect_is_not_followed():
    client, rec, _ = make(lambda r: httpx.Response(301, headers={"location": "https://elsewhere.example/v2/x"}))
    with pytest.raises(HarvestResponseError, match="elsewhere.example"):
        client.get_json("company")
    assert len(rec.requests) == 1


def test_html_200_is_a_response_error_not_parsed():
    client, _, _ = make(lambda r: httpx.Response(200, html="<html>login</html>"))
    with pytest.raises(HarvestResponseError, match="expected JSON"):
        client.get_json("company")


@pytest.mark.parametrize(
    ("token", "account", "setting"),
    [
        ("", ACCOUNT, "ACCESS_TOKEN"),
        ("   ", ACCOUNT, "ACCESS_TOKEN"),
        ("bad token with spaces TOPSECRET", ACCOUNT, "ACCESS_TOKEN"),
        (TOKEN, "acme", "ACCOUNT_ID"),
        (TOKEN, "", "ACCOUNT_ID"),
    ],
)
def test_config_is_validated_before_any_request(token, account, setting):
    with pytest.raises(HarvestConfigError) as info:
        HarvestClient(token, account, transport=httpx.MockTransport(lambda r: ok({})))
    assert isinstance(info.value, ValueError)
    assert setting in str(info.value)
    assert "TOPSECRET" not in str(info.value) and "TOPSECRET" not in repr(info.value)


def test_bad_base_url_is_a_config_error():
    with pytest.raises(HarvestConfigError, match="base_url"):
        HarvestClient(TOKEN, ACCOUNT, "ftp://api.harvestapp.com/v2")


def test_client_repr_hides_token():
    client, _, _ = make(lambda r: ok({}))
    assert TOKEN not in repr(client) and "TOPSECRET" not in repr(client)


# --------------------------------------------------------------------------- retries
def test_429_with_retry_after_pauses_exactly_that_long():
    client, rec, ft = make(sequence(httpx.Response(429, headers={"Retry-After": "7"}), ok({"name": "Acme"})))
    assert client.get_json("company") == {"name": "Acme"}
    assert ft.sleeps == [7.0]
    assert len(rec.requests) == 2


def test_429_retry_after_as_http_date_is_accepted():
    client, _, ft = make(
        sequence(httpx.Response(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), ok({}))
    )
    client.get_json("company")  # a date in the past means "now": no pause, just one retry
    assert ft.sleeps == []
    assert client.stats.retries == 1 and client.stats.throttled == 1


def test_429_without_retry_after_waits_one_window_of_the_bucket():
    client, _, ft = make(sequence(httpx.Response(429, html=""), ok({})))
    client.get_json("company")
    assert ft.sleeps == [15.0]


def test_429_backoff_scales_with_a_time_scaled_window():
    client, _, ft = make(sequence(httpx.Response(429), ok({})), rate_limit=(100, 0.15))
    client.get_json("company")
    assert ft.sleeps == [pytest.approx(0.15)]


def test_429_pauses_every_thread_sharing_the_pacer():
    client, _, ft = make(sequence(httpx.Response(429, headers={"Retry-After": "9"}), ok({}), ok({})))
    client.get_json("company")
    before = ft.now
    client.get_json("company")  # another caller after the pause: no extra wait
    assert ft.now == before
    assert ft.sleeps == [9.0]


def test_5xx_then_success_backs_off_with_full_jitter():
    client, rec, ft = make(
        sequence(
            httpx.Response(500, html="<html>oops</html>"),
            httpx.Response(503, text="unavailable"),
            ok({"name": "Acme"}),
        ),
        backoff_base_s=2.0,
    )
    assert client.get_json("company") == {"name": "Acme"}
    assert len(rec.requests) == 3
    assert len(ft.sleeps) == 2
    assert 0 <= ft.sleeps[0] <= 2.0 and 0 <= ft.sleeps[1] <= 4.0


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ConnectError("[Errno 111] Connection refused"),
    ],
)
def test_transport_error_then_success(exc: Exception):
    client, rec, ft = make(sequence(exc, ok({"clients": [{"id": 1}], "links": {"next": None}})))
    assert list(client.iter_pages("clients", "clients")) == [[{"id": 1}]]
    assert len(rec.requests) == 2 and len(ft.sleeps) == 1
    assert client.stats.transport_errors == 1 and client.stats.retries == 1


def test_truncated_json_on_200_is_retried_then_succeeds():
    client, _, ft = make(
        sequence(
            httpx.Response(200, content=b'{"clients": [{"id": 1}', headers={"content-type": "application/json"}),
            ok({"clients": [{"id": 1}], "links": {"next": None}}),
        )
    )
    assert list(client.iter_pages("clients", "clients")) == [[{"id": 1}]]
    assert client.stats.by_status == {200: 2} and client.stats.retries == 1


def test_truncated_json_every_time_ends_as_response_error():
    bad = httpx.Response(200, content=b'{"a": ', headers={"content-type": "application/json"})
    client, rec, ft = make(lambda r: bad, max_attempts=3)
    with pytest.raises(HarvestResponseError) as info:
        client.get_json("company")
    assert info.value.status == 200 and len(rec.requests) == 3 and len(ft.sleeps) == 2
    assert "3 attempts" in str(info.value) and "truncated" in str(info.value)
    assert_no_secret(info.value)


def test_exhausted_5xx_names_path_status_attempts():
    client, rec, ft = make(lambda r: httpx.Response(502, text="bad gateway"), max_attempts=4)
    with pytest.raises(HarvestRetriesExhausted) as info:
        client.get_json("company")
    err = info.value
    assert err.last_status == 502 and err.status == 502 and err.attempts == 4
    assert err.path == "/v2/company" and "4 attempts" in str(err) and "502" in str(err)
    assert len(rec.requests) == 4 and len(ft.sleeps) == 3
    assert_no_secret(err)


def test_exhausted_transport_errors_name_the_host():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    client, rec, _ = make(handler, max_attempts=3)
    with pytest.raises(HarvestRetriesExhausted) as info:
        client.get_json("company")
    err = info.value
    assert err.last_status is None and err.attempts == 3 and len(rec.requests) == 3
    assert "api.harvestapp.com" in str(err) and "base_url" in str(err)
    assert err.__cause__ is None and err.__context__ is None
    assert_no_secret(err)


def test_total_retry_wait_is_bounded():
    client, rec, ft = make(
        lambda r: httpx.Response(429, headers={"Retry-After": "10"}), max_attempts=100, max_retry_wait_s=35.0
    )
    with pytest.raises(HarvestRetriesExhausted) as info:
        client.get_json("company")
    assert sum(ft.sleeps) <= 35.0
    assert info.value.last_status == 429 and info.value.attempts == len(rec.requests) == 4


def test_retry_after_longer_than_budget_fails_fast():
    client, rec, ft = make(lambda r: httpx.Response(429, headers={"Retry-After": "3600"}))
    with pytest.raises(HarvestRetriesExhausted, match="throttl"):
        client.get_json("company")
    assert len(rec.requests) == 1 and ft.sleeps == []


# --------------------------------------------------------------------------- pacing, stats, logging, threads
def test_reports_use_their_own_bucket():
    def handler(request: httpx.Request) -> httpx.Response:
        return ok({"results": [], "links": {"next": None}})

    client, _, ft = make(handler, reports_rate_limit=(1, 900.0))
    list(client.iter_pages("reports/time/clients", "results", {"from": "20240101", "to": "20241231"}))
    for _ in range(5):
        client.get_json("company")  # general bucket is unaffected
    assert ft.sleeps == []
    list(client.iter_pages("/reports/time/projects", "results", {"from": "20240101", "to": "20241231"}))
    assert ft.sleeps == [pytest.approx(900 + 0.002)]


def test_slot_is_restamped_when_response_headers_arrive():
    ft = FakeTime(5000.0)

    def handler(request: httpx.Request) -> httpx.Response:
        trace = request.extensions["trace"]
        trace("http11.send_request_headers.started", {"request": request})
        ft.sleep(3.0)  # server takes 3 s before its headers come back
        trace("http11.receive_response_headers.complete", {})
        return ok({})

    client = HarvestClient(
        TOKEN,
        ACCOUNT,
        transport=httpx.MockTransport(handler),
        sleep=ft.sleep,
        clock=ft.clock,
        rate_limit=(1, 10.0),
    )
    client.get_json("company")
    ft.sleeps.clear()
    client.get_json("company")
    # counted from the response headers (t0 + 3), not from the acquisition (t0)
    assert ft.sleeps[0] == pytest.approx(10.0 + 0.002)


def test_clients_on_the_same_credentials_share_pacers():
    a = HarvestClient(TOKEN, ACCOUNT, BASE, transport=httpx.MockTransport(lambda r: ok({})))
    b = HarvestClient(TOKEN, ACCOUNT, BASE, transport=httpx.MockTransport(lambda r: ok({})))
    c = HarvestClient("another-token", ACCOUNT, BASE, transport=httpx.MockTransport(lambda r: ok({})))
    assert a._transport.pacers["general"] is b._transport.pacers["general"]
    assert a._transport.pacers["reports"] is b._transport.pacers["reports"]
    assert a._transport.pacers["general"] is not a._transport.pacers["reports"]
    assert c._transport.pacers["general"] is not a._transport.pacers["general"]
    assert all(TOKEN not in repr(k) and "TOPSECRET" not in repr(k) for k in pacing._REGISTRY)


def test_stats_count_requests_retries_throttles_and_waits():
    client, _, ft = make(
        sequence(
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(500),
            ok({"clients": [], "links": {"next": None}}),
        )
    )
    list(client.iter_pages("clients", "clients"))
    snap = client.stats.snapshot()
    assert snap["requests"] == 3 and snap["retries"] == 2 and snap["throttled"] == 1
    assert snap["by_status"] == {429: 1, 500: 1, 200: 1}
    assert snap["transport_errors"] == 0
    assert snap["waited_s"] == pytest.approx(sum(ft.sleeps))


def test_logs_never_contain_the_token(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    client, _, _ = make(sequence(httpx.Response(503), httpx.Response(401, json={"error": "invalid_token"})))
    with pytest.raises(HarvestAuthError):
        client.get_json("company")
    assert "GET /v2/company" in caplog.text and "503" in caplog.text
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    assert TOKEN not in caplog.text and "Bearer" not in caplog.text


def test_many_threads_share_one_client():
    def handler(request: httpx.Request) -> httpx.Response:
        return ok({"clients": [{"id": 1}], "links": {"next": None}})

    client, rec, _ = make(handler, rate_limit=(10, 15.0))
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            n = sum(len(p) for p in client.iter_pages("clients", "clients"))
            with lock:
                results.append(n)

    threads = run_in_threads(worker, 8, timeout_s=30)
    assert not any(t.is_alive() for t in threads)
    assert results == [1] * 40
    assert client.stats.requests == 40 == len(rec.requests)
    assert client.stats.by_status == {200: 40}
    client.close()


class _Longest(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return b  # the longest back-off full jitter can draw


def test_stop_ends_a_back_off_at_once_and_sends_nothing_more():
    """Another part of the run failed: a thread waiting out an hour's back-off gives up now."""
    sent = threading.Event()

    def unavailable(request: httpx.Request) -> httpx.Response:
        sent.set()
        return httpx.Response(503)

    rec = Recorder(unavailable)
    stop = threading.Event()
    client = HarvestClient(TOKEN, ACCOUNT, BASE, transport=httpx.MockTransport(rec), rng=_Longest(),
                           backoff_base_s=3600, backoff_cap_s=3600, max_retry_wait_s=10**6, stop=stop)
    raised: list[BaseException] = []

    def call() -> None:
        try:
            client.get_json("company")
        except HarvestError as error:
            raised.append(error)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    assert sent.wait(30)
    client.stop()
    worker.join(30)
    assert not worker.is_alive()  # without the stop it sleeps for an hour
    assert stop.is_set() and len(rec.requests) == 1
    assert isinstance(raised[0], HarvestRunStopped) and "GET /v2/company" in str(raised[0])
    with pytest.raises(HarvestRunStopped):  # and nothing is sent any more
        client.get_json("clients")
    assert len(rec.requests) == 1


def test_context_manager_closes():
    with HarvestClient(TOKEN, ACCOUNT, transport=httpx.MockTransport(lambda r: ok({}))) as client:
        client.get_json("company")
    assert client._http.is_closed
