"""Fault injection (issue point 7): every kind, by count and by seeded probability, path-scoped."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sim_helpers import client_for

from harvest_source.simulator import Simulator, run_simulator


@pytest.fixture()
def fsim() -> Iterator[tuple[Simulator, httpx.Client]]:
    with run_simulator("tiny", seed=1) as s, client_for(s) as c:
        yield s, c


@pytest.mark.parametrize("kind", ["500", "502", "503"])
def test_server_errors_for_the_next_n(fsim, kind):
    sim, c = fsim
    sim.set_faults([{"kind": kind, "count": 2}])
    assert [c.get("/clients").status_code for _ in range(3)] == [int(kind), int(kind), 200]


def test_drop_closes_without_answer(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "drop", "count": 1}])
    with pytest.raises(httpx.RemoteProtocolError):
        c.get("/clients")
    assert c.get("/clients").status_code == 200
    assert sim.stats()["by_status"]["drop"] == 1


def test_slow_exceeds_client_timeout(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "slow", "count": 1, "seconds": 0.5}])
    with pytest.raises(httpx.ReadTimeout):
        c.get("/clients", timeout=0.1)
    assert c.get("/clients").status_code == 200


def test_truncated_body(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "truncated", "count": 1}])
    resp = c.get("/clients")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.text)
    full = c.get("/clients")
    assert len(resp.content) == len(full.content) // 2
    sim.set_faults([{"kind": "truncated", "count": 1, "declared": "full"}])  # Content-Length of the full body
    with pytest.raises(httpx.RemoteProtocolError):
        c.get("/clients")
    assert c.get("/clients").status_code == 200


def test_malformed_json(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "malformed", "count": 1}])
    resp = c.get("/users/me")
    assert resp.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.text)


@pytest.mark.parametrize("status", [None, 200, 502])
def test_html_error_page(fsim, status):
    sim, c = fsim
    rule = {"kind": "html", "count": 1} | ({"status": status} if status else {})
    sim.set_faults([rule])
    resp = c.get("/clients")
    assert resp.status_code == (status or 500)
    assert resp.headers["content-type"].startswith("text/html") and "<html>" in resp.text


def test_429_with_and_without_retry_after(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "429", "count": 1}, {"kind": "429", "count": 1, "retry_after": 7},
                    {"kind": "429_no_retry_after", "count": 1}])
    a, b, d = (c.get("/clients") for _ in range(3))
    assert (a.status_code, a.headers["retry-after"]) == (429, "1")
    assert (b.status_code, b.headers["retry-after"]) == (429, "7")
    assert d.status_code == 429 and "retry-after" not in d.headers
    assert c.get("/clients").status_code == 200
    assert sim.stats()["throttled"] == 3


def test_429_storm(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "429", "count": 25}])
    statuses = [c.get("/time_entries").status_code for _ in range(26)]
    assert statuses == [429] * 25 + [200]


def test_missing_key(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "missing_key", "count": 1}])
    doc = c.get("/clients").json()
    assert "clients" not in doc and doc["total_entries"] == sim.counts()["clients"]


def test_loop_next(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "loop_next", "probability": 1.0}])
    url = f"{sim.base_url}/users?per_page=2"
    doc = c.get(url).json()
    assert doc["links"]["next"] == url
    assert c.get(doc["links"]["next"]).json()["links"]["next"] == url


def test_lying_total_pages(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "lying_total_pages", "count": 1}])
    lie = c.get("/users", params={"per_page": 2}).json()
    truth = c.get("/users", params={"per_page": 2}).json()
    assert lie["total_pages"] != truth["total_pages"] and lie["total_entries"] != truth["total_entries"]
    assert lie["links"] == truth["links"] and lie["users"] == truth["users"]


def test_envelope_faults_skip_single_objects(fsim):
    sim, c = fsim
    sim.set_faults([{"kind": "missing_key", "count": 1}])
    assert "name" in c.get("/company").json()  # not a list: the rule is not consumed
    assert "clients" not in c.get("/clients").json()


def test_seeded_probability_is_reproducible(fsim):
    sim, c = fsim

    def run() -> list[int]:
        sim.set_faults([{"kind": "503", "probability": 0.3}], seed=11)
        return [c.get("/company").status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 0 < first.count(503) < 40


def test_path_filter_and_control_paths_unaffected(fsim):
    sim, c = fsim
    base = sim.base_url[: -len("/v2")]
    resp = httpx.post(f"{base}/__sim__/faults", json={"rules": [{"kind": "500", "probability": 1.0,
                                                                  "path": "^/v2/invoices"}], "seed": 3})
    assert resp.status_code == 200
    assert c.get("/invoices").status_code == 500
    assert c.get("/clients").status_code == 200
    assert httpx.get(f"{base}/__sim__/stats").status_code == 200
    assert httpx.delete(f"{base}/__sim__/faults").status_code == 200
    assert c.get("/invoices").status_code == 200


def test_bad_rules_rejected(fsim):
    sim, _ = fsim
    with pytest.raises(ValueError):
        sim.set_faults([{"kind": "gremlins", "count": 1}])
    with pytest.raises(ValueError):
        sim.set_faults([{"kind": "500"}])


def test_stats_and_reset(fsim):
    sim, c = fsim
    sim.reset_stats()
    c.get("/clients", params={"per_page": 1})
    c.get("/nope")
    inv = sim.records("invoices")[0]["id"]
    c.get(f"/invoices/{inv}/messages")
    stats = httpx.get(f"{sim.base_url[:-3]}/__sim__/stats").json()
    assert stats["total"] == 3
    assert stats["by_path"] == {"/v2/clients": 1, "/v2/nope": 1, f"/v2/invoices/{inv}/messages": 1}
    assert stats["by_status"] == {"200": 2, "404": 1}
    assert stats["requests"][0] == {"method": "GET", "path": "/v2/clients", "query": "per_page=1", "status": 200}
    assert httpx.post(f"{sim.base_url[:-3]}/__sim__/reset").status_code == 200
    assert sim.stats()["total"] == 0
