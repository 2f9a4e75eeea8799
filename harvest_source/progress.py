"""Live progress of a run: rows per table, requests, time waiting for Harvest's rate limit, and an
estimate for listings that say how many pages they have.

Two sources feed it: dlt's counts (rows per table while extracting, files and jobs after) through a
collector (``dlt_compat.progress.SinkCollector``, given to ``dlt.pipeline(progress=...)``), and the
run's ``RunReport``, polled for requests, waits and pages read (``outcome().stats["listings"]``). On a
terminal ``shown`` draws a ``rich`` live table; otherwise (cron, CI) it logs a line now and then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .dlt_compat.progress import SinkCollector
from .report import RunReport
from .settings import PROGRESS_LOG_PERIOD_S, PROGRESS_REFRESH_PER_S

log = logging.getLogger("harvest_source.progress")

STEP_COUNTERS = ("Resources", "Files", "Items", "Jobs")  # dlt's own counters, not tables
MAX_LISTINGS_SHOWN = 5


@dataclass(frozen=True)
class Listing:
    path: str
    pages: int
    total_pages: int | None
    left_s: float | None  # estimated seconds until its last page; None when unknown


@dataclass(frozen=True)
class Snapshot:
    step: str
    elapsed_s: float
    rows: Mapping[str, int]
    counters: Mapping[str, tuple[int, int | None]]  # this step's dlt counters: (count, total)
    requests: int = 0
    waited_s: float = 0.0
    listings: tuple[Listing, ...] = field(default_factory=tuple)


class RunProgress:
    """What a run has done so far; thread-safe (dlt counts from its threads, the display reads)."""

    def __init__(self, report: RunReport, clock: Callable[[], float] = time.monotonic) -> None:
        self.report = report
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._step = "starting"
        self._rows: dict[str, int] = {}
        self._counters: dict[str, list[Any]] = {}
        self._first_seen: dict[str, tuple[float, int]] = {}  # listing path -> (when, pages) first seen

    def collector(self) -> SinkCollector:
        """The object to pass to ``dlt.pipeline(progress=...)`` (``RunSettings.progress``)."""
        return SinkCollector(self)

    # -- the sink dlt's collector calls ----------------------------------------------------------------
    def step_started(self, step: str) -> None:
        with self._lock:
            self._step = step.split(" ", 1)[0].lower() if step else "running"
            self._counters = {}

    def counted(self, name: str, inc: int, total: int | None, inc_total: int | None) -> None:
        with self._lock:
            if name.startswith("_dlt"):  # dlt's own state table
                return
            if self._step == "extract" and name not in STEP_COUNTERS:
                self._rows[name] = self._rows.get(name, 0) + inc
                return
            counter = self._counters.setdefault(name, [0, None])
            counter[0] += inc
            if total is not None:
                counter[1] = total
            if inc_total:
                counter[1] = (counter[1] or 0) + inc_total

    def step_ended(self) -> None:
        with self._lock:
            self._counters = {}

    # -- what the display shows ------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        outcome = self.report.outcome()
        now = self._clock()
        listings = self._listings(outcome.stats.get("listings"), now)
        with self._lock:
            return Snapshot(
                step=self._step, elapsed_s=now - self._started, rows=dict(self._rows),
                counters={k: (v[0], v[1]) for k, v in self._counters.items()},
                requests=outcome.requests, waited_s=outcome.waited_s, listings=listings,
            )

    def _listings(self, raw: Any, now: float) -> tuple[Listing, ...]:
        """Listings still running whose pages say how many are left (defensive: the stats may lack them)."""
        if not isinstance(raw, Mapping):
            return ()
        found = []
        for path, info in raw.items():
            if not isinstance(info, Mapping):
                continue
            pages, total = int(info.get("pages") or 0), info.get("total_pages")
            total = int(total) if isinstance(total, int | float) else None
            if total is None or total <= 1 or pages >= total:
                continue
            with self._lock:
                seen_at, seen_pages = self._first_seen.setdefault(str(path), (now, pages))
            rate = (pages - seen_pages) / (now - seen_at) if now > seen_at and pages > seen_pages else 0.0
            left = (total - pages) / rate if rate > 0 else None
            found.append(Listing(str(path), pages, total, left))
        found.sort(key=lambda item: -(item.total_pages or 0) + item.pages)
        return tuple(found[:MAX_LISTINGS_SHOWN])


def _listing_text(listing: Listing) -> str:
    left = f", ~{listing.left_s:.0f} s left" if listing.left_s is not None else ""
    return f"page {listing.pages}/{listing.total_pages}{left}"


def render_table(snap: Snapshot, pairs_per_row: int = 2) -> Group:
    """The live display: a heading, the tables' rows (two tables a line, so two dozen fit a small
    terminal), then requests, waits and the listings' estimates."""
    cells = [(name, f"{rows:,}") for name, rows in sorted(snap.rows.items())]
    cells += [(f"[dim]{name.lower()}[/dim]", f"{count:,}" + (f"/{total:,}" if total else ""))
              for name, (count, total) in snap.counters.items()]
    table = Table(show_edge=False, box=None, pad_edge=False)
    for _ in range(pairs_per_row):
        table.add_column("table")
        table.add_column("rows", justify="right")
    for start in range(0, len(cells), pairs_per_row):
        line = cells[start:start + pairs_per_row]
        line += [("", "")] * (pairs_per_row - len(line))
        table.add_row(*(text for cell in line for text in cell))
    footer = [f"requests {snap.requests:,}, waiting for Harvest's rate limit {snap.waited_s:.1f} s"]
    footer += [f"{item.path}: {_listing_text(item)}" for item in snap.listings]
    return Group(Text(f"Harvest load: {snap.step}, {snap.elapsed_s:.0f} s", style="bold"), table,
                 Text("\n".join(footer), style="dim"))


def plain_line(snap: Snapshot) -> str:
    """The same figures on one line, for logs."""
    rows = ", ".join(f"{name} {count:,}" for name, count in sorted(snap.rows.items())) or "no rows yet"
    counters = "".join(f"; {name.lower()} {c:,}" + (f"/{t:,}" if t else "") for name, (c, t) in snap.counters.items())
    listings = "".join(f"; {item.path} {_listing_text(item)}" for item in snap.listings)
    return (f"progress ({snap.step}, {snap.elapsed_s:.0f} s): {rows}{counters}; requests {snap.requests:,}, "
            f"waiting for rate limit {snap.waited_s:.1f} s{listings}")


class PeriodicLog:
    """Logs ``plain_line`` every ``period_s`` from a daemon thread until stopped."""

    def __init__(self, progress: RunProgress, period_s: float = PROGRESS_LOG_PERIOD_S) -> None:
        self.progress = progress
        self.period_s = period_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="harvest-progress", daemon=True)

    def tick(self) -> None:
        log.info("%s", plain_line(self.progress.snapshot()))

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            self.tick()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def shown(progress: RunProgress, console: Console | None = None,
          period_s: float = PROGRESS_LOG_PERIOD_S) -> Iterator[None]:
    """Show ``progress`` while the block runs: live on a terminal, periodic log lines otherwise."""
    console = console or Console(stderr=True)
    if console.is_terminal:
        with Live(console=console, refresh_per_second=PROGRESS_REFRESH_PER_S, transient=False,
                  get_renderable=lambda: render_table(progress.snapshot())):
            yield
        return
    ticker = PeriodicLog(progress, period_s)
    ticker.start()
    try:
        yield
    finally:
        ticker.stop()
