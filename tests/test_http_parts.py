"""The HTTP parts one by one, each on httpx.MockTransport: the auth, the pacing-and-retry transport under
a plain ``httpx.Client``, and what the client adds on top (one log line per request, the /v2 hint on a
404, the listings in its stats). No network, no real sleeping, no timed assertions."""

from __future__ import annotations

import logging
import random
import threading

import httpx
import pytest
from fakes import FakeTime
from test_client import ACCOUNT, BASE, TOKEN, Recorder, make, ok, page, sequence

from harvest_source.client import HarvestClient
from harvest_source.errors import (
    HarvestNotFoundError,
    HarvestResponseError,
    HarvestRetriesExhausted,
    HarvestRunStopped,
)
from harvest_source.http import pacing
from harvest_source.http.auth import TokenAuth
from harvest_source.http.decoding import JsonPage, json_page
from harvest_source.http.pacing import Pacer
from harvest_source.http.retry import RetryBudget, RetryPolicy
from harvest_source.http.stats import ClientStats
from harvest_source.http.transport import BUCKET, BUDGET, PacedRetryTransport


@pytest.fixture(autouse=True)
def _fresh_registry():
    pacing.clear_pacers()
    yield
    pacing.clear_pacers()


def stack(handler, *, stop: threading.Event | None = None, max_attempts: int = 8, **policy: float):
    """A plain httpx.Client on the transport, the transport on a MockTransport; fake time."""
    ft = FakeTime(5000.0)
    rec = Recorder(handler)
    stats = ClientStats()
    transport = PacedRetryTransport(
        httpx.MockTransport(rec),
        pacers={"general": Pacer(100, 15.0, clock=ft.clock, sleep=ft.sleep),
                "reports": Pacer(1, 900.0, clock=ft.clock, sleep=ft.sleep)},
        policy=RetryPolicy(max_attempts=max_attempts, **policy),
        stats=stats,
        stop=stop or threading.Event(),
        base_url=BASE,
        redact=TokenAuth(TOKEN, ACCOUNT).redact,
        sleep=ft.sleep,
        rng=random.Random(7),
    )
    return httpx.Client(transport=transport, auth=TokenAuth(TOKEN, ACCOUNT)), transport, rec, stats, ft


# --------------------------------------------------------------------------- auth
def test_token_auth_sets_both_headers_and_never_shows_the_token():
    client, _, rec, _, _ = stack(lambda r: ok({}))
    client.get(f"{BASE}/company")
    headers = rec.requests[0].headers
    assert headers["authorization"] == f"Bearer {TOKEN}" and headers["harvest-account-id"] == ACCOUNT
    auth = TokenAuth(TOKEN, ACCOUNT)
    assert TOKEN not in repr(auth) and "TOPSECRET" not in repr(auth)
    assert auth.redact(f"echo {TOKEN} back") == "echo *** back"


# --------------------------------------------------------------------------- transport
def test_transport_retries_a_5xx_and_hands_back_the_2xx_with_its_body_read():
    client, _, rec, stats, ft = stack(sequence(httpx.Response(503), ok({"name": "Acme"})))
    response = client.get(f"{BASE}/company")
    assert response.status_code == 200 and response.json() == {"name": "Acme"}
    assert len(rec.requests) == 2 and len(ft.sleeps) == 1 and 0 <= ft.sleeps[0] <= 1.0  # full jitter, attempt 1
    assert stats.snapshot()["requests"] == 2 and stats.retries == 1 and stats.by_status == {503: 1, 200: 1}


def test_transport_hands_back_final_4xx_untouched_for_the_caller_to_map():
    client, _, rec, stats, _ = stack(lambda r: httpx.Response(404, json={"error": "Not Found"}))
    assert client.get(f"{BASE}/company").status_code == 404
    assert len(rec.requests) == 1 and stats.retries == 0


def test_transport_429_pauses_the_bucket_pacer_for_retry_after():
    client, transport, _, stats, ft = stack(sequence(httpx.Response(429, headers={"Retry-After": "7"}), ok({})))
    client.get(f"{BASE}/company", extensions={BUCKET: "general"})
    assert ft.sleeps == [pytest.approx(7.0)] and stats.throttled == 1
    assert stats.waited_s == pytest.approx(7.0)


def test_transport_transport_errors_are_retried_then_exhausted_naming_the_host():
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused, token {TOKEN}", request=request)

    client, _, rec, stats, _ = stack(refused, max_attempts=3)
    with pytest.raises(HarvestRetriesExhausted) as info:
        client.get(f"{BASE}/company")
    assert len(rec.requests) == 3 and stats.transport_errors == 3 and stats.retries == 2
    assert "api.harvestapp.com" in str(info.value) and TOKEN not in str(info.value)


def test_transport_reports_bucket_uses_its_own_pacer():
    client, _, _, _, ft = stack(lambda r: ok({}))
    client.get(f"{BASE}/reports/time/clients", extensions={BUCKET: "reports"})
    client.get(f"{BASE}/company")
    assert ft.sleeps == []
    client.get(f"{BASE}/reports/time/projects", extensions={BUCKET: "reports"})
    assert ft.sleeps == [pytest.approx(900 + 0.002)]


def test_transport_stop_sends_nothing():
    stop = threading.Event()
    stop.set()
    client, _, rec, _, _ = stack(lambda r: ok({}), stop=stop)
    with pytest.raises(HarvestRunStopped):
        client.get(f"{BASE}/company")
    assert rec.requests == []


def test_a_caller_resend_continues_the_same_budget():
    """An unreadable 2xx body is sent again by the caller; its attempts count with the transport's own."""
    client, transport, rec, stats, _ = stack(sequence(httpx.Response(502), ok({}), ok({})), max_attempts=3)
    budget = RetryBudget()
    request = client.build_request("GET", f"{BASE}/company", extensions={BUDGET: budget})
    client.send(request)
    assert budget.attempts == 2
    transport.retry(request, 200, "truncated body")  # attempt 2 of 3: backs off
    client.send(request)
    with pytest.raises(HarvestResponseError, match="not valid JSON in 3 attempts"):
        transport.retry(request, 200, "truncated body")
    assert len(rec.requests) == 3 and stats.retries == 2


def test_the_trace_callback_never_looks_at_what_it_is_given():
    """The trace event's ``info`` holds the request with its Authorization header: never read."""

    class Untouchable:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"trace info read: {name}")

        def __getitem__(self, key: object) -> object:
            raise AssertionError(f"trace info read: {key}")

    def handler(request: httpx.Request) -> httpx.Response:
        trace = request.extensions["trace"]
        trace("http11.send_request_headers.started", Untouchable())
        trace("http11.receive_response_headers.complete", Untouchable())
        return ok({})

    client, _, rec, _, _ = stack(handler)
    assert client.get(f"{BASE}/company").status_code == 200


# --------------------------------------------------------------------------- client on top
def test_one_debug_line_per_request_with_method_path_status_ms_and_records(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG, logger="harvest_source")
    n2 = f"{BASE}/clients?page=2"
    client, _, _ = make(sequence(
        httpx.Response(503), ok(page("clients", [{"id": 1}, {"id": 2}], n2)), ok(page("clients", [{"id": 3}], None)),
        ok({"name": "Acme"}),
    ))
    assert sum(len(p) for p in client.iter_pages("clients", "clients")) == 3
    client.get_json("company")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(lines) == 4, lines
    assert lines[0].startswith("GET /v2/clients -> 503 in ") and lines[0].endswith(" ms")
    assert lines[1].startswith("GET /v2/clients -> 200 in ") and lines[1].endswith(" ms, 2 records")
    assert lines[2].endswith(" ms, 1 records")
    assert lines[3].startswith("GET /v2/company -> 200 in ") and lines[3].endswith(" ms")
    assert all(TOKEN not in line for line in lines)


def test_read_ahead_pages_log_their_records_too(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG, logger="harvest_source")
    first, n2 = f"{BASE}/clients?per_page=2000", f"{BASE}/clients?cursor=2"
    bodies = {first: page("clients", [{"id": 1}], n2), n2: page("clients", [{"id": 2}, {"id": 3}], None)}
    client, _, _ = make(lambda r: ok(bodies[str(r.url)]))
    pages = list(client.iter_decoded("clients", lambda raw, path: _json(raw), ahead=3))
    assert len(pages) == 2
    lines = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert len(lines) == 2 and lines[0].endswith("1 records") and lines[1].endswith("2 records"), lines


def _json(raw: bytes) -> JsonPage:
    return json_page(raw, "clients", "/v2/clients")


@pytest.mark.parametrize("listing", [True, False])
def test_a_404_under_a_base_url_without_v2_names_the_base_url(listing: bool):
    ft = FakeTime()
    client = HarvestClient(
        TOKEN, ACCOUNT, "http://127.0.0.1:9", transport=httpx.MockTransport(lambda r: httpx.Response(404)),
        sleep=ft.sleep, clock=ft.clock,
    )
    with pytest.raises(HarvestNotFoundError) as info:
        list(client.iter_pages("clients", "clients")) if listing else client.get_json("company")
    assert "base_url http://127.0.0.1:9 has no /v2: set it to https://api.harvestapp.com/v2" in str(info.value)
    assert "may not exist" not in str(info.value)


def test_stats_listings_count_pages_and_total_pages_per_list():
    n2 = f"{BASE}/clients?page=2"
    client, _, _ = make(sequence(
        ok(page("clients", [{"id": 1}], n2)), ok(page("clients", [], None)),
        ok({"roles": [], "links": {"next": None}}),
    ))
    list(client.iter_pages("clients", "clients"))
    list(client.iter_pages("/roles", "roles"))
    listings = client.stats.snapshot()["listings"]
    assert listings == {"clients": {"pages": 2, "total_pages": 3}, "roles": {"pages": 1, "total_pages": None}}
