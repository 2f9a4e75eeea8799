"""dlt_compat/progress.py relies on dlt's Collector interface: these fail if a dlt upgrade changes it."""

from __future__ import annotations

import inspect

import dlt
from dlt.common.runtime.collector_base import Collector

from harvest_source.dlt_compat.progress import SinkCollector


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def step_started(self, step: str) -> None:
        self.events.append(("start", step))

    def counted(self, name: str, inc: int, total: int | None, inc_total: int | None) -> None:
        self.events.append(("count", name, inc))

    def step_ended(self) -> None:
        self.events.append(("end",))


def test_collector_abstract_methods_are_the_three_we_implement():
    assert Collector.__abstractmethods__ == frozenset({"update", "_start", "_stop"})
    params = list(inspect.signature(Collector.update).parameters)
    assert params == ["self", "name", "inc", "total", "inc_total", "message", "label"]


def test_dlt_reports_steps_and_rows_per_table_through_the_adapter(tmp_path):
    recorder = Recorder()

    @dlt.resource(name="widgets")
    def widgets():
        yield [{"id": i} for i in range(7)]

    pipeline = dlt.pipeline(pipeline_name="compat_progress", destination=dlt.destinations.duckdb(
        str(tmp_path / "p.duckdb")), dataset_name="d", pipelines_dir=str(tmp_path / "pipes"),
        progress=SinkCollector(recorder))
    pipeline.run(widgets())
    starts = [e[1] for e in recorder.events if e[0] == "start"]
    kinds = [s.split(" ", 1)[0] for s in starts]  # "Extract <source>", "Normalize ...", "Load ..."
    assert kinds[0] == "Extract" and {"Normalize", "Load"} <= set(kinds) <= {"Extract", "Normalize", "Load"}
    extract = recorder.events[:recorder.events.index(("end",))]
    assert sum(e[2] for e in extract if e[0] == "count" and e[1] == "widgets") == 7
    assert recorder.events.count(("end",)) == len(starts)
