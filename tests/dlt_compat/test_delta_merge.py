"""What ``dlt_compat.delta_merge`` relies on in dlt 1.31 (the behaviour itself: ``tests/test_delta.py``)."""

from __future__ import annotations

import pytest

pytest.importorskip("deltalake", reason="the delta extra is not installed")

from dlt.destinations.impl.filesystem.filesystem import DeltaLoadFilesystemJob, FilesystemClient  # noqa: E402

from harvest_source.dlt_compat.delta_merge import (  # noqa: E402
    DeltaDeleteInsertJob,
    DeltaMergeClient,
    delta_filesystem,
)


def test_dlt_still_has_the_hooks_the_delta_merge_overrides():
    assert FilesystemClient.get_reference_followup_job_class({"table_format": "delta"}) is DeltaLoadFilesystemJob
    assert DeltaMergeClient.get_reference_followup_job_class({"table_format": "delta"}) is DeltaDeleteInsertJob
    assert callable(FilesystemClient.get_reference_followup_job_requests)
    assert callable(FilesystemClient.load_open_table) and callable(FilesystemClient.get_open_table_location)


def test_delete_insert_is_offered_on_delta_tables_only_and_the_destination_reads_as_filesystem():
    destination = delta_filesystem(bucket_url="file:///tmp/unused")
    assert destination.destination_name == "filesystem"
    assert destination.destination_type == "dlt.destinations.filesystem"
    caps = destination.capabilities()
    pick = caps.merge_strategies_selector
    assert pick(caps.supported_merge_strategies, table_schema={"table_format": "delta"})[0] == "delete-insert"
    assert pick(caps.supported_merge_strategies, table_schema={}) == []  # plain files append, as in dlt
