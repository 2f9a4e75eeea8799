"""Faults on the wire (issue 5, points 1 and 2): transient ones are retried and the destination ends up
exactly as after a fault-free run; a persistent one fails the run loudly, leaves destination and cursors
as they were, and the next run loads everything.

The simulator draws its faults from a seeded generator; requests run concurrently, so which request
draws which fault can vary between runs, but the mix and the seed are fixed."""

from __future__ import annotations

import random
import re
import sys
import threading
import time
from collections import Counter

import pytest
from reliability.support import (
    change_account,
    cli_env,
    cursors,
    data_tables,
    destination_state,
    differences,
    duplicate_keys,
    local_state,
    row_total,
    run_cli,
)

from harvest_source.runner import EXIT_FAILED, EXIT_OK, format_summary
from harvest_source.simulator import run_simulator

# Small timeouts and backoff so a test spends its time on requests, not on waiting.
FAST_RETRIES = {"timeout_s": 1, "backoff_base_s": 0.02, "backoff_cap_s": 0.3, "max_attempts": 10}

# 10% server errors, dropped connections, read timeouts, and 429 storms with and without Retry-After.
TRANSIENT = [
    {"kind": "429", "count": 4, "path": "^/v2/time_entries$", "retry_after": 1},  # a storm on one endpoint
    {"kind": "429_no_retry_after", "count": 6, "path": r"^/v2/invoices/\d+/payments$"},  # one over the fan-out
    {"kind": "500", "probability": 0.04},
    {"kind": "502", "probability": 0.03},
    {"kind": "503", "probability": 0.03},
    {"kind": "drop", "probability": 0.03},
    {"kind": "slow", "probability": 0.01, "seconds": 1.5},  # longer than timeout_s: a read timeout
    {"kind": "429", "probability": 0.02, "retry_after": 0},
    {"kind": "429_no_retry_after", "probability": 0.02},
]
FAULT_SEED = 11
RETRIED_KINDS = ("500", "502", "503", "drop", "slow", "429", "429_no_retry_after")


def _attempts_per_request(stats: dict) -> Counter:
    """How often each distinct request (path + query) was sent: 1 plus its retries."""
    return Counter((r["path"], r["query"]) for r in stats["requests"])


def _injected(sim) -> Counter:
    return Counter(sim.app.faults.injected)  # cumulative over the simulator's life


def _check_run_survived(sim, result, max_attempts: int, already: Counter, at_least: int) -> dict[str, int]:
    injected = dict(_injected(sim) - already)
    stats = sim.stats()
    assert result.exit_code == EXIT_OK, result.error
    assert sum(injected.values()) >= at_least, f"too few faults to mean anything: {injected}"
    # every injected fault cost exactly one retry: nothing was given up, nothing retried for no reason
    assert result.retries == sum(injected.get(k, 0) for k in RETRIED_KINDS), (result.stats, injected)
    assert result.throttled == injected.get("429", 0) + injected.get("429_no_retry_after", 0)
    assert result.stats["transport_errors"] == injected.get("drop", 0) + injected.get("slow", 0)
    for status in ("500", "502", "503"):
        assert result.stats["by_status"].get(int(status), 0) == injected.get(status, 0)
    # bounded: no request was sent more often than max_attempts, and some needed several
    attempts = _attempts_per_request(stats)
    assert max(attempts.values()) <= max_attempts
    assert sum(1 for n in attempts.values() if n > 1) > 0
    # the summary reports them
    summary = format_summary(result)
    assert f"retries: {result.retries:,}" in summary and f"429s: {result.throttled:,}" in summary
    return injected


def test_transient_faults_full_and_incremental_load_equal_a_fault_free_run(loader_for):
    with run_simulator("small", seed=3) as sim:
        clean, faulty = loader_for(sim, name="clean"), loader_for(sim, name="faulty")
        assert clean.run().exit_code == EXIT_OK

        sim.set_faults(TRANSIENT, seed=FAULT_SEED)
        sim.reset_stats()
        already = _injected(sim)
        full = faulty.run(source_options=FAST_RETRIES)
        injected_full = _check_run_survived(sim, full, FAST_RETRIES["max_attempts"], already, at_least=100)
        assert set(injected_full) == set(RETRIED_KINDS)  # every kind of fault happened
        sim.clear_faults()
        assert differences(faulty, clean) == []
        assert duplicate_keys(faulty.file) == {}

        changed = change_account(sim, random.Random(5), changes=40)
        assert clean.run().exit_code == EXIT_OK
        sim.set_faults(TRANSIENT, seed=FAULT_SEED + 1)
        sim.reset_stats()
        already = _injected(sim)
        incremental = faulty.run(source_options=FAST_RETRIES)
        injected_incremental = _check_run_survived(
            sim, incremental, FAST_RETRIES["max_attempts"], already, at_least=5
        )
        sim.clear_faults()
        assert sum(incremental.rows.values()) < sum(full.rows.values()) / 10  # it was incremental
        assert differences(faulty, clean) == []
        assert duplicate_keys(faulty.file) == {}
        print(f"\nfaults survived: full load {sum(injected_full.values())} {injected_full}, incremental "
              f"{sum(injected_incremental.values())} {injected_incremental}; {len(changed)} changes; "
              f"{len(data_tables(clean.file))} tables, {row_total(clean):,} rows compared")


def _dataset_snapshot(loader) -> dict[str, list[tuple]]:
    return {table: loader.rows(table) for table in loader.tables()}


PERSISTENT = [  # (rule, what the error must name, the last status it must give)
    ({"kind": "503", "probability": 1.0, "path": "^/v2/expenses$"}, "/v2/expenses", "503"),
    ({"kind": "500", "probability": 1.0, "path": r"^/v2/invoices/\d+/payments$"}, "/v2/invoices/", "500"),
    ({"kind": "429", "probability": 1.0, "path": "^/v2/tasks$", "retry_after": 0}, "/v2/tasks", "429"),
    ({"kind": "drop", "probability": 1.0, "path": "^/v2/clients$"}, "/v2/clients", "disconnected"),
]


def test_a_persistent_fault_fails_loudly_and_the_next_run_loads_everything(loader_for):
    """Four endpoints that keep failing, one after the other, each between changes in Harvest."""
    max_attempts = 3
    with run_simulator("tiny", seed=4) as sim:
        loader = loader_for(sim)
        assert loader.run().exit_code == EXIT_OK
        for number, (rule, endpoint, last_status) in enumerate(PERSISTENT):
            change_account(sim, random.Random(number), changes=8)
            before = _dataset_snapshot(loader)
            cursors_before = cursors(destination_state(loader.file))
            local_before = cursors(local_state(loader.folder / "pipelines", loader.pipeline_name))
            assert cursors_before and local_before == cursors_before

            sim.set_faults([rule])
            sim.reset_stats()
            failed = loader.run(source_options={**FAST_RETRIES, "max_attempts": max_attempts})
            assert failed.exit_code == EXIT_FAILED
            assert endpoint in failed.error and last_status in failed.error.lower(), failed.error
            assert f"after {max_attempts} attempts" in failed.error
            attempts = _attempts_per_request(sim.stats())
            failing = {key: n for key, n in attempts.items() if re.match(rule["path"], key[0])}
            assert failing and max(failing.values()) <= max_attempts, rule  # the path exists; bounded
            # nothing of the failed run reached the destination, and no cursor moved
            assert _dataset_snapshot(loader) == before
            assert cursors(destination_state(loader.file)) == cursors_before
            assert cursors(local_state(loader.folder / "pipelines", loader.pipeline_name)) == local_before

            sim.clear_faults()
            recovered = loader.run()
            assert recovered.exit_code == EXIT_OK, recovered.error
            counts = sim.counts()
            for table in ("expenses", "tasks", "clients", "time_entries", "invoice_payments"):
                assert loader.count(table) == counts[table], (rule["path"], table)
        fresh = loader_for(sim, name="fresh")
        assert fresh.run().exit_code == EXIT_OK
        assert differences(loader, fresh) == []
        assert duplicate_keys(loader.file) == {}


def test_a_persistent_fault_exits_non_zero_from_the_command_line(tmp_path):
    with run_simulator("tiny", seed=4) as sim:
        sim.set_faults([{"kind": "502", "probability": 1.0, "path": "^/v2/projects$"}])
        env = cli_env(sim, tmp_path / "home", max_attempts="2", backoff_base_s="0.01", timeout_s="1")
        proc = run_cli(["--duckdb-file", str(tmp_path / "h.duckdb")], env, cwd=tmp_path)
        assert sim.stats()["by_path"]["/v2/projects"] == 2
    assert proc.returncode == 1
    assert "GET /v2/projects: still failing after 2 attempts (last: server error 502)" in proc.stderr
    assert "status: FAILED" in proc.stderr



def _in_back_off() -> list[str]:
    """The threads now inside a client's retry back-off or a pacer wait."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    found = []
    for ident, frame in sys._current_frames().items():
        while frame is not None:
            code = frame.f_code
            if code.co_name in ("_wait", "_acquire") and "harvest_source" in code.co_filename:
                found.append(names.get(ident, str(ident)))
                break
            frame = frame.f_back
    return found


# An hour's back-off per retry: a thread still waiting one out after the run would outlive the test.
LONG_BACK_OFF = {"backoff_base_s": 3600, "backoff_cap_s": 3600, "max_retry_wait_s": 10**6, "max_attempts": 3}
ONE_FAILS_TWO_WAIT = [
    {"kind": "503", "probability": 1.0, "path": "^/v2/clients$"},  # a dlt extract thread
    {"kind": "503", "probability": 1.0, "path": r"^/v2/invoices/\d+/payments$"},  # fan-out threads
    # fatal, and late enough that both are waiting out a back-off by then
    {"kind": "slow", "probability": 1.0, "path": "^/v2/tasks$", "seconds": 2},
    {"kind": "missing_key", "probability": 1.0, "path": "^/v2/tasks$"},
]


def _no_thread_left_in_back_off() -> list[str]:
    deadline = time.monotonic() + 30  # a woken thread may still be unwinding; without the stop: an hour
    while _in_back_off() and time.monotonic() < deadline:
        time.sleep(0.05)
    return _in_back_off()


def test_the_error_that_fails_a_run_stops_its_other_retries_at_once(loader_for):
    """One endpoint fails the run while a plain list and a fan-out wait out an hour's back-off each:
    the run reports that endpoint's error, and none of its threads is still waiting to retry."""
    with run_simulator("tiny", seed=4) as sim:
        sim.set_faults(ONE_FAILS_TWO_WAIT)
        result = loader_for(sim).run(source_options=LONG_BACK_OFF)
        by_path = sim.stats()["by_path"]
        invoices = sim.counts()["invoices"]
    assert result.exit_code == EXIT_FAILED
    assert result.error.startswith("GET /v2/tasks: the response has no 'tasks'"), result.error
    assert "stopping" not in result.error
    payments = sum(n for path, n in by_path.items() if path.endswith("/payments"))
    assert by_path["/v2/clients"] <= 2 and 1 <= payments <= 2 * invoices  # each back-off cut short
    assert _no_thread_left_in_back_off() == []


def test_a_failed_run_of_the_bare_source_stops_its_retries_too(tmp_path):
    """A user's own ``pipeline.run(harvest_source(...))``, without the runner: the error leaving a resource
    is what stops the client."""
    import dlt

    from harvest_source import harvest_source

    with run_simulator("tiny", seed=4) as sim:
        sim.set_faults(ONE_FAILS_TWO_WAIT)
        pipeline = dlt.pipeline("bare", pipelines_dir=str(tmp_path / "pipelines"),
                                destination=dlt.destinations.duckdb(str(tmp_path / "bare.duckdb")))
        source = harvest_source(access_token=sim.admin_token, account_id=str(sim.account_id),
                                base_url=sim.base_url, rate_limit_window_s=0.001, **LONG_BACK_OFF)
        with pytest.raises(Exception, match="GET /v2/tasks: the response has no 'tasks'"):
            pipeline.run(source)
    assert _no_thread_left_in_back_off() == []
