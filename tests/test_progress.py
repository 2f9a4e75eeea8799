"""The live progress display (harvest_source/progress.py): on a terminal and as plain log lines."""

from __future__ import annotations

import io
import logging
from typing import Any

from rich.console import Console

from harvest_source.progress import PeriodicLog, RunProgress, plain_line, shown
from harvest_source.report import RunReport


class FakeStats:
    """The client's counters as ``RunReport.outcome()`` reads them."""

    def __init__(self, **snapshot: Any) -> None:
        self.data = snapshot

    def snapshot(self) -> dict[str, Any]:
        return dict(self.data)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress(stats: FakeStats, clock: Clock | None = None) -> RunProgress:
    progress = RunProgress(RunReport(client_stats=stats), clock=clock or Clock())
    collector = progress.collector()
    with collector("Extract harvest"):
        collector.update("Resources", 0, 23)
        collector.update("time_entries", 2000)
        collector.update("time_entries", 2000)
        collector.update("users", 20)
        collector.update("_dlt_pipeline_state", 1)
    return progress


def test_a_terminal_gets_a_live_table_of_rows_requests_waits_and_estimates():
    clock = Clock()
    stats = FakeStats(requests=42, waited_s=3.25,
                      listings={"/v2/time_entries": {"pages": 2, "total_pages": 11},
                                "/v2/users": {"pages": 1, "total_pages": 1}})
    progress = _progress(stats, clock)
    progress.snapshot()  # first sight of the listings
    clock.now += 10.0
    stats.data["listings"] = {"/v2/time_entries": {"pages": 6, "total_pages": 11}}
    out = io.StringIO()
    console = Console(force_terminal=True, file=out, width=100, color_system=None)
    with shown(progress, console=console):
        pass  # the display draws once more when it stops
    text = out.getvalue()
    assert "time_entries" in text and "4,000" in text and "users" in text and "20" in text
    assert "requests 42" in text and "rate limit 3.2 s" in text
    assert "/v2/time_entries: page 6/11, ~12 s left" in text  # 4 pages in 10 s, 5 to go
    assert "_dlt" not in text and "Resources" not in text


def test_without_a_terminal_it_logs_plain_lines_and_draws_nothing(caplog):
    progress = _progress(FakeStats(requests=7, waited_s=0.0))
    out = io.StringIO()
    with shown(progress, console=Console(file=out), period_s=3600.0):
        pass
    assert out.getvalue() == ""
    with caplog.at_level(logging.INFO, logger="harvest_source.progress"):
        PeriodicLog(progress, period_s=3600.0).tick()
    assert caplog.messages == [
        "progress (extract, 0 s): time_entries 4,000, users 20; requests 7, waiting for rate limit 0.0 s"
    ]


def test_listings_without_page_counts_or_odd_stats_show_no_estimate():
    odd = (None, "junk", {"/v2/x": "junk"}, {"/v2/x": {"pages": 3}}, {"/v2/x": {"pages": 1, "total_pages": 4}})
    for listings in odd:
        stats = FakeStats(requests=1) if listings is None else FakeStats(requests=1, listings=listings)
        snap = _progress(stats).snapshot()
        assert all(item.left_s is None for item in snap.listings)
        assert "~" not in plain_line(snap)


def test_later_steps_show_dlt_counters_and_keep_the_rows():
    progress = _progress(FakeStats())
    collector = progress.collector()
    with collector("Load harvest in 123"):
        collector.update("Jobs", 0, inc_total=8)
        collector.update("Jobs", 3)
        line = plain_line(progress.snapshot())
    assert line.startswith("progress (load, 0 s): time_entries 4,000, users 20; jobs 3/8;")
