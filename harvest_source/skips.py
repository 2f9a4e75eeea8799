"""What a resource does with an error: a 403 skips its tables (or fails in strict mode), anything else
fails the whole run at once.

Both write to the run's ``RunReport``: skipped tables with their reason, and the first failure, whose
stop signal ends the client's other requests (retries, back-offs) instead of minutes later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import HarvestPermissionError
from .report import RunReport

log = logging.getLogger("harvest_source")


class RunGuard:
    """Turns the errors leaving a resource into the run's skips and failure."""

    def __init__(self, report: RunReport, strict: bool) -> None:
        self.report, self.strict = report, strict

    @contextmanager
    def fails_the_run(self) -> Iterator[None]:
        """An error leaving a resource fails the whole run (dlt stops at the first): record it and stop
        the client, so other resources' retries and back-offs end now instead of minutes later."""
        try:
            yield
        except Exception as error:  # GeneratorExit (dlt closing a finished or limited resource) passes
            self.report.failed(error)
            raise

    def skip(self, tables: list[str], error: HarvestPermissionError, permission: str) -> None:
        """A 403: warn and leave the tables out (or fail in strict mode)."""
        if self.strict:
            raise error
        reason = f"Harvest answered 403 on {error.path}: needs {permission}"
        for table in tables:
            log.warning("Skipping %s: %s. Use a token with that role, or leave it out with --resources.",
                        table, reason)
            self.report.skip(table, reason)
