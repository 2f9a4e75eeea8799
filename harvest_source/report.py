"""What happened during a run that the load info does not tell: skips, request counts, and the first
error, which stops the run's other requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .errors import HarvestRunStopped


@dataclass
class RunReport:
    """Collects resources skipped for lack of permission (and why), thread-safely, and
    the client's request statistics (the source sets them when it makes its client).

    ``stop`` is the run's stop signal, shared with its client: once set, no request is sent and every
    retry back-off and pacer wait ends at once. It is set by the first error that fails the run
    (``failed``) and when the run is over, so threads still retrying an endpoint never keep a failed
    run's process alive for minutes."""

    skipped: dict[str, str] = field(default_factory=dict)
    client_stats: Any = None
    first_error: BaseException | None = None
    interrupted: int = 0  # the first Ctrl-C or SIGTERM of the run (``interrupts.marked_on_signal``)
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
