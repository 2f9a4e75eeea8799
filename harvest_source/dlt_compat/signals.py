"""dlt's own received-signal flag (``dlt.common.runtime.signals``, dlt 1.31).

dlt checks the flag at every extracted item and before it commits a normalized package, and raises
``SignalReceivedException`` there. Setting it is how our signal handler stops dlt at its next check,
even when Python drops the KeyboardInterrupt (see ``harvest_source.interrupts``).
"""

from __future__ import annotations

from dlt.common.exceptions import SignalReceivedException
from dlt.common.runtime import signals as _dlt_signals


def mark_signal(signum: int) -> None:
    """Tell dlt a stopping signal arrived: its next check raises ``SignalReceivedException``."""
    _dlt_signals.set_received_signal(signum)


def clear_signal() -> None:
    """dlt's flag is process-wide: clear it so the next run in this process starts clean."""
    _dlt_signals.set_received_signal(0)


def raise_if_signalled() -> None:
    """dlt's own check (for tests and for code that wants to stop at the same points)."""
    _dlt_signals.raise_if_signalled()


__all__ = ["SignalReceivedException", "clear_signal", "mark_signal", "raise_if_signalled"]
