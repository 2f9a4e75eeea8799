"""dlt's ``delete-insert`` merge on Delta tables in the ``filesystem`` destination (dlt 1.31 has no such thing).

Why: dlt 1.31 merges a Delta table only with ``upsert``/``cdc``/``insert-only``, one table at a time. That
misses what this connector's tables need (``rules``): a merge key (a child table's rows are replaced per
parent, a table read whole per account, a report per period), removing a nested row when its list
shrinks or its root row goes, and a listing that repeated a record within one load (Delta's merge fails
when two source rows match one target row). So on Delta this module gives the filesystem destination the
same ``delete-insert`` the SQL destinations run:

1. the loaded root rows are de-duplicated on the primary key, keeping the first by ``dedup_sort`` (the
   newest ``updated_at``);
2. the target rows whose primary key, or whose merge key, a loaded row carries are "replaced"; the nested
   rows whose ``_dlt_root_id`` is one of theirs are deleted, then those root rows;
3. the loaded rows not marked by the ``hard_delete`` column are appended, with their nested rows.

To do it per table chain (a root and its nested tables in one job), ``DeltaMergeClient`` hands the job
of a merged chain all the chain's files, as dlt already does for Iceberg catalogs (``batch_table_chain``).
Tables that append (a first load) or use another strategy go dlt's own way. Each step is its own Delta
commit (Delta has no multi-table transaction): a load killed half way leaves its package pending, and the
job run again recomputes the same replaced rows from the same files, so it ends in the same tables.

Relies on (checked by ``tests/dlt_compat/test_delta_merge.py``): ``FilesystemClient``'s
``get_reference_followup_job_class``/``get_reference_followup_job_requests``, ``DeltaLoadFilesystemJob``
(``file_paths``, ``_load_table``, ``_job_client``), the capability arguments ``supported_merge_strategies``
and ``merge_strategies_selector`` of a destination factory, and dlt's Delta helpers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.schema.typing import TLoaderMergeStrategy
from dlt.common.schema.utils import (
    get_columns_names_with_prop,
    get_dedup_sort_tuple,
    get_first_column_name_with_prop,
    get_nested_tables,
    is_nested_table,
)
from dlt.common.storages.load_package import ParsedLoadJobFileName
from dlt.destinations.impl.filesystem.factory import filesystem, filesystem_merge_strategies_selector
from dlt.destinations.impl.filesystem.filesystem import DeltaLoadFilesystemJob, FilesystemClient
from dlt.destinations.job_impl import ReferenceFollowupJobRequest

from . import ROW_ID

DELETE_INSERT = "delete-insert"
_POSITION = "__harvest_position"
# dlt's filesystem strategies, with delete-insert first: the default of a Delta table that names none
MERGE_STRATEGIES: list[TLoaderMergeStrategy] = [DELETE_INSERT, "upsert", "insert-only", "cdc"]


def delta_merge_strategies(supported: Sequence[TLoaderMergeStrategy], /, *, table_schema: Any) -> Sequence[Any]:
    """dlt's filesystem selector, with ``delete-insert`` on Delta tables only (plain files still append)."""
    selected = filesystem_merge_strategies_selector(supported, table_schema=table_schema)
    if table_schema.get("table_format") == "delta":
        return list(selected)
    return [s for s in selected if s != DELETE_INSERT]


def delta_filesystem(**kwargs: Any) -> filesystem:
    """dlt's ``filesystem`` destination whose Delta tables merge with ``delete-insert`` (see the module doc).

    ``kwargs`` go to ``dlt.destinations.filesystem`` (``destination_name``, ``bucket_url``, ...)."""
    return DeltaMergeFilesystem(supported_merge_strategies=MERGE_STRATEGIES,
                                merge_strategies_selector=delta_merge_strategies, **kwargs)


class DeltaMergeFilesystem(filesystem):
    """The filesystem factory with ``DeltaMergeClient``; it keeps dlt's type, so it reads as ``filesystem``."""

    @property
    def destination_type(self) -> str:
        return filesystem().destination_type

    @property
    def client_class(self) -> type[FilesystemClient]:
        return DeltaMergeClient


class DeltaMergeClient(FilesystemClient):
    """Runs a merged Delta chain in one job (``DeltaDeleteInsertJob``) that gets every file of the chain."""

    @staticmethod
    def get_reference_followup_job_class(table: Any) -> Any:
        cls = FilesystemClient.get_reference_followup_job_class(table)
        return DeltaDeleteInsertJob if cls is DeltaLoadFilesystemJob else cls

    def get_reference_followup_job_requests(self, table_chain: Sequence[Any],
                                            completed_table_chain_jobs: Any) -> list[ReferenceFollowupJobRequest]:
        if not table_chain or not deletes_and_inserts(table_chain[0]):
            return super().get_reference_followup_job_requests(table_chain, completed_table_chain_jobs)
        order = {t["name"]: i for i, t in enumerate(table_chain)}
        jobs = [j for j in completed_table_chain_jobs or () if j.job_file_info.table_name in order]
        jobs.sort(key=lambda j: order[j.job_file_info.table_name])
        if not jobs or jobs[0].job_file_info.table_name != table_chain[0]["name"]:
            return super().get_reference_followup_job_requests(table_chain, completed_table_chain_jobs)
        paths = [j.file_path for j in jobs]
        return [ReferenceFollowupJobRequest(ParsedLoadJobFileName.parse(paths[0]).file_name(), paths)]


def deletes_and_inserts(table: Any) -> bool:
    """A root Delta table merged with ``delete-insert`` (its prepared load schema)."""
    return (table.get("table_format") == "delta" and table.get("write_disposition") == "merge"
            and table.get("x-merge-strategy") == DELETE_INSERT and not is_nested_table(table))


class DeltaDeleteInsertJob(DeltaLoadFilesystemJob):
    """``delete-insert`` for a root Delta table and its nested tables; anything else as dlt does it."""

    def run(self) -> None:
        if not deletes_and_inserts(self._load_table):
            super().run()
            return
        client = self._job_client
        files: dict[str, list[str]] = {}
        for path in self.file_paths:
            files.setdefault(ParsedLoadJobFileName.parse(path).table_name, []).append(path)
        chain = get_nested_tables(client.schema.tables, self._load_table["name"])
        root, nested = self._load_table, [client.prepare_load_table(t["name"]) for t in chain[1:]]
        rows, kept_ids = _root_rows(root, read_files(files.get(root["name"], [])))
        target = self._open(root["name"])
        replaced = replaced_row_ids(target, rows, root) if target is not None else pa.array([], pa.string())
        for table in nested:  # children first: a job run again after a kill still finds their roots
            self._delete(self._open(table["name"]), table, root_key(table), replaced)
        self._delete(target, root, ROW_ID, replaced)
        self._append(target, root, rows.kept if rows is not None else None)
        for table in nested:
            loaded = read_files(files.get(table["name"], []))
            if loaded is not None:
                loaded = loaded.filter(pc.is_in(loaded[root_key(table)], value_set=kept_ids))
                self._append(self._open(table["name"]), table, loaded)

    def _open(self, name: str) -> Any:
        try:
            return self._job_client.load_open_table("delta", name)
        except DestinationUndefinedEntity:
            return None

    def _delete(self, table: Any, schema: Any, column: str, ids: pa.Array) -> None:
        """Deletes the rows of ``table`` whose ``column`` is one of ``ids`` (one Delta commit)."""
        if table is None or len(ids) == 0:
            return
        source = pa.table({column: ids})
        (table.merge(source=source, predicate=f"target.{column} = source.{column}", source_alias="source",
                     target_alias="target", streamed_exec=False)
         .when_matched_delete().execute())

    def _append(self, table: Any, schema: Any, rows: pa.Table | None) -> None:
        """Appends ``rows`` (creates the table when absent, even with no rows: dlt's Delta tables exist once
        loaded), evolving the table's columns as dlt's own Delta jobs do."""
        from dlt.common.libs.deltalake import deltalake_storage_options, write_delta_table

        if rows is None:
            return
        if table is not None and rows.num_rows == 0:
            return
        client = self._job_client
        write_delta_table(
            table_or_uri=table if table is not None else client.get_open_table_location("delta", schema["name"]),
            data=rows,
            write_disposition="append",
            partition_by=get_columns_names_with_prop(schema, "partition"),
            storage_options=deltalake_storage_options(client.config.credentials,
                                                      client.config.deltalake_storage_options),
            configuration=client.config.deltalake_configuration,
        )


def read_files(paths: Sequence[str]) -> pa.Table | None:
    """One table's load files as one Arrow table (None: no file); a column a later file added is null before."""
    if not paths:
        return None
    tables = [pq.read_table(p) for p in paths]
    return pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]


def root_key(table: Any) -> str:
    """A nested table's column naming its root row (``_dlt_root_id``: dlt adds it to every merged chain)."""
    name = get_first_column_name_with_prop(table, "root_key")
    if name is None:
        raise ValueError(f"nested table {table['name']} has no root key column; a delete-insert chain needs one")
    return name


class _Loaded:
    """The loaded root rows: ``all`` of them (their keys replace) and the ``kept`` ones (inserted)."""

    def __init__(self, all_rows: pa.Table, kept: pa.Table) -> None:
        self.all, self.kept = all_rows, kept


def _root_rows(table: Any, rows: pa.Table | None) -> tuple[_Loaded | None, pa.Array]:
    """The root rows to insert (de-duplicated, ``hard_delete`` ones out) and their row ids (for nested rows).

    ``rows`` still carries the deleted and repeated rows for ``replaced_row_ids``: as in SQL, every loaded
    row replaces its keys; only the kept ones are inserted."""
    if rows is None:
        return None, pa.array([], pa.string())
    unique = dedup(rows, get_columns_names_with_prop(table, "primary_key"), get_dedup_sort_tuple(table))
    deleted = hard_deleted(unique, get_first_column_name_with_prop(table, "hard_delete"))
    if deleted is not None:
        unique = unique.filter(pc.invert(deleted))
    return _Loaded(rows, unique), unique[ROW_ID].combine_chunks()


def dedup(rows: pa.Table, key: Sequence[str], sort: tuple[str, str] | None) -> pa.Table:
    """One row per ``key``: the first by ``sort`` (column, "asc"/"desc"), else the last loaded; order kept."""
    if not key or rows.num_rows == 0:
        return rows
    numbered = rows.select(list(key)).append_column(_POSITION, pa.array(range(rows.num_rows), pa.int64()))
    order: list[tuple[str, str]] = []
    if sort is not None and sort[0] in rows.column_names:
        numbered = numbered.append_column("__sort", rows[sort[0]])
        order.append(("__sort", "descending" if sort[1] == "desc" else "ascending"))
    order.append((_POSITION, "descending"))
    ranked = numbered.take(pc.sort_indices(numbered, sort_keys=order))
    first = ranked.group_by(list(key), use_threads=False).aggregate([(_POSITION, "first")])
    positions = first[f"{_POSITION}_first"]
    return rows.take(positions.take(pc.sort_indices(positions)))


def hard_deleted(rows: pa.Table, column: str | None) -> pa.Array | None:
    """Which rows the ``hard_delete`` column marks (a true bool, or any value in a column of another type)."""
    if column is None or column not in rows.column_names:
        return None
    values = rows[column]
    if pa.types.is_boolean(values.type):
        return pc.fill_null(values, False)
    return pc.is_valid(values)


def replaced_row_ids(target: Any, rows: Any, table: Any) -> pa.Array:
    """The ``_dlt_id`` of the target rows a loaded row replaces: same primary key, or same merge key."""
    if rows is None:
        return pa.array([], pa.string())
    loaded: pa.Table = rows.all
    keys = [k for k in (get_columns_names_with_prop(table, "primary_key"),
                        get_columns_names_with_prop(table, "merge_key")) if k]
    present = set(target.schema().to_arrow().names) if hasattr(target.schema(), "to_arrow") else set()
    columns = sorted({c for key in keys for c in key} | {ROW_ID})
    if not keys or any(c not in present for c in columns):
        return pa.array([], pa.string())
    stored = target.to_pyarrow_dataset().to_table(columns=columns)
    found: list[pa.Array] = []
    for key in keys:
        wanted = loaded.select(key).drop_null().group_by(key).aggregate([])  # distinct, NULL matches nothing
        wanted = wanted.cast(pa.schema([stored.schema.field(c) for c in key]))
        hit = stored.select([*key, ROW_ID]).join(wanted, keys=list(key), join_type="left semi")
        found.append(hit[ROW_ID].combine_chunks())
    ids = pa.concat_arrays(found) if found else pa.array([], pa.string())
    return pc.unique(ids)
