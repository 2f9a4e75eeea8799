"""Bad responses (issue 5, point 4): malformed or truncated JSON, an HTML error page, a 200 without its
records key, a links.next that loops, a total_pages that lies. Each ends in a correct load or in a clear
error with nothing loaded: never a hang (every run is a command-line subprocess with a time limit) and
never a silently short table."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability.support import cli_env, compare, data_tables, duplicate_keys, run_cli, snapshot

from harvest_source.runner import EXIT_OK
from harvest_source.simulator import Simulator, run_simulator

HANG_GUARD_S = 180
RETRY_FAST = {"max_attempts": "4", "backoff_base_s": "0.01", "backoff_cap_s": "0.05", "timeout_s": "2"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Iterator[tuple[Simulator, dict[str, list[tuple]]]]:
    """One account for the module and what a clean load of it gives."""
    with run_simulator("tiny", seed=8) as sim:
        yield sim, _clean_load(sim, tmp_path_factory.mktemp("reference"))


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Iterator[tuple[Simulator, dict[str, list[tuple]]]]:
    """An account big enough for multi-page endpoints (time_entries: 11 pages of 2000)."""
    with run_simulator("small", seed=8) as sim:
        yield sim, _clean_load(sim, tmp_path_factory.mktemp("reference"))


def _clean_load(sim: Simulator, folder: Path) -> dict[str, list[tuple]]:
    proc = _load(sim, folder)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return snapshot(folder / "h.duckdb")


def _load(sim: Simulator, folder: Path, faults: list[dict] | None = None, seed: int = 0):
    """One command-line run with ``faults`` on; asserts the faults really were injected."""
    folder.mkdir(parents=True, exist_ok=True)
    already = sum(sim.app.faults.injected.values())
    sim.set_faults(faults or [], seed=seed)
    try:
        proc = run_cli(["--duckdb-file", str(folder / "h.duckdb")], cli_env(sim, folder / "home", **RETRY_FAST),
                       cwd=folder, timeout=HANG_GUARD_S)
    finally:
        sim.clear_faults()
    assert bool(faults) == (sum(sim.app.faults.injected.values()) > already), "a fault rule that never fired"
    return proc


def _loaded_nothing(folder: Path) -> bool:
    file = folder / "h.duckdb"
    return not file.exists() or data_tables(file) == []


RECOVERED = [  # faults a retry gets past, each on its own endpoint, all in one run
    {"kind": "malformed", "count": 2, "path": "^/v2/time_entries$"},
    {"kind": "truncated", "count": 2, "path": "^/v2/users$"},
    {"kind": "truncated", "count": 2, "path": r"^/v2/invoices/\d+/messages$", "declared": "full"},
    {"kind": "html", "count": 2, "path": "^/v2/clients$", "status": 502},
    {"kind": "html", "count": 1, "path": "^/v2/projects$"},  # an HTML 500 page
    {"kind": "lying_total_pages", "probability": 1.0},
]


def test_bad_bodies_that_a_retry_gets_past_load_everything(tiny, tmp_path):
    sim, reference = tiny
    before = dict(sim.app.faults.injected)
    proc = _load(sim, tmp_path, RECOVERED)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fired = {kind: n - before.get(kind, 0) for kind, n in sim.app.faults.injected.items()}
    assert fired["malformed"] == 2 and fired["truncated"] == 4 and fired["html"] == 3, fired
    assert fired["lying_total_pages"] > 20, fired
    assert compare(snapshot(tmp_path / "h.duckdb"), reference) == []
    assert duplicate_keys(tmp_path / "h.duckdb") == {}


FAILED = [  # (faults, what the error must say)
    ([{"kind": "malformed", "probability": 1.0, "path": "^/v2/tasks$"}],
     "GET /v2/tasks: the body was not valid JSON in 4 attempts"),
    ([{"kind": "truncated", "probability": 1.0, "path": r"^/v2/users/\d+/cost_rates$"}],
     "the body was not valid JSON in 4 attempts"),
    ([{"kind": "html", "count": 1, "path": "^/v2/expenses$", "status": 200}],
     "GET /v2/expenses: expected JSON but got text/html"),
    ([{"kind": "missing_key", "count": 1, "path": "^/v2/invoices$"}],
     "GET /v2/invoices: the response has no 'invoices'"),
    ([{"kind": "missing_key", "count": 1, "path": "^/v2/contacts$"}],
     "GET /v2/contacts: the response has no 'contacts'"),
    ([{"kind": "loop_next", "count": 1, "path": "^/v2/projects$"}],
     "GET /v2/projects: links.next repeats an already visited page"),
    ([{"kind": "loop_next", "count": 1, "path": "^/v2/roles$"}],
     "GET /v2/roles: links.next repeats an already visited page"),
]


@pytest.mark.parametrize(("faults", "message"), FAILED, ids=[
    "malformed-always", "truncated-always", "html-200", "missing-key-row-path", "missing-key-arrow-path",
    "next-loops-arrow-path", "next-loops-row-path"])
def test_bad_bodies_that_persist_fail_clearly_and_load_nothing(tiny, tmp_path, faults, message):
    sim, _ = tiny
    proc = _load(sim, tmp_path, faults)
    assert proc.returncode == 1
    assert message in proc.stderr, proc.stderr[-3000:]
    assert "status: FAILED" in proc.stderr and "Traceback" not in proc.stderr
    assert _loaded_nothing(tmp_path)  # not one table of the failed run, let alone a short one


def test_a_bad_page_in_the_middle_of_a_long_listing_fails_the_whole_run(small, tmp_path):
    """time_entries has 11 pages here: a page missing its records key, or a next link that loops back,
    somewhere in the middle must not leave a table with the pages before it."""
    sim, reference = small
    missing = _load(sim, tmp_path / "missing", [{"kind": "missing_key", "probability": 0.4,
                                                 "path": "^/v2/time_entries$"}], seed=3)
    assert missing.returncode == 1 and "the response has no 'time_entries'" in missing.stderr, missing.stderr[-2000:]
    assert _loaded_nothing(tmp_path / "missing")
    loop = _load(sim, tmp_path / "loop", [{"kind": "loop_next", "probability": 0.4, "path": "^/v2/time_entries$"}],
                 seed=3)
    assert loop.returncode == 1 and "links.next repeats an already visited page" in loop.stderr
    assert _loaded_nothing(tmp_path / "loop")
    lies = _load(sim, tmp_path / "lies", [{"kind": "lying_total_pages", "probability": 1.0}])
    assert lies.returncode == 0, lies.stderr[-3000:]
    got = snapshot(tmp_path / "lies" / "h.duckdb")
    assert compare(got, reference) == []
    assert len(got["time_entries"]) == sim.counts()["time_entries"] > 2000 * 10


def test_a_clean_run_after_a_failed_one_loads_everything(tiny, tmp_path):
    sim, reference = tiny
    failed = _load(sim, tmp_path, [{"kind": "missing_key", "count": 1, "path": "^/v2/tasks$"}])
    assert failed.returncode == 1
    assert _load(sim, tmp_path).returncode == EXIT_OK
    assert compare(snapshot(tmp_path / "h.duckdb"), reference) == []
