"""A dlt progress collector that hands dlt's counts to a plain object of ours.

Why a workaround: dlt's ``Collector`` (the type ``dlt.pipeline(progress=...)`` accepts) has two abstract
methods with private names, ``_start(step)`` and ``_stop()``, that a subclass must implement, and dlt
calls ``update(name, inc, total, inc_total, ...)`` with a table's name and its new rows while it extracts
("Extract <source>"), then per file and job while it normalizes and loads. This adapter is the only place
that knows those names; tests/dlt_compat/test_progress.py fails if dlt changes them.
"""

from __future__ import annotations

from typing import Protocol

from dlt.common.runtime.collector_base import Collector


class ProgressSink(Protocol):
    """What the adapter tells: a step began, a counter moved, the step ended."""

    def step_started(self, step: str) -> None: ...

    def counted(self, name: str, inc: int, total: int | None, inc_total: int | None) -> None: ...

    def step_ended(self) -> None: ...


class SinkCollector(Collector):
    """dlt's collector interface over a ``ProgressSink`` (labelled sub-counters are ignored)."""

    def __init__(self, sink: ProgressSink) -> None:
        self.sink = sink
        self.step = ""

    def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
               message: str | None = None, label: str | None = None) -> None:
        if not label:
            self.sink.counted(name, inc, total, inc_total)

    def _start(self, step: str) -> None:
        self.sink.step_started(step)

    def _stop(self) -> None:
        self.sink.step_ended()
