"""Which module reads and changes the deletion pass's rows in a pipeline's destination: ``warehouse_rows``
(SQL databases), ``delta_rows`` (Delta tables on the filesystem destination), or none (plain parquet files,
which cannot change a row). Both modules offer the same functions: ``existing_tables``, ``read_rows``,
``delete_rows``, ``mark_rows``, ``mark_row_ids``, ``add_soft_column``."""

from __future__ import annotations

from types import ModuleType

import dlt

from . import delta_rows, warehouse_rows


def row_backend(pipeline: dlt.Pipeline) -> ModuleType | None:
    """The module whose functions change this pipeline's rows; None when its tables cannot be changed."""
    if warehouse_rows.sql_destination(pipeline):
        return warehouse_rows
    if delta_rows.delta_destination(pipeline):
        return delta_rows
    return None


__all__ = ["row_backend"]
