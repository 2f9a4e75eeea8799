"""What happened during a run that the load info does not tell: skips and request counts."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunReport:
    """Collects resources skipped for lack of permission (and why), thread-safely, and
    the client's request statistics (the source sets them when it makes its client)."""

    skipped: dict[str, str] = field(default_factory=dict)
    client_stats: Any = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def skip(self, table: str, reason: str) -> None:
        with self._lock:
            self.skipped.setdefault(table, reason)
