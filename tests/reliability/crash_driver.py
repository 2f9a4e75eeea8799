"""Test-only driver: run the command line, SIGKILL this process at a named point of the run.

    python tests/reliability/crash_driver.py KILL_POINT [CLI arguments...]

KILL_POINT is ``none`` (run normally) or ``HOOK:N``: the process kills itself with SIGKILL at the
N-th time the run passes HOOK; ``sigint@HOOK:N`` sends itself SIGINT there instead, as Ctrl-C would;
``count`` runs normally and reports how often each hook was passed (to place kill points in a run).
The hooks wrap dlt's and our own functions in this process only; nothing in the connector knows about
them. Each hook marks a moment where a crash leaves a different state on disk:

==================  ======================================================================================
hook                the process dies ...
==================  ======================================================================================
request             before sending the N-th request to Harvest (extract, some pages already written)
extract_committed   right after the extracted package was committed, before the cursors were saved
normalize_file      before normalizing the N-th extracted file (a half-written normalized package)
normalize_commit    after the package was normalized, before it is moved to the load folder
normalized          after the package moved to the load folder, before its extracted copy was deleted
job_started         after the N-th load job was marked started, before it ran
job_committed       after the N-th load job committed in the destination, before dlt recorded that
job_recorded        after dlt recorded the N-th load job as done
load_recorded       after the package's row went into ``_dlt_loads``, before it was archived as loaded
package_loaded      after the package was archived as loaded, before the run ended
sweep_listing       before the deletion pass lists its N-th table (after the load: the pass runs last)
deletion_write      after the deletion pass's N-th table write committed (rows removed), before the next
==================  ======================================================================================

A line ``KILL-HOOK-ARMED ...`` goes to stderr at start, ``KILL-HOOK-FIRED ...`` just before the kill, so
the test can tell a kill from a crash; ``count`` ends with ``KILL-HOOK-COUNTS {json}``.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

_lock = threading.Lock()
_seen: dict[str, int] = {}


_signal = signal.SIGKILL


def _die(hook: str, n: int) -> None:
    os.write(2, f"KILL-HOOK-FIRED {hook}:{n} {_signal.name}\n".encode())
    os.kill(os.getpid(), _signal)


def _passing(hook: str, target: int) -> None:
    """Count one pass through ``hook``; die on the ``target``-th."""
    with _lock:
        _seen[hook] = _seen.get(hook, 0) + 1
        count = _seen[hook]
    if count == target:
        _die(hook, count)


def _wrap(owner: Any, name: str, hook: str, target: int, *, after: bool) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not after:
            _passing(hook, target)
        result = original(*args, **kwargs)
        if after:
            _passing(hook, target)
        return result

    setattr(owner, name, wrapper)


def _targets() -> dict[str, list[tuple[Any, str, bool]]]:
    """hook -> [(class, attribute, kill after the call instead of before)]; one count per hook."""
    from dlt.common.storages.load_package import PackageStorage
    from dlt.common.storages.load_storage import LoadStorage
    from dlt.destinations.job_client_impl import SqlJobClientBase
    from dlt.extract.extract import Extract
    from dlt.normalize.items_normalizers.arrow import ArrowItemsNormalizer
    from dlt.normalize.items_normalizers.jsonl import JsonLItemsNormalizer

    from harvest_source import deletion_pass
    from harvest_source.client import HarvestClient
    from harvest_source.dlt_compat import delta_rows, warehouse_rows

    return {
        "request": [(HarvestClient, "_attempt", False)],
        "extract_committed": [(Extract, "commit_packages", True)],
        "normalize_file": [(JsonLItemsNormalizer, "__call__", False), (ArrowItemsNormalizer, "__call__", False)],
        "normalize_commit": [(LoadStorage, "commit_new_load_package", False)],
        "normalized": [(LoadStorage, "commit_new_load_package", True)],
        "job_started": [(PackageStorage, "start_job", True)],
        "job_committed": [(PackageStorage, "save_pending_transition", False)],
        "job_recorded": [(PackageStorage, "save_pending_transition", True)],
        "load_recorded": [(SqlJobClientBase, "complete_load", True)],
        "package_loaded": [(LoadStorage, "complete_load_package", True)],
        "sweep_listing": [(deletion_pass, "list_ids", False)],
        # the pass calls the backend's module attribute (``row_backend``): SQL or Delta tables
        "deletion_write": [(warehouse_rows, "delete_rows", True), (delta_rows, "delete_rows", True)],
    }


HOOKS = (
    "request", "extract_committed", "normalize_file", "normalize_commit", "normalized", "job_started",
    "job_committed", "job_recorded", "load_recorded", "package_loaded", "sweep_listing", "deletion_write",
)


def arm(spec: str) -> None:
    global _signal
    if spec == "none":
        return
    if spec == "count":
        for hook, places in _targets().items():
            for owner, name, after in places:
                _wrap(owner, name, hook, 0, after=after)  # the 0-th pass never comes
        atexit.register(lambda: os.write(2, f"KILL-HOOK-COUNTS {json.dumps(_seen)}\n".encode()))
        return
    if spec.startswith("sigint@"):
        _signal, spec = signal.SIGINT, spec.removeprefix("sigint@")
    hook, _, n = spec.partition(":")
    targets = _targets()
    if hook not in targets:
        raise SystemExit(f"unknown kill hook {hook!r}; known: {', '.join(HOOKS)}")
    for owner, name, after in targets[hook]:
        _wrap(owner, name, hook, int(n or 1), after=after)
    os.write(2, f"KILL-HOOK-ARMED {hook}:{int(n or 1)}\n".encode())


def _cli_main() -> Callable[[list[str]], int]:
    spec = importlib.util.spec_from_file_location("harvest_pipeline_cli", REPO / "pipelines" / "harvest_pipeline.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(__doc__)
    cli = _cli_main()
    arm(argv[0])
    return cli(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
