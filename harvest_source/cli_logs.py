"""The command's logging: one format for our records and dlt's, one line per request with ``-v``."""

from __future__ import annotations

import logging
import sys

from .dlt_compat.log_route import route_dlt_logs
from .logs import quiet_known_dlt_noise

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that log every connection step at DEBUG (about eight lines per request) or every request at
# INFO: the client writes one line per request itself (method, path, status, ms).
CHATTY_LOGGERS = ("httpx", "httpcore", "urllib3", "asyncio", "filelock", "fsspec")


class CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time, so that a live progress display, which
    redirects stderr while it draws, prints log lines above itself instead of through its drawing."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(verbose: bool = False) -> None:
    """Root handler in our format; ``verbose``: our DEBUG records (each request), no one else's."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, CurrentStderrHandler):
            root.removeHandler(handler)
    handler = CurrentStderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("harvest_source").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    route_dlt_logs()
    quiet_known_dlt_noise()
