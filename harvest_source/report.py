"""What a run of the source learned that dlt's load info does not tell: skips, request counts, and the
first error, which stops the run's other requests.

The source writes into a ``RunReport`` while it extracts (threads, fan-out tasks); whoever runs it reads
one typed, frozen ``RunOutcome`` at the end (``RunReport.outcome()``), never the mutable fields.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from .errors import HarvestRunStopped


class RequestStats(Protocol):
    """The client's counters, as the report reads them (``ClientStats``)."""

    def snapshot(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RunOutcome:
    """One run's findings, read once it is over (or live, for progress)."""

    skipped: Mapping[str, str] = field(default_factory=dict)  # table -> why (a 403 and the role it needs)
    first_error: BaseException | None = None  # the error that failed the run, never a request it stopped
    interrupted: int = 0  # the signal number of the first Ctrl-C or SIGTERM, 0 if none
    requests: int = 0
    retries: int = 0
    throttled: int = 0  # 429 answers
    waited_s: float = 0.0  # time spent waiting for the rate limit
    stats: Mapping[str, Any] = field(default_factory=dict)  # the client's whole snapshot
    reports_pending: int = 0  # report periods carried to the next run (the reports rate budget ran out)


@dataclass
class RunReport:
    """Collects, thread-safely, what the source's resources and client meet during one run.

    ``stop`` is the run's stop signal, shared with its client: once set, no request is sent and every
    retry back-off and pacer wait ends at once. It is set by the first error that fails the run
    (``failed``) and when the run is over, so threads still retrying an endpoint never keep a failed
    run's process alive for minutes."""

    skipped: dict[str, str] = field(default_factory=dict)
    client_stats: RequestStats | None = None
    first_error: BaseException | None = None
    interrupted: int = 0  # the first Ctrl-C or SIGTERM of the run (``marked_on_signal``)
    reports_pending: dict[str, int] = field(default_factory=dict)  # report table -> periods carried
    # the source's ``deletion_pass.DeletionPlan`` (None: deletes off), for the pass after the load
    deletions: Any = None
    stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def failed(self, error: BaseException) -> None:
        """An error is failing the run: remember the first one (not a request it stopped) and stop the rest."""
        with self._lock:
            if self.first_error is None and not isinstance(error, HarvestRunStopped):
                self.first_error = error
        self.stop.set()

    def skip(self, table: str, reason: str) -> None:
        with self._lock:
            self.skipped.setdefault(table, reason)

    def pending(self, table: str, periods: int) -> None:
        """``periods`` of report ``table`` did not fit this run's reports budget: the next run reads them."""
        with self._lock:
            self.reports_pending[table] = periods

    def outcome(self) -> RunOutcome:
        """A frozen copy of what the run learned so far."""
        stats = self.client_stats.snapshot() if self.client_stats is not None else {}
        with self._lock:
            skipped = MappingProxyType(dict(self.skipped))
            first_error = self.first_error
            pending = sum(self.reports_pending.values())
        return RunOutcome(
            skipped=skipped,
            first_error=first_error,
            interrupted=self.interrupted,
            requests=int(stats.get("requests", 0)),
            retries=int(stats.get("retries", 0)),
            throttled=int(stats.get("throttled", 0)),
            waited_s=float(stats.get("waited_s", 0.0)),
            stats=MappingProxyType(stats),
            reports_pending=pending,
        )
