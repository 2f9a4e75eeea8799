"""dlt's own log records, written in the command's one log format.

Why a workaround: whenever dlt initialises its runtime (a pipeline is made, a config resolved) it sets up
its ``dlt`` logger itself: propagation off, and the logger's FIRST handler reused (a ``StreamHandler`` to
stderr added when there is none) with dlt's own formatter. Its warnings then come out in a second format.
So the ``dlt`` logger gets one handler of ours, first: dlt reuses it and the formatter it sets is ignored;
the handler passes every record on to the root logger's handlers, which write it in our format.
tests/dlt_compat/test_log_route.py fails if dlt stops reusing the first handler.
"""

from __future__ import annotations

import logging

DLT_LOGGER = "dlt"


class ToRootHandlers(logging.Handler):
    """Hands each record to the root logger's handlers (dlt turned propagation off)."""

    def setFormatter(self, fmt: logging.Formatter | None) -> None:  # noqa: N802 (logging's name)
        """dlt sets its formatter on the handler it reuses: keep the root handlers' format instead."""

    def emit(self, record: logging.LogRecord) -> None:
        for handler in logging.getLogger().handlers:
            if record.levelno >= handler.level:
                handler.handle(record)


def route_dlt_logs() -> None:
    """Make the root logger's handlers write dlt's records (idempotent)."""
    logger = logging.getLogger(DLT_LOGGER)
    if any(isinstance(h, ToRootHandlers) for h in logger.handlers):
        return
    for handler in list(logger.handlers):  # one dlt added earlier in this process
        logger.removeHandler(handler)
    logger.addHandler(ToRootHandlers())
