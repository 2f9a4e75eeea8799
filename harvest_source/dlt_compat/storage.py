"""dlt's working folders, as recovery from a killed run needs them (dlt 1.31).

dlt keeps a pipeline's packages under ``<pipelines_dir>/<name>/normalize`` (extracted packages, and
each extract's temporary folder, named by 16 random hex characters until the extract commits) and
``.../load`` (normalized, loading and completed packages). The pipeline reaches them only through
private methods; these functions are the one place that calls them.
"""

from __future__ import annotations

import re
from pathlib import Path

import dlt
from dlt.common.storages import LoadStorage, NormalizeStorage

# dlt's name for an extract's temporary folder: ExtractStorage.new_packages_folder = uniq_id(8)
EXTRACT_FOLDER_NAME = re.compile(r"[0-9a-f]{16}")


def complete_storage_folders(pipeline: dlt.Pipeline) -> None:
    """dlt's ``normalize`` and ``load`` storages made whole where a killed run left them half created
    (dlt lists them without creating; as their owner it creates what is missing, keeps what is there)."""
    normalize, load = pipeline._normalize_storage_config(), pipeline._load_storage_config()
    if Path(normalize.normalize_volume_path).is_dir():
        NormalizeStorage(True, normalize)
    if Path(load.load_volume_path).is_dir():
        LoadStorage(True, [], load)


def unfinished_extract_folders(pipeline: dlt.Pipeline) -> list[Path]:
    """The temporary folders of extracts that never committed, oldest name first."""
    root = Path(pipeline._get_normalize_storage().storage.storage_path)
    if not root.is_dir():
        return []
    return [child for child in sorted(root.iterdir()) if child.is_dir() and EXTRACT_FOLDER_NAME.fullmatch(child.name)]


def delete_extracted_package(pipeline: dlt.Pipeline, load_id: str) -> None:
    """Remove an extracted package (its normalized twin exists already)."""
    pipeline._get_normalize_storage().extracted_packages.delete_package(load_id)


def unrecorded_load_jobs(pipeline: dlt.Pipeline, load_id: str) -> list[str]:
    """Load jobs of a normalized package that started and recorded no outcome (a pending transition)."""
    packages = pipeline._get_load_storage().normalized_packages
    return [
        job for job in packages.list_started_jobs(load_id)
        if packages.load_pending_transition(load_id, Path(job).name) is None
    ]


def carries_current_state(pipeline: dlt.Pipeline, load_id: str) -> bool:
    """Whether package ``load_id`` carried the pipeline's current local state (its version hash): after an
    abort, dlt rewinds the local state to before the package; if it still is the carried one, it did not."""
    carried = (pipeline.get_load_package_state(load_id).get("pipeline_state") or {}).get("version_hash")
    return bool(carried) and carried == pipeline.state.get("_version_hash")


__all__ = [
    "EXTRACT_FOLDER_NAME",
    "carries_current_state",
    "complete_storage_folders",
    "delete_extracted_package",
    "unfinished_extract_folders",
    "unrecorded_load_jobs",
]
