"""dlt_compat/log_route.py relies on dlt reusing the first handler of its ``dlt`` logger when it sets
up logging: this fails if a dlt upgrade adds its own handler (a second log format) instead."""

from __future__ import annotations

import io
import logging

import dlt
from dlt.common import logger as dlt_logger
from dlt.common.configuration.container import Container
from dlt.common.configuration.specs.pluggable_run_context import PluggableRunContext

from harvest_source.dlt_compat.log_route import ToRootHandlers, route_dlt_logs


def test_dlt_records_come_out_once_in_the_root_handlers_format(tmp_path):
    stream = io.StringIO()
    ours = logging.StreamHandler(stream)
    ours.setFormatter(logging.Formatter("OURS %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    dlt_log = logging.getLogger("dlt")
    saved = (list(dlt_log.handlers), dlt_log.propagate)
    root.addHandler(ours)
    try:
        route_dlt_logs()
        dlt.pipeline(pipeline_name="compat_logs", destination="duckdb", pipelines_dir=str(tmp_path))
        Container()[PluggableRunContext].initialize_runtime()  # dlt sets up its logger (again)
        dlt_logger.warning("a dlt warning")
        assert [type(h) for h in dlt_log.handlers] == [ToRootHandlers]
        assert stream.getvalue() == "OURS WARNING dlt: a dlt warning\n"
    finally:
        root.removeHandler(ours)
        for handler in list(dlt_log.handlers):
            dlt_log.removeHandler(handler)
        for handler in saved[0]:
            dlt_log.addHandler(handler)
        dlt_log.propagate = saved[1]
