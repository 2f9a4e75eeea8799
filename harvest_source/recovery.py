"""Finish or rewind what an earlier run left in the pipeline's working folder, before extracting anew.

dlt saves the cursors locally when extract ends, so a package left behind must be loaded or rewound,
never dropped. What a kill leaves depends on the moment (tests/test_reliability_crash.py kills at each):

* an extracted or normalized package, not loading yet: load it, its cursors match its rows;
* killed between normalize's commit and its clean-up: the package is in the load folder and its
  extracted copy is stale; normalizing the copy again would fail on every later run;
* killed while loading, with load jobs that started but have no recorded outcome: dlt would run them
  again, and a job whose rows were already copied into the staging dataset copies them twice, which the
  merge then inserts twice (duplicate rows). Abort the package instead: dlt rewinds the cursors to
  before it and this run reads those changes from Harvest again;
* killed during such an abort, after the package was archived but before the rewind: rewind;
* killed while extracting: nothing was committed (no package, no cursor), but the half-written files
  stay in a temporary folder dlt never looks at again; remove them;
* killed while dlt created its ``normalize`` or ``load`` folder: some of their subfolders are missing,
  and listing packages then fails on every later run; create them.

A run that fails by itself (a 401, say) removes its own unfinished extract (``discard_failed_extract``),
so the next run's warning about a killed run's files means a kill. dlt's private storage access lives in
``dlt_compat.storage``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Mapping

import dlt

from .dlt_compat import storage
from .dlt_compat.empty_tables import has_stored_state, tables_lacking_column
from .errors import HarvestConfigError
from .rules import ACCOUNT

log = logging.getLogger("harvest_source")


def finish_pending(pipeline: dlt.Pipeline, count_rows: Callable[[], Mapping[str, int]]) -> dict[str, int]:
    """Recover what an earlier run left; returns the rows per table a pending package loaded now ({} if none).

    ``count_rows`` counts the destination's rows per table: used when the package was normalized by the
    earlier run, whose row counts died with it (then the figure is the rows the package added)."""
    storage.complete_storage_folders(pipeline)
    _drop_abandoned_extracts(pipeline)
    _drop_stale_extracted_copies(pipeline)
    _finish_interrupted_abort(pipeline)
    interrupted = _interrupted_load_jobs(pipeline)
    if interrupted:
        log.warning(
            "An earlier run was stopped while loading (%d load job(s) with no recorded outcome); "
            "aborting that load and rewinding its cursors, so this run reads those changes again",
            len(interrupted),
        )
        pipeline.abort_packages()
    extracted, normalized = pipeline.list_extracted_load_packages(), pipeline.list_normalized_load_packages()
    if not extracted and not normalized:
        return {}
    log.warning("Finishing a load left pending by an earlier run before extracting new data")
    before = dict(count_rows()) if normalized else {}
    pipeline.normalize()
    info = pipeline.last_trace.last_normalize_info if pipeline.last_trace and extracted else None
    pipeline.load()
    if info is not None and info.row_counts and not normalized:
        counted = dict(info.row_counts)
    else:  # normalized by the earlier run: what the load added is what the destination gained
        after = count_rows()
        counted = {t: n - before.get(t, 0) for t, n in after.items() if n != before.get(t, 0)}
    return {t: n for t, n in sorted(counted.items()) if not t.startswith("_dlt") and n > 0}


def discard_failed_extract(pipeline: dlt.Pipeline) -> None:
    """This run's extract failed (an error, or a signal): its temporary folder holds only half-written
    files dlt never reads again. Remove it now, so the next run does not take it for a killed run's."""
    for folder in storage.unfinished_extract_folders(pipeline):
        log.debug("removing the unfinished extract of this failed run (%s)", folder.name)
        shutil.rmtree(folder, ignore_errors=True)


def _drop_abandoned_extracts(pipeline: dlt.Pipeline) -> None:
    """The temporary folders of extracts that never committed. Nothing else extracts into this working
    folder now (runs of one pipeline must not overlap), and a failed run removes its own: a kill left these."""
    for folder in storage.unfinished_extract_folders(pipeline):
        log.warning("Removing the files of an extract that a killed run left unfinished (%s)", folder.name)
        shutil.rmtree(folder, ignore_errors=True)


def _drop_stale_extracted_copies(pipeline: dlt.Pipeline) -> None:
    """Extracted packages whose normalized package exists already (normalize was killed after it
    moved the package on, before deleting the extracted copy)."""
    extracted = set(pipeline.list_extracted_load_packages())
    done = set(pipeline.list_normalized_load_packages()) | set(pipeline.list_completed_load_packages())
    for load_id in sorted(extracted & done):
        log.warning("Removing the already normalized copy of package %s left by a killed run", load_id)
        storage.delete_extracted_package(pipeline, load_id)


def _interrupted_load_jobs(pipeline: dlt.Pipeline) -> list[str]:
    """Load jobs of the package being loaded that started and recorded no outcome: the process
    died while they ran, so whether the destination committed them is unknown."""
    normalized = pipeline.list_normalized_load_packages()
    if not normalized:
        return []
    return storage.unrecorded_load_jobs(pipeline, normalized[0])  # dlt loads the oldest first


def _finish_interrupted_abort(pipeline: dlt.Pipeline) -> None:
    """The newest package was archived as aborted but the cursors still are the ones it carried:
    the process died between dlt's two abort steps. Rewind them now, or its rows are lost."""
    if pipeline.list_extracted_load_packages() or pipeline.list_normalized_load_packages():
        return
    completed = pipeline.list_completed_load_packages()
    if not completed:
        return
    last = max(completed)
    if pipeline.get_load_package_info(last).state != "aborted":
        return
    if storage.carries_current_state(pipeline, last):
        log.warning("Completing the abort of package %s: rewinding the cursors it carried", last)
        pipeline.abort_packages(last)


def forget_orphaned_state(pipeline: dlt.Pipeline) -> None:
    """Local cursors without their destination data would make the next run load nothing; drop them so
    the run starts from scratch. Orphaned: the destination is gone (the DuckDB file deleted), or it holds
    no state of this pipeline (the dataset was rebuilt by ``--full-refresh`` while this account was not
    in the list: its rows went with it, and its cursors must go too)."""
    if not pipeline.state.get("sources"):
        return
    stored = has_stored_state(pipeline)
    if stored is False:
        log.warning("The destination has no data for pipeline %r; forgetting its local state and "
                    "loading from scratch", pipeline.pipeline_name)
        pipeline.drop()


def refuse_single_account_layout(pipeline: dlt.Pipeline, tables: list[str]) -> None:
    """A dataset loaded before many accounts (no ``account_id`` column, keys without it) is not merged into:
    its rows cannot tell their account. It is rebuilt, by one command, never silently mixed."""
    old = tables_lacking_column(pipeline, tables, ACCOUNT)
    if old:
        raise HarvestConfigError(
            f"dataset {pipeline.dataset_name!r} was loaded by an earlier harvest-dlt, one account per dataset, "
            f"without the account_id column ({', '.join(old[:3])}{', ...' if len(old) > 3 else ''})",
            hint="rebuild it once with `harvest-dlt --full-refresh` (it reloads everything from Harvest), or "
                 "load into a new dataset with --dataset NAME",
        )
