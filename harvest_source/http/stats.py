"""Request counters of one client, shared by its threads: what benchmarks, the run summary and the
live progress display read.

They live apart from the transport that counts most of them because the paging layer counts too
(``listings``: pages read of each list and the ``total_pages`` Harvest announced), and readers
only ever want a consistent copy (``snapshot``), never the live object's fields one by one.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClientStats:
    """Thread-safe counters that benchmarks, the run summary and the progress display read."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    transport_errors: int = 0
    waited_s: float = 0.0
    listings: dict[str, dict[str, int | None]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        """Add to counters atomically: ``stats.add(requests=1, waited_s=0.3)``."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def count_status(self, status: int) -> None:
        """Count one response by HTTP status."""
        with self._lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    def count_page(self, path: str, envelope: Mapping[str, Any]) -> None:
        """Count one page read of the list at ``path``, with the ``total_pages`` its envelope announces."""
        total = envelope.get("total_pages")
        total = total if isinstance(total, int) and not isinstance(total, bool) else None
        with self._lock:
            listing = self.listings.setdefault(path, {"pages": 0, "total_pages": None})
            listing["pages"] = (listing["pages"] or 0) + 1
            if total is not None:
                listing["total_pages"] = total

    def snapshot(self) -> dict[str, Any]:
        """A consistent plain-dict copy, safe to print or compare."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled": self.throttled,
                "by_status": dict(self.by_status),
                "transport_errors": self.transport_errors,
                "waited_s": self.waited_s,
                "listings": {path: dict(listing) for path, listing in self.listings.items()},
            }


__all__ = ["ClientStats"]
