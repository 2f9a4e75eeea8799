"""The deletion pass's safety over real HTTP to the simulator: a listing that fails, is cut short or gets a 403
deletes nothing from that table; a record changed while the sweep lists is never deleted; a bad ``deletes``
value fails before any request. Each test loads once with the runner, deletes in Harvest, then runs the
pass itself (``run_deletion_pass``) with faults that hit only the sweep's requests. No sleeping: retries
back off through a ``sleep`` that returns at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dlt
import httpx
import pytest

from harvest_source import harvest_source
from harvest_source.client import HarvestClient
from harvest_source.deletion_pass import DeletionPlan, run_deletion_pass
from harvest_source.errors import HarvestConfigError
from harvest_source.run_types import account_pipeline_name
from harvest_source.runner import EXIT_FAILED, EXIT_OK, RunSettings, run_load
from harvest_source.simulator import run_simulator
from harvest_source.simulator.clock import PINNED_NOW

FAST = {"rate_limit_window_s": 0.001, "reports_today": PINNED_NOW[:10]}
SWEPT = ("time_entries", "contacts", "clients", "tasks", "projects")


class Loaded:
    """A simulator account loaded once into DuckDB; ``sweep`` runs the deletion pass on it."""

    def __init__(self, sim: Any, folder: Path) -> None:
        self.sim, self.folder = sim, folder
        self.file = str(folder / "harvest.duckdb")
        settings = RunSettings(duckdb_file=self.file, pipelines_dir=str(folder / "pipelines"), source_options=FAST)
        result = run_load(settings, sim.admin_token, str(sim.account_id), sim.base_url)
        assert result.exit_code == EXIT_OK, result.error

    def pipeline(self) -> dlt.Pipeline:
        return dlt.pipeline(account_pipeline_name("harvest", self.sim.account_id),
                            destination=dlt.destinations.duckdb(self.file), dataset_name="harvest_data",
                            pipelines_dir=str(self.folder / "pipelines"))

    def sweep(self, transport: httpx.BaseTransport | None = None, mode: str = "hard") -> Any:
        client = HarvestClient(self.sim.admin_token, self.sim.account_id, self.sim.base_url, transport=transport,
                               max_attempts=2, rate_limit=(100, 0.001), sleep=lambda _s: None)
        plan = DeletionPlan(mode, client, force_sweep=True)
        return run_deletion_pass(self.pipeline(), int(self.sim.account_id), plan, selected=SWEPT, skipped=())

    def ids(self, table: str) -> set[int]:
        import duckdb

        with duckdb.connect(self.file, read_only=True) as con:
            return {r[0] for r in con.execute(f"SELECT id FROM harvest_data.{table}").fetchall()}


@pytest.fixture
def loaded(tmp_path: Path):
    with run_simulator(scale="tiny", seed=5) as sim:
        yield Loaded(sim, tmp_path)


class Intercept(httpx.BaseTransport):
    """Real HTTP, except that ``on(request, forward)`` may answer a request (or change its answer) itself."""

    def __init__(self, on: Any) -> None:
        self.real, self.on = httpx.HTTPTransport(), on

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.on(request, self.real.handle_request)


def _sweep_listing(request: httpx.Request, path: str) -> bool:
    """The sweep's whole listing of a table (the pass's other listing asks updated_since)."""
    return request.url.path == f"/v2/{path}" and "updated_since" not in request.url.params


def _delete_one(loaded: Loaded, table: str) -> int:
    gone = loaded.sim.records(table)[0]["id"]
    loaded.sim.mutate("delete", key=table, id=gone)
    return gone


def test_a_listing_that_fails_deletes_nothing_there(loaded: Loaded) -> None:
    entry, contact = _delete_one(loaded, "time_entries"), _delete_one(loaded, "contacts")
    loaded.sim.set_faults([{"kind": "503", "count": 10, "path": "^/v2/time_entries$"}])
    outcome = loaded.sweep()
    assert entry in loaded.ids("time_entries") and "503" in outcome.warnings["time_entries"]
    assert contact not in loaded.ids("contacts") and outcome.deleted == {"contacts": 1}  # other tables go on


def test_a_listing_cut_short_deletes_nothing(loaded: Loaded) -> None:
    entry = _delete_one(loaded, "time_entries")
    loaded.sim.set_faults([{"kind": "lying_total_pages", "count": 1, "path": "^/v2/time_entries$"}])
    outcome = loaded.sweep()
    assert entry in loaded.ids("time_entries") and "time_entries" not in outcome.deleted
    assert "pages" in outcome.warnings["time_entries"] or "ids" in outcome.warnings["time_entries"]


def test_a_403_deletes_nothing(loaded: Loaded) -> None:
    client = _delete_one(loaded, "clients")

    def forbid(request: httpx.Request, forward: Any) -> httpx.Response:
        if _sweep_listing(request, "clients"):
            return httpx.Response(403, json={"message": "Not authorized!"}, headers={"Hint": "Not authorized!"})
        return forward(request)

    outcome = loaded.sweep(Intercept(forbid))
    assert client in loaded.ids("clients") and "403" in outcome.warnings["clients"]
    assert loaded.sim.admin_token not in repr(outcome)  # the warnings never carry the token


def test_a_record_changed_while_the_sweep_lists_is_kept(loaded: Loaded) -> None:
    """Entry ``moved`` is edited while its table is listed and its page shifted (the listing misses it);
    entry ``gone`` is really deleted; a new entry appears meanwhile. Only ``gone`` leaves the warehouse."""
    sim = loaded.sim
    entries = [e["id"] for e in sim.records("time_entries")]
    gone, moved = entries[0], entries[1]
    sim.mutate("delete", key="time_entries", id=gone)

    def shift_pages(request: httpx.Request, forward: Any) -> httpx.Response:
        if not _sweep_listing(request, "time_entries"):
            return forward(request)
        sim.mutate("update", key="time_entries", id=moved, fields={"notes": "edited during the sweep"})
        response = forward(request)
        body = json.loads(response.read())
        body["time_entries"] = [e for e in body["time_entries"] if e["id"] != moved]
        body["total_entries"] -= 1
        return httpx.Response(200, json=body)

    outcome = loaded.sweep(Intercept(shift_pages))
    ids = loaded.ids("time_entries")
    assert gone not in ids and moved in ids
    assert outcome.deleted == {"time_entries": 1}


def test_soft_marks_instead_of_removing(loaded: Loaded) -> None:
    entry = _delete_one(loaded, "time_entries")
    outcome = loaded.sweep(mode="soft")
    assert outcome.deleted == {"time_entries": 1} and entry in loaded.ids("time_entries")
    import duckdb

    with duckdb.connect(loaded.file, read_only=True) as con:
        marked = con.execute("SELECT id FROM harvest_data.time_entries WHERE _harvest_deleted_at IS NOT NULL")
        assert [r[0] for r in marked.fetchall()] == [entry]


def test_a_bad_deletes_value_fails_before_any_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(HarvestConfigError, match="hard, soft or off"):
        harvest_source(access_token="t", account_id="1", deletes="sometimes")
    with run_simulator(scale="tiny", seed=5) as sim:
        monkeypatch.setenv("SOURCES__HARVEST__DELETES", "sometimes")
        sim.reset_stats()
        settings = RunSettings(duckdb_file=str(tmp_path / "h.duckdb"), pipelines_dir=str(tmp_path / "p"),
                               source_options=FAST)
        result = run_load(settings, sim.admin_token, str(sim.account_id), sim.base_url)
        assert result.exit_code == EXIT_FAILED and "hard, soft or off" in (result.error or "")
        assert result.requests == 0 and sim.admin_token not in (result.error or "")


def test_the_setting_comes_from_config(loaded: Loaded, monkeypatch: pytest.MonkeyPatch) -> None:
    """SOURCES__HARVEST__DELETES=soft reaches the run: the deleted entry is marked, not removed."""
    entry = _delete_one(loaded, "time_entries")
    monkeypatch.setenv("SOURCES__HARVEST__DELETES", "soft")
    settings = RunSettings(duckdb_file=loaded.file, pipelines_dir=str(loaded.folder / "pipelines"),
                           source_options=FAST, force_sweep=True)
    result = run_load(settings, loaded.sim.admin_token, str(loaded.sim.account_id), loaded.sim.base_url)
    assert result.exit_code == EXIT_OK and result.deletes == "soft" and result.deleted == {"time_entries": 1}
    assert entry in loaded.ids("time_entries")


def test_files_are_not_swept_and_the_summary_says_so(tmp_path: Path) -> None:
    """The filesystem destination cannot change rows by SQL: the pass looks for nothing and warns."""
    files = dlt.pipeline("files", destination=dlt.destinations.filesystem(str(tmp_path / "files")),
                         dataset_name="harvest_data", pipelines_dir=str(tmp_path / "p"))
    client = HarvestClient("token", 1, "http://127.0.0.1:9/v2", max_attempts=1, sleep=lambda _s: None)
    outcome = run_deletion_pass(files, 1, DeletionPlan("hard", client, force_sweep=True), selected=SWEPT, skipped=())
    assert outcome.deleted == {} and "SQL destination" in outcome.warnings["all tables"]


def test_the_pass_in_your_own_dlt_pipeline(tmp_path: Path) -> None:
    """README, "Use it from Python": a plain ``pipeline.run(harvest_source())`` never deletes; the pass
    called after it, with the source's ``RunReport``, does."""
    from harvest_source.report import RunReport

    with run_simulator(scale="tiny", seed=5) as sim:
        pipeline = dlt.pipeline("own", destination=dlt.destinations.duckdb(str(tmp_path / "own.duckdb")),
                                dataset_name="harvest_data", pipelines_dir=str(tmp_path / "p"))

        def source(report: RunReport) -> Any:
            return harvest_source(access_token=sim.admin_token, account_id=str(sim.account_id),
                                  base_url=sim.base_url, force_sweep=True, report=report,
                                  **FAST).with_resources("time_entries", "clients")

        pipeline.run(source(RunReport()))
        entry = sim.records("time_entries")[0]["id"]
        sim.mutate("delete", key="time_entries", id=entry)
        report = RunReport()
        src = source(report)
        pipeline.run(src)
        outcome = run_deletion_pass(pipeline, sim.account_id, report.deletions, selected=src.selected_resources,
                                    skipped=report.outcome().skipped)
        assert outcome.deleted == {"time_entries": 1}
