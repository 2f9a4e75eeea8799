"""The per-child parent window: which parents are visited, and when a sweep is due."""

from __future__ import annotations

import pendulum

from harvest_source.listing_window import STATE_KEY, ListingWindow, combine_bounds, shift

NOW = pendulum.datetime(2024, 3, 1, 12, tz="UTC")


def _open(state, *, hours=24.0, force=False, lookback=0.0, now=NOW):
    return ListingWindow.open(state, now=now, sweep_interval_h=hours, force_sweep=force, lookback_s=lookback)


def _p(pid, updated):
    return {"id": pid, "updated_at": updated}


def test_first_run_sweeps_everything_and_records_boundary():
    state: dict = {}
    window = _open(state)
    assert window.sweep and window.listing_bound() is None
    parents = [_p(1, "2024-01-01T00:00:00Z"), _p(2, "2024-01-02T00:00:00Z"), _p(3, "2024-01-02T00:00:00Z")]
    assert all(window.wants(p) for p in parents)
    window.visited(parents)
    assert state[STATE_KEY] == {
        "since": "2024-01-02T00:00:00Z", "boundary_ids": [2, 3], "swept_at": "2024-03-01T12:00:00Z",
    }


def test_next_run_visits_only_changed_parents_and_not_the_boundary_again():
    state = {STATE_KEY: {"since": "2024-01-02T00:00:00Z", "boundary_ids": [2], "swept_at": "2024-03-01T11:00:00Z"}}
    window = _open(state)
    assert not window.sweep
    assert window.listing_bound() == "2024-01-02T00:00:00Z"
    assert not window.wants(_p(2, "2024-01-02T00:00:00Z"))  # already visited at the boundary
    assert window.wants(_p(7, "2024-01-02T00:00:00Z"))  # same second, not seen before
    assert window.wants(_p(1, "2024-01-03T00:00:00Z"))
    assert not window.wants(_p(4, "2024-01-01T00:00:00Z"))


def test_sweep_is_due_after_the_interval_or_when_forced():
    state = {STATE_KEY: {"since": "2024-01-02T00:00:00Z", "boundary_ids": [], "swept_at": "2024-02-29T12:00:00Z"}}
    assert _open(state).sweep
    assert not _open(state, hours=48).sweep
    assert _open(state, hours=48, force=True).sweep


def test_lookback_widens_the_window():
    state = {STATE_KEY: {"since": "2024-01-02T00:01:00Z", "boundary_ids": [2], "swept_at": "2024-03-01T11:00:00Z"}}
    window = _open(state, lookback=60)
    assert window.listing_bound() == "2024-01-02T00:00:00Z"
    assert window.wants(_p(2, "2024-01-02T00:01:00Z"))
    assert window.wants(_p(9, "2024-01-02T00:00:00Z"))
    assert not window.wants(_p(9, "2024-01-01T23:59:59Z"))


def test_rollback_restores_the_previous_window():
    saved = {"since": "2024-01-02T00:00:00Z", "boundary_ids": [2], "swept_at": "2024-03-01T11:00:00Z"}
    state = {STATE_KEY: dict(saved)}
    window = _open(state)
    window.visited([_p(5, "2024-02-01T00:00:00Z")])
    assert state[STATE_KEY]["since"] == "2024-02-01T00:00:00Z"
    window.rollback()
    assert state[STATE_KEY] == saved and window.skipped


def test_combine_bounds_takes_the_earliest_and_none_means_all():
    assert combine_bounds(["2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"], None) == "2024-01-01T00:00:00Z"
    assert combine_bounds(["2024-01-02T00:00:00Z", None], "2023-01-01T00:00:00Z") == "2023-01-01T00:00:00Z"
    assert combine_bounds(["2022-01-02T00:00:00Z"], "2023-01-01T00:00:00Z") == "2023-01-01T00:00:00Z"
    assert combine_bounds([], None) is None


def test_shift_keeps_harvest_format():
    assert shift("2024-01-01T00:00:30Z", 45) == "2023-12-31T23:59:45Z"



def test_a_failed_fan_out_raises_the_first_error_and_leaves_nothing_to_finish_unobserved():
    """A child fails while another is still running: the first error is raised at once and the other
    future is cancelled, so its later error is never printed by asyncio after the run's own message
    (it was, when dlt's loop stopped before a plain ``asyncio.gather`` had retrieved it)."""
    import asyncio
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from harvest_source.errors import HarvestResponseError
    from harvest_source.gather import all_or_first_error

    release = threading.Event()

    def fetch(parent_id: int) -> list[dict]:
        if parent_id == 3:
            release.wait(5)
        if parent_id in (2, 3):
            raise HarvestResponseError(f"GET /v2/parents/{parent_id}/children: broken")
        return [{"id": parent_id}]

    async def main(ids: list[int]) -> tuple[list | BaseException, list[asyncio.Future]]:
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(4) as pool:
            futures = [loop.run_in_executor(pool, fetch, i) for i in ids]
            try:
                outcome: list | BaseException = await all_or_first_error(futures)
            except HarvestResponseError as error:
                outcome = error
            states = [f.done() for f in futures]
            release.set()  # let the blocked child end (with its error) before the pool shuts down
            return outcome, states

    assert asyncio.run(main([1, 4, 5])) == ([[{"id": 1}], [{"id": 4}], [{"id": 5}]], [True] * 3)
    release.clear()
    outcome, states = asyncio.run(main([1, 2, 3, 4]))
    assert isinstance(outcome, HarvestResponseError) and "parents/2/" in str(outcome)
    assert states == [True] * 4, "a sibling future was left pending"
