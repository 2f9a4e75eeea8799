"""Read-ahead paging (``HarvestClient.iter_decoded(..., ahead=N)``) on httpx.MockTransport.

Whatever runs ahead, the caller must see what a plain page-by-page loop gives: the same pages in the
same order, the same errors after the same pages, the same retries, and no page requested on a hint
that the decoded page contradicts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import httpx
import orjson
import pytest
from test_client import BASE, Decoded, decoder, make, ok, page

from harvest_source.client import UnreadableBody
from harvest_source.errors import HarvestNotFoundError, HarvestResponseError
from harvest_source.http import read_ahead
from harvest_source.http.read_ahead import ExitGate, tail_next


def chain(n: int, key: str = "time_entries") -> dict[str, httpx.Response]:
    """``n`` cursor pages of one record each, keyed by the URL that asks for them."""
    urls = [f"{BASE}/{key}?per_page=2000"] + [f"{BASE}/{key}?cursor=c{i}" for i in range(2, n + 1)]
    return {url: page(key, [{"id": i + 1}], urls[i + 1] if i + 1 < n else None) for i, url in enumerate(urls)}


def serve(bodies: dict[str, dict], **overrides: httpx.Response):
    def handler(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        return overrides[url] if url in overrides else ok(bodies[url])

    return handler


def ids(pages: list[Decoded]) -> list[int]:
    return [json.loads(p.body)["time_entries"][0]["id"] for p in pages]


@pytest.mark.parametrize("ahead", [2, 3, 5])
def test_same_pages_and_requests_as_page_by_page(ahead: int):
    bodies = chain(7)
    plain, plain_rec, _ = make(serve(bodies))
    fast, fast_rec, _ = make(serve(bodies))
    decode, _ = decoder()
    expected = list(plain.iter_decoded("time_entries", decode))
    pages = list(fast.iter_decoded("time_entries", decoder()[0], ahead=ahead))
    assert ids(pages) == ids(expected) == [1, 2, 3, 4, 5, 6, 7]
    assert sorted(str(r.url) for r in fast_rec.requests) == sorted(str(r.url) for r in plain_rec.requests)
    assert len(fast_rec.requests) == 7 and fast.stats.requests == 7 and fast.stats.retries == 0
    assert all(p.thread != threading.get_ident() for p in pages)  # decoded in the page threads


def test_a_hint_the_decoded_page_contradicts_is_dropped():
    """The body's tail says page 2 is ``wrong``; the decoded envelope says ``right``: only ``right`` is yielded."""
    first, wrong, right = f"{BASE}/time_entries?per_page=2000", f"{BASE}/time_entries?cursor=wrong", \
        f"{BASE}/time_entries?cursor=right"
    bodies = {first: page("time_entries", [{"id": 1}], wrong), wrong: page("time_entries", [{"id": 66}], None),
              right: page("time_entries", [{"id": 2}], None)}
    client, rec, _ = make(serve(bodies))
    plain_decode, _ = decoder()

    def decode(raw: bytes, path: str) -> Decoded:
        decoded = plain_decode(raw, path)
        if decoded.envelope["links"]["next"] == wrong:
            decoded.envelope = {"links": {**decoded.envelope["links"], "next": right}}
        return decoded

    pages = list(client.iter_decoded("time_entries", decode, ahead=3))
    assert ids(pages) == [1, 2]
    assert str(rec.requests[-1].url) == right


def test_an_unreadable_body_is_requested_again_in_order():
    bodies = chain(4)
    client, rec, _ = make(serve(bodies))
    plain_decode, _ = decoder()
    failed: list[str] = []

    def decode(raw: bytes, path: str) -> Decoded:
        if b'"id":3' in raw and not failed:
            failed.append(path)
            raise UnreadableBody("truncated arrow body")
        return plain_decode(raw, path)

    pages = list(client.iter_decoded("time_entries", decode, ahead=3))
    assert ids(pages) == [1, 2, 3, 4] and failed
    assert len(rec.requests) == 5 and client.stats.retries == 1
    assert [str(r.url) for r in rec.requests].count(f"{BASE}/time_entries?cursor=c3") == 2


def test_an_error_comes_after_the_pages_before_it():
    bodies = chain(5)
    gone = httpx.Response(404, json={"error": "not_found"})
    client, _, _ = make(serve(bodies, **{f"{BASE}/time_entries?cursor=c3": gone}))
    seen: list[int] = []
    with pytest.raises(HarvestNotFoundError):
        for decoded in client.iter_decoded("time_entries", decoder()[0], ahead=3):
            seen.append(ids([decoded])[0])
    assert seen == [1, 2]


def test_paging_guards_still_apply_after_the_page_that_breaks_them():
    loop = f"{BASE}/time_entries?cursor=loop"
    bodies = {f"{BASE}/time_entries?per_page=2000": page("time_entries", [{"id": 1}], loop),
              loop: page("time_entries", [{"id": 2}], loop)}
    client, rec, _ = make(serve(bodies))
    seen: list[int] = []
    with pytest.raises(HarvestResponseError, match="already visited"):
        for decoded in client.iter_decoded("time_entries", decoder()[0], ahead=3):
            seen.append(ids([decoded])[0])
    assert seen == [1, 2] and len(rec.requests) == 2


def test_a_body_without_a_readable_tail_pages_by_its_envelope():
    """``links`` first and the records last: no hint, so each next page waits for the decoded one."""
    bodies = chain(3)

    def reordered(body: dict) -> httpx.Response:
        return httpx.Response(200, content=orjson.dumps({"links": body["links"], **body}),
                              headers={"content-type": "application/json"})

    client, rec, _ = make(lambda r: reordered(bodies[str(r.url)]))
    pages = list(client.iter_decoded("time_entries", decoder()[0], ahead=3))
    assert ids(pages) == [1, 2, 3] and len(rec.requests) == 3


def test_a_ready_page_is_not_held_back_while_the_next_one_waits():
    """Page 2's response is held (a pacer wait, a slow server): page 1 must come out meanwhile."""
    bodies = chain(3)
    release, held = threading.Event(), {"timed_out": False}

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url).endswith("cursor=c2"):
            held["timed_out"] = not release.wait(timeout=30)
        return ok(bodies[str(request.url)])

    client, _, _ = make(handler)
    pages = client.iter_decoded("time_entries", decoder()[0], ahead=3)
    assert ids([next(pages)]) == [1]  # while page 2 is still held
    release.set()
    assert ids(list(pages)) == [2, 3] and not held["timed_out"]


def test_abandoned_read_ahead_starts_no_new_requests():
    bodies = chain(20)
    client, rec, _ = make(serve(bodies))
    pages = client.iter_decoded("time_entries", decoder()[0], ahead=3)
    assert ids([next(pages)]) == [1]
    pages.close()
    for thread in threading.enumerate():  # let the pages in flight finish (or see they were cancelled)
        if thread.name.startswith("harvest-page-"):
            thread.join(timeout=30)
    assert len(rec.requests) <= 3  # page 1 and at most the two read ahead of it, never page 4


def test_every_decode_in_a_page_thread_holds_the_exit_gate(monkeypatch):
    gate = ExitGate()
    monkeypatch.setattr(read_ahead, "DECODING", gate)
    decode, calls = decoder(UnreadableBody("truncated arrow body"))  # page 1 is decoded again after a refetch
    held: list[int] = []

    def watched(raw: bytes, path: str) -> Decoded:
        held.append(gate.inside)
        return decode(raw, path)

    client, _, _ = make(serve(chain(5)))
    assert ids(list(client.iter_decoded("time_entries", watched, ahead=3))) == [1, 2, 3, 4, 5]
    assert len(held) == len(calls) == 6 and min(held) >= 1 and gate.inside == 0


def test_a_closed_exit_gate_lets_no_page_thread_decode(monkeypatch):
    gate = ExitGate()
    monkeypatch.setattr(read_ahead, "DECODING", gate)
    assert gate.close(timeout_s=0)
    decode, calls = decoder()
    client, _, _ = make(serve(chain(3)))
    with pytest.raises(Exception, match="interpreter is exiting"):
        list(client.iter_decoded("time_entries", decode, ahead=3))
    assert calls == []


def test_exit_gate_close_waits_for_the_decode_under_way():
    gate, entered, release = ExitGate(), threading.Event(), threading.Event()

    def decoding() -> None:
        with gate.passage():
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=decoding)
    thread.start()
    assert entered.wait(30)
    assert gate.close(timeout_s=0.01) is False  # still inside: exit would go on waiting
    release.set()
    assert gate.close(timeout_s=30) is True
    thread.join()
    with pytest.raises(Exception, match="interpreter is exiting"), gate.passage():
        pass


EXITS_WHILE_DECODING = """
import io, sys, threading
import pyarrow as pa, pyarrow.json as pa_json
from harvest_source.http.read_ahead import DECODING
record = pa.struct([("a", pa.int64()), ("b", pa.string()), ("c", pa.float64())])
schema = pa.schema([pa.field("rows", pa.list_(record))])
body = b'{"rows": [' + b",\\n".join(b'{"a": %d, "b": "%s", "c": 1.5}' % (i, b"x" * 40) for i in range(5000)) + b']}'
options = dict(read_options=pa_json.ReadOptions(use_threads=False, block_size=len(body) + 1),
               parse_options=pa_json.ParseOptions(explicit_schema=schema, newlines_in_values=True))
parsed = threading.Semaphore(0)
def decode_forever():
    while True:
        with DECODING.passage():
            pa_json.read_json(io.BytesIO(body), **options)
        parsed.release()
for _ in range(8):
    threading.Thread(target=decode_forever, daemon=True).start()
for _ in range(int(sys.argv[1])):  # exit while the threads are parsing, at a different point each time
    parsed.acquire()
sys.exit(3)
"""


def test_the_process_exits_with_its_code_while_page_threads_decode():
    """Daemon threads inside pyarrow while the interpreter tears down made the process abort (SIGABRT,
    'terminate called without an active exception') or segfault; the exit gate makes it wait for them."""
    codes = [subprocess.run([sys.executable, "-c", EXITS_WHILE_DECODING, str(parses)], capture_output=True,
                            timeout=120).returncode for parses in range(1, 9)]
    assert codes == [3] * 8  # without the gate, about 2 runs in 3 ended in SIGABRT (-6) here


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"x":[{"links":"a"}],"links":{"first":"f","next":"https://h/v2/x?cursor=2","last":null}}',
         "https://h/v2/x?cursor=2"),
        (b'{"x":[],"links":{"next":null}}\n', None),
        (b'{"x":[],"links":{"next":"https://h/v2/x?cur', False),  # truncated
        (b'{"x":[{"note":"\\"links\\":{}"}],"page":1}', False),  # no links object of its own
        (b'{"x":[],"links":{"next":3}}', False),
    ],
)
def test_tail_next(body: bytes, expected: object):
    assert tail_next(body) == expected
