"""dlt_compat.storage: what recovery from a killed run reads of dlt's working folders (dlt 1.31).

Each test fails when a dlt upgrade changes what ``harvest_source.recovery`` relies on: the private
storage methods, the name of an extract's temporary folder, the job folders of a package, the state a
package carries."""

from __future__ import annotations

import shutil
from pathlib import Path

import dlt
import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from harvest_source.dlt_compat import storage


def _pipeline(tmp_path: Path, name: str = "compat") -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=name, destination=dlt.destinations.duckdb(str(tmp_path / f"{name}.duckdb")),
        dataset_name="data", pipelines_dir=str(tmp_path / "pipelines"),
    )


@dlt.resource(name="rows", primary_key="id", write_disposition="merge")
def _rows(fail_after: int | None = None):
    state = dlt.current.resource_state()
    state["seen"] = state.get("seen", 0) + 1
    for i in range(4):
        if fail_after is not None and i == fail_after:
            raise RuntimeError("the source failed (a 401, say)")
        yield [{"id": i * 10 + j, "value": f"v{j}"} for j in range(10)]


def test_a_failed_extract_leaves_its_temporary_folder_named_by_16_hex_characters(tmp_path):
    """An extract that raises leaves ``<normalize storage>/<16 hex>/``: recovery removes it by that name."""
    pipeline = _pipeline(tmp_path)
    with pytest.raises(PipelineStepFailed):
        pipeline.extract(_rows(fail_after=2))
    folders = storage.unfinished_extract_folders(pipeline)
    assert len(folders) == 1
    assert storage.EXTRACT_FOLDER_NAME.fullmatch(folders[0].name)
    assert folders[0].parent == Path(pipeline._get_normalize_storage().storage.storage_path)
    assert any(folders[0].rglob("*.*"))  # the half-written files of the extract are in it
    assert pipeline.list_extracted_load_packages() == []  # and no package was committed


def test_a_committed_extract_leaves_no_temporary_folder(tmp_path):
    pipeline = _pipeline(tmp_path)
    pipeline.extract(_rows())
    assert storage.unfinished_extract_folders(pipeline) == []
    assert len(pipeline.list_extracted_load_packages()) == 1


def test_the_private_storage_configs_name_the_folders_and_complete_missing_subfolders(tmp_path):
    """``_normalize_storage_config``/``_load_storage_config`` exist and name the ``normalize`` and ``load``
    folders; creating dlt's storages over a half-made folder completes its subfolders (a kill while dlt
    made them broke every later run's listing)."""
    pipeline = _pipeline(tmp_path)
    pipeline.extract(_rows())
    pipeline.normalize()
    root = Path(pipeline.working_dir)
    assert Path(pipeline._normalize_storage_config().normalize_volume_path) == root / "normalize"
    assert Path(pipeline._load_storage_config().load_volume_path) == root / "load"
    normalized = pipeline.list_normalized_load_packages()
    shutil.rmtree(root / "load" / "loaded", ignore_errors=True)
    shutil.rmtree(root / "normalize" / "extracted")
    storage.complete_storage_folders(pipeline)
    assert (root / "normalize" / "extracted").is_dir() and (root / "load" / "loaded").is_dir()
    assert pipeline.list_extracted_load_packages() == []
    assert pipeline.list_normalized_load_packages() == normalized


def test_delete_extracted_package_removes_the_extracted_copy(tmp_path):
    pipeline = _pipeline(tmp_path)
    pipeline.extract(_rows())
    (load_id,) = pipeline.list_extracted_load_packages()
    storage.delete_extracted_package(pipeline, load_id)
    assert pipeline.list_extracted_load_packages() == []


def test_a_started_job_without_a_pending_transition_reads_as_unrecorded(tmp_path):
    """A job dlt marked started and recorded no outcome for: recovery aborts its package instead of
    running it twice. The job folders and the pending-transition marker are dlt's."""
    pipeline = _pipeline(tmp_path)
    pipeline.extract(_rows())
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    packages = pipeline._get_load_storage().normalized_packages
    assert storage.unrecorded_load_jobs(pipeline, load_id) == []
    job = next(j for j in packages.list_new_jobs(load_id) if Path(j).name.startswith("rows."))
    packages.start_job(load_id, Path(job).name)
    unrecorded = storage.unrecorded_load_jobs(pipeline, load_id)
    assert [Path(j).name for j in unrecorded] == [Path(job).name]
    packages.save_pending_transition(load_id, Path(job).name, "completed")
    assert storage.unrecorded_load_jobs(pipeline, load_id) == []


def test_a_package_carries_the_state_it_was_extracted_with_until_an_abort_rewinds_it(tmp_path):
    """Recovery completes an abort that a kill cut short by comparing the package's carried state hash
    with the local one: equal before the rewind, different after it."""
    pipeline = _pipeline(tmp_path)
    pipeline.run(_rows())
    pipeline.extract(_rows())
    pipeline.normalize()
    (load_id,) = pipeline.list_normalized_load_packages()
    assert storage.carries_current_state(pipeline, load_id)
    pipeline.abort_packages()
    assert pipeline.get_load_package_info(load_id).state == "aborted"
    assert not storage.carries_current_state(pipeline, load_id)
