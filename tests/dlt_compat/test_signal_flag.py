"""dlt_compat.signals: dlt's received-signal flag stops dlt at its next check (dlt 1.31).

``harvest_source.interrupts`` relies on it: a Ctrl-C whose KeyboardInterrupt Python drops still ends
the run, because the handler set dlt's flag first."""

from __future__ import annotations

import signal
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from harvest_source.dlt_compat.signals import (
    SignalReceivedException,
    clear_signal,
    mark_signal,
    raise_if_signalled,
)
from harvest_source.summary import in_chain


@pytest.fixture(autouse=True)
def _clear_flag():
    clear_signal()
    yield
    clear_signal()


def test_a_marked_signal_raises_at_dlts_next_check_and_clearing_it_ends_that():
    raise_if_signalled()  # nothing marked: no raise
    mark_signal(signal.SIGINT)
    with pytest.raises(SignalReceivedException):
        raise_if_signalled()
    clear_signal()
    raise_if_signalled()


def test_a_marked_signal_stops_an_extract_at_the_next_item(tmp_path: Path):
    """dlt checks its flag at every extracted item: the extract fails there, with the signal in its chain."""
    seen: list[int] = []

    @dlt.resource(name="items")
    def items():
        for i in range(100):
            seen.append(i)
            if i == 3:
                mark_signal(signal.SIGINT)
            yield {"id": i}

    pipeline = dlt.pipeline(pipeline_name="signals", destination=dlt.destinations.duckdb(str(tmp_path / "s.duckdb")),
                            dataset_name="data", pipelines_dir=str(tmp_path / "pipelines"))
    with pytest.raises(PipelineStepFailed) as failed:
        pipeline.extract(items())
    assert in_chain(failed.value, (SignalReceivedException,)) is not None
    assert len(seen) < 100  # it stopped at the item after the signal, not at the end
