"""Rate limits (issue point 5): two sliding-window buckets per token; 429 with Retry-After in whole seconds."""

from __future__ import annotations

import pytest
from sim_helpers import MEMBER_TOKEN, client_for

from harvest_source.simulator import run_simulator
from harvest_source.simulator.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_general_bucket_over_http():
    with run_simulator("tiny", 1, rate_limit="harvest", member_token=MEMBER_TOKEN) as sim, \
            client_for(sim) as c, client_for(sim, MEMBER_TOKEN) as m:
        statuses = [c.get("/company").status_code for _ in range(100)]
        assert statuses == [200] * 100
        over = c.get("/clients")
        assert over.status_code == 429
        retry = over.headers["retry-after"]
        assert retry.isdigit() and 1 <= int(retry) <= 15
        assert c.get("/company").status_code == 429  # still blocked, and 429s do not extend the block
        assert m.get("/company").status_code == 200  # buckets are per token
        # the reports bucket is separate from the general one
        assert c.get("/reports/time/team", params={"from": "20240101", "to": "20241201"}).status_code == 200
        stats = sim.stats()
        assert stats["throttled"] == 2 and stats["by_status"]["429"] == 2


def test_reports_bucket_over_http():
    with run_simulator("tiny", 1, rate_limit="harvest") as sim, client_for(sim) as c:
        params = {"from": "20240101", "to": "20241201"}
        assert all(c.get("/reports/time/clients", params=params).status_code == 200 for _ in range(100))
        over = c.get("/reports/expenses/team", params=params)
        assert over.status_code == 429 and 1 <= int(over.headers["retry-after"]) <= 900
        assert c.get("/company").status_code == 200


def test_off_by_default():
    with run_simulator("tiny", 1) as sim, client_for(sim) as c:
        assert all(c.get("/company").status_code == 200 for _ in range(150))


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_sliding_window_and_time_scale(scale):
    clock = FakeClock()
    rl = RateLimiter("harvest", time_scale=scale, clock=clock)
    window = 15.0 / scale
    for i in range(100):
        clock.t = 1000.0 + i * (window / 200)  # all within the first half of the window
        assert rl.check("t", "/v2/clients") is None
    retry = rl.check("t", "/v2/clients")
    oldest_leaves = 1000.0 + window - clock.t
    assert retry == max(1, -(-oldest_leaves // 1))
    assert rl.check("other", "/v2/clients") is None
    clock.t = 1000.0 + window + 0.001  # the oldest request left the window: exactly one slot is free
    assert rl.check("t", "/v2/clients") is None
    assert rl.check("t", "/v2/clients") is not None
    assert rl.window("reports") == 900.0 / scale


def test_retry_after_rounds_up_to_whole_seconds():
    clock = FakeClock()
    rl = RateLimiter("harvest", time_scale=100.0, clock=clock)  # 0.15 s window
    for _ in range(100):
        assert rl.check("t", "/v2/users") is None
    assert rl.check("t", "/v2/users") == 1


def test_bad_settings_rejected():
    with pytest.raises(ValueError):
        RateLimiter("sometimes")
    with pytest.raises(ValueError):
        RateLimiter("harvest", time_scale=0)


def test_latency_setting_is_applied_per_request():
    with run_simulator("tiny", 1, latency_ms=5) as sim, client_for(sim) as c:
        assert sim.latency_ms == 5
        assert c.get("/company").status_code == 200
        sim.latency_ms = 0
        assert c.get("/company").status_code == 200
