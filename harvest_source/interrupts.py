"""Ctrl-C and SIGTERM during a run: the run is marked interrupted before Python raises anything.

Why: Python raises the KeyboardInterrupt of a Ctrl-C wherever the main thread happens to be. Inside a
finalizer (a generator closed as it is freed, as ``concurrent.futures.as_completed`` is each time dlt
waits for an item) Python prints "Exception ignored" and drops it, and the run goes on to exit 0. So
during a run the handler first sets dlt's own signal flag, which dlt checks at every extracted item
and before it commits a normalized package, and only then hands the signal to the handler that was
there before (a KeyboardInterrupt for Ctrl-C, the command line's for SIGTERM). A dropped interrupt
still ends the run at dlt's next check, as an interrupted run.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from .dlt_compat.signals import clear_signal, mark_signal
from .report import RunReport

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    """For a command-line process: Ctrl-C and SIGTERM stop the run, whatever the process inherited.

    A scheduler's SIGTERM stops a run like Ctrl-C does: the step in progress is abandoned and its state
    rolled back (or, while normalizing and loading, dlt finishes the running jobs), instead of the process
    dying mid-write; either way the next run completes what is left. A parent that ignores SIGINT
    (``nohup ... &``, some CI runners) passes that on, and Python then keeps SIGINT ignored, so Ctrl-C and
    ``kill -INT`` would do nothing and the run would exit 0: SIGINT gets Python's KeyboardInterrupt back.
    Only the main thread can set handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)


@contextmanager
def marked_on_signal(report: RunReport) -> Iterator[None]:
    """For the run inside: record a stopping signal in ``report`` and in dlt's flag, then act as before.

    Only the main thread can handle signals; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before: dict[int, Any] = {sig: signal.getsignal(sig) for sig in STOPPING_SIGNALS}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        original = before[signum]
        if original == signal.SIG_IGN:
            return
        report.interrupted = report.interrupted or signum  # plain assignments: no lock in a handler
        mark_signal(signum)
        if callable(original):
            original(signum, frame)
        else:  # SIG_DFL (or a handler set outside Python): what the signal would have done
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    for sig in STOPPING_SIGNALS:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if report.interrupted:
            clear_signal()  # dlt's flag is global: the next run in this process starts clear


__all__ = ["STOPPING_SIGNALS", "marked_on_signal", "stop_on_signals"]
