"""Logging tweaks for runs: keep dlt's warnings that mean something, drop the known noise."""

from __future__ import annotations

import logging

from .catalog import ENDPOINTS
from .dlt_compat.log_text import null_object_columns


def _flattened_objects() -> set[str]:
    """Nested objects we type through their flattened columns (``invoice`` from ``invoice__id``)."""
    names = {column.split("__")[0] for e in ENDPOINTS for column in e.columns if "__" in column}
    names |= {column.split("__")[0] for e in ENDPOINTS for cols in e.nested.values() for column in cols}
    return names


class NullObjectNoise(logging.Filter):
    """dlt warns when a nullable object (``invoice``, ``receipt``) is null in a whole load; we
    already typed its ``invoice__id``-style columns, so that warning says nothing useful."""

    def __init__(self) -> None:
        super().__init__()
        self._known = _flattened_objects()

    def filter(self, record: logging.LogRecord) -> bool:
        listed = null_object_columns(record.getMessage())
        return not listed or not listed <= self._known


def quiet_known_dlt_noise() -> None:
    logging.getLogger("dlt").addFilter(NullObjectNoise())
