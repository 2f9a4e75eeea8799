"""Pacer and registry tests on a fake clock: no real sleeping, no timed assertions."""

from __future__ import annotations

import threading

import pytest
from fakes import FakeTime, run_in_threads

from harvest_source.http import pacing
from harvest_source.http.pacing import Pacer, Stopped, clear_pacers, pacer_for, pacer_key


class RecordingPacer(Pacer):
    """Records the exact clock value of every granted acquisition (the value the pacer stores)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.granted: list[float] = []

    def _delay_locked(self, now: float) -> float:
        delay = super()._delay_locked(now)
        if delay <= 0:
            self.granted.append(now)
        return delay


def assert_never_over(times: list[float], limit: int, window_s: float) -> None:
    """No window of length ``window_s`` holds more than ``limit`` of ``times``."""
    times = sorted(times)
    for i in range(len(times) - limit):
        assert times[i + limit] - times[i] >= window_s - 1e-9, (i, times[i], times[i + limit])


@pytest.fixture(autouse=True)
def _fresh_registry():
    clear_pacers()
    yield
    clear_pacers()


def test_burst_up_to_limit_then_waits_for_oldest_to_leave_window():
    ft = FakeTime()
    p = RecordingPacer(5, 10.0, clock=ft.clock, sleep=ft.sleep)
    waits = [p.acquire() for _ in range(5)]
    assert waits == [0.0] * 5 and ft.sleeps == []
    waited = p.acquire()
    assert waited == pytest.approx(p.effective_window_s)
    assert ft.sleeps == [pytest.approx(p.effective_window_s)]


def test_never_more_than_limit_in_any_window():
    ft = FakeTime()
    p = RecordingPacer(7, 15.0, clock=ft.clock, sleep=ft.sleep)
    for i in range(60):
        p.acquire()
        if i % 9 == 0:
            ft.sleep(3.3)  # irregular gaps between callers
    assert len(p.granted) == 60
    assert_never_over(p.granted, 7, 15.0)
    assert_never_over(p.granted, 7, p.effective_window_s)


def test_margin_is_only_clock_resolution():
    """Jitter is handled by settling slots at the response (see the in-flight tests), not by a margin."""
    assert Pacer(100, 15.0).effective_window_s == pytest.approx(15.002)
    assert Pacer(100, 0.15).effective_window_s == pytest.approx(0.152)
    assert Pacer(100, 15.0, margin_s=0.0, margin_ratio=0.0).effective_window_s == 15.0
    assert Pacer(100, 15.0, margin_s=0.0, margin_ratio=0.01).effective_window_s == pytest.approx(15.15)


def test_rejects_nonsense_limits():
    with pytest.raises(ValueError):
        Pacer(0, 15.0)
    with pytest.raises(ValueError):
        Pacer(10, 0.0)


def test_pause_for_blocks_the_next_acquire_for_exactly_that_long():
    ft = FakeTime()
    p = Pacer(100, 15.0, clock=ft.clock, sleep=ft.sleep)
    p.pause_for(30.0)
    assert p.acquire() == pytest.approx(30.0)
    assert ft.sleeps == [30.0]
    assert p.acquire() == 0.0


def test_pause_until_never_shortens_an_existing_pause():
    ft = FakeTime()
    p = Pacer(100, 15.0, clock=ft.clock, sleep=ft.sleep)
    p.pause_for(20.0)
    p.pause_until(ft.now + 5.0)
    assert p.acquire() == pytest.approx(20.0)


def test_pause_blocks_every_thread():
    ft = FakeTime()
    p = RecordingPacer(100, 15.0, clock=ft.clock, sleep=ft.sleep)
    deadline = ft.now + 12.0
    p.pause_until(deadline)
    threads = run_in_threads(p.acquire, 6, timeout_s=10)
    assert not any(t.is_alive() for t in threads)
    assert len(p.granted) == 6
    assert min(p.granted) >= deadline


def test_thread_safety_smoke_many_threads_fake_clock():
    ft = FakeTime()
    limit, window = 10, 5.0
    p = RecordingPacer(limit, window, clock=ft.clock, sleep=ft.sleep)

    def worker() -> None:
        for _ in range(25):
            p.acquire()

    threads = run_in_threads(worker, 8, timeout_s=30)
    assert not any(t.is_alive() for t in threads)
    assert len(p.granted) == 200
    assert_never_over(p.granted, limit, window)
    assert p.in_window() <= limit


def test_registry_shares_one_pacer_per_key():
    key = pacer_key("tok-secret", "123", "https://api.harvestapp.com/v2", "general")
    a = pacer_for(key, 100, 15.0)
    b = pacer_for(key, 100, 15.0)
    assert a is b
    other = pacer_for(pacer_key("tok-secret", "123", "https://api.harvestapp.com/v2", "reports"), 100, 900.0)
    assert other is not a
    assert pacer_for(pacer_key("other-token", "123", "https://api.harvestapp.com/v2", "general"), 100, 15.0) is not a


def test_registry_is_thread_safe():
    key = pacer_key("t", "1", "u", "general")
    got: list[Pacer] = []
    lock = threading.Lock()

    def grab() -> None:
        p = pacer_for(key, 100, 15.0)
        with lock:
            got.append(p)

    run_in_threads(grab, 16, timeout_s=10)
    assert len(got) == 16 and all(p is got[0] for p in got)


def test_key_is_a_hash_not_the_token():
    token = "1234567.pt.SUPERSECRETTOKENVALUE"
    key = pacer_key(token, "123", "https://api.harvestapp.com/v2", "general")
    assert token not in key and "SUPERSECRET" not in key
    assert key == pacer_key(token, "123", "https://api.harvestapp.com/v2", "general")
    assert len(key) == 32 and int(key, 16) >= 0
    pacer_for(key, 100, 15.0)
    assert all(token not in repr(ident) for ident in pacing._REGISTRY)


def test_restamp_moves_a_slot_later_and_never_earlier():
    ft = FakeTime()
    p = Pacer(2, 10.0, clock=ft.clock, sleep=ft.sleep, margin_s=0.0, margin_ratio=0.0)
    _, first = p.acquire_slot()
    _, second = p.acquire_slot()
    p.restamp(first, first + 4.0)  # the first request really left 4 s later
    p.restamp(second, second - 1.0)  # never moves a slot earlier
    # the oldest slot is now `second` (t=1000): a third request may go at 1010, a fourth at 1014
    assert p.acquire() == pytest.approx(10.0)
    assert p.acquire() == pytest.approx(4.0)


def test_an_in_flight_slot_never_leaves_the_window_until_it_is_settled():
    """A request whose answer takes longer than the window may not have been counted yet: its slot
    stays, so the next grant still comes a full window after the server could have counted it."""
    ft = FakeTime()
    p = Pacer(1, 10.0, clock=ft.clock, sleep=ft.sleep, margin_s=0.0, margin_ratio=0.0)
    _, stamp = p.acquire_slot()
    ft.sleep(12.0)  # no answer yet after more than a window
    assert p.in_window() == 1
    p.restamp(stamp, ft.now)  # the answer came at t+12
    assert p.in_window() == 1
    assert p.acquire() == pytest.approx(10.0)  # a window after the answer, not after the grant


def test_when_the_whole_window_is_in_flight_callers_wait_for_a_settled_slot():
    ft = FakeTime()
    polls: list[float] = []

    def sleep(seconds: float) -> None:  # the answers to both requests arrive during the 5th poll
        ft.sleep(seconds)
        polls.append(seconds)
        if len(polls) == 5:
            p.restamp(first, ft.now)
            p.restamp(second, ft.now)

    p = Pacer(2, 10.0, clock=ft.clock, sleep=sleep, margin_s=0.0, margin_ratio=0.0)
    _, first = p.acquire_slot()
    _, second = p.acquire_slot()
    waited = p.acquire()
    answered = first + sum(polls[:5])
    assert polls[:5] == [pytest.approx(0.01)] * 5  # polled while nothing could leave the window
    assert waited == pytest.approx(answered + 10.0 - first)  # then a full window after the answers


def test_stop_ends_a_wait_for_a_slot_without_granting_one():
    pacer = Pacer(1, 3600.0)
    pacer.acquire()  # the window is full for an hour
    stop = threading.Event()
    outcome: list[str] = []

    def wait() -> None:
        try:
            pacer.acquire_slot(stop)
            outcome.append("granted")
        except Stopped:
            outcome.append("stopped")

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    stop.set()
    waiter.join(30)
    assert outcome == ["stopped"] and pacer.in_window() == 1
