"""dlt_compat.log_text: the text of dlt's "did not receive any data" warning (dlt 1.31).

``harvest_source.logs.NullObjectNoise`` drops that warning for objects we type through flattened
columns; if dlt rewords it, the filter would silently stop filtering (or match the wrong warnings)."""

from __future__ import annotations

import logging
from pathlib import Path

import dlt

from harvest_source.dlt_compat.log_text import null_object_columns
from harvest_source.logs import NullObjectNoise


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_dlts_warning_for_an_always_null_object_lists_it_as_we_parse_it(tmp_path: Path):
    collect = _Collect()
    logger = logging.getLogger("dlt")
    logger.addHandler(collect)
    try:
        pipeline = dlt.pipeline(pipeline_name="nulls", destination=dlt.destinations.duckdb(str(tmp_path / "n.duckdb")),
                                dataset_name="data", pipelines_dir=str(tmp_path / "pipelines"))
        pipeline.run([{"id": 1, "invoice": None}, {"id": 2, "invoice": None}], table_name="expenses")
    finally:
        logger.removeHandler(collect)
    listed = [null_object_columns(r.getMessage()) for r in collect.records]
    assert {"invoice"} in listed, [r.getMessage() for r in collect.records]
    record = next(r for r in collect.records if null_object_columns(r.getMessage()) == {"invoice"})
    assert NullObjectNoise().filter(record) is False  # the filter drops exactly this warning
    assert null_object_columns("some other dlt warning") is None
