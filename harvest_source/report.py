"""What happened during a run that the load info does not tell: skipped resources."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class RunReport:
    """Collects resources skipped for lack of permission (and why), thread-safely."""

    skipped: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def skip(self, table: str, reason: str) -> None:
        with self._lock:
            self.skipped.setdefault(table, reason)
