"""Many Harvest accounts in one dataset, over real HTTP to a simulator serving several accounts.

Each account loads with its own pipeline (cursors, state) into the same tables, keyed by ``account_id``;
one account's failure never blocks or rolls back another's, and the run says so per account.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dlt
import httpx
import pytest

from harvest_source import rules
from harvest_source.accounts import discover_accounts, parse_account_setting
from harvest_source.catalog import ENDPOINTS, TABLES, Kind
from harvest_source.errors import HarvestConfigError
from harvest_source.run_types import account_pipeline_name
from harvest_source.runner import EXIT_FAILED, EXIT_OK, EXIT_PARTIAL, RunSettings, format_summary, run_load
from harvest_source.simulator import run_simulator
from harvest_source.simulator.clock import PINNED_NOW

DSN = os.environ.get("HARVEST_TEST_POSTGRES_DSN")

FAST = {"rate_limit_window_s": 0.001, "reports_today": PINNED_NOW[:10]}
# tables every tiny account fills (the rest may be empty in a tiny account, or read per parent)
# tables every run reads again whatever changed (no updated_since in Harvest, or report periods re-read)
REREAD = {e.table for e in ENDPOINTS if rules.replaced_whole(e) or e.kind is Kind.REPORT}
FILLED = ("clients", "projects", "tasks", "time_entries", "users", "invoices", "company", "roles")


@pytest.fixture
def sim3():
    with run_simulator(scale="tiny", seed=3, accounts=3) as sim:
        yield sim


class Dataset:
    """One DuckDB dataset that several accounts load into, read back per account."""

    def __init__(self, sim: Any, folder: Path, **settings: Any) -> None:
        self.sim, self.folder = sim, folder
        self.file = str(folder / "accounts.duckdb")
        self.settings = settings

    def run(self, account: str, token: Any = None, **overrides: Any) -> Any:
        options = {**FAST, "id_url": self.sim.id_url, **overrides.pop("source_options", {})}
        values = dict(duckdb_file=self.file, pipelines_dir=str(self.folder / "pipelines"),
                      source_options=options, **{**self.settings, **overrides})
        return run_load(RunSettings(**values), token or self.sim.admin_token, account, self.sim.base_url)

    def query(self, sql: str) -> list[tuple]:
        import duckdb

        with duckdb.connect(self.file, read_only=True) as con:
            return con.execute(sql).fetchall()

    def per_account(self, table: str) -> dict[int, int]:
        return dict(self.query(f"SELECT account_id, count(*) FROM harvest_data.{table} GROUP BY 1"))

    def cursors(self, account_id: int) -> dict[str, Any]:
        pipeline = dlt.attach(account_pipeline_name("harvest", account_id),
                              pipelines_dir=str(self.folder / "pipelines"))
        resources = pipeline.state.get("sources", {}).get("harvest", {}).get("resources", {})
        return {t: r.get("incremental") for t, r in resources.items() if r.get("incremental")}


def _changed_rows(result: Any) -> dict[str, int]:
    """Rows each account's run loaded into the tables read by change (``updated_since`` or per parent)."""
    return {a.account_id: sum(n for t, n in a.rows.items() if t.split("__")[0] not in REREAD)
            for a in result.accounts}


def _assert_complete(data: Dataset, sim: Any, account_id: int) -> None:
    """Every top-level table holds exactly the account's records, keyed by (account_id, id)."""
    counts = sim.account(account_id).counts()
    for table in FILLED:
        expected = 1 if table == "company" else counts[table]
        assert data.per_account(table).get(account_id, 0) == expected, (table, account_id)
    for table in ("time_entries", "users"):
        ids = {r["id"] for r in sim.account(account_id).records(table)}
        got = {r[0] for r in data.query(f"SELECT id FROM harvest_data.{table} WHERE account_id = {account_id}")}
        assert got == ids, table


def test_the_account_setting_takes_an_id_a_list_or_all():
    assert parse_account_setting("123") == ["123"]
    assert parse_account_setting(" 1, 2 ,1") == ["1", "2"]
    assert parse_account_setting("ALL") == "all"
    for bad in ("", "12a", "1,,x"):
        with pytest.raises(HarvestConfigError) as error:
            parse_account_setting(bad)
        assert "account_id" in str(error.value)


def test_all_loads_every_harvest_account_and_names_the_forecast_one(sim3, tmp_path):
    data = Dataset(sim3, tmp_path)
    result = data.run("all")
    assert result.exit_code == EXIT_OK, result.error
    assert [a.account_id for a in result.accounts] == [str(i) for i in sim3.account_ids]
    for account_id in sim3.account_ids:
        _assert_complete(data, sim3, account_id)
    # Harvest ID lists a Forecast account too: skipped and named, never loaded
    assert len(result.accounts_skipped) == 1 and "forecast" in next(iter(result.accounts_skipped.values()))
    summary = format_summary(result)
    assert summary.count("OK, ") == 3 and "not loaded" in summary and "forecast" in summary
    # the child tables carry the account too, in their keys
    key = data.query("SELECT count(*) FROM harvest_data.invoice_payments WHERE account_id IS NULL")
    assert key == [(0,)]
    # the analyst views are built over all accounts
    assert data.query("SELECT count(DISTINCT account_id) FROM harvest_data.time_entries") == [(3,)]


def test_each_account_is_paced_under_its_own_limits_and_only_changed_accounts_load_again(sim3, tmp_path):
    data = Dataset(sim3, tmp_path)
    first, second, third = sim3.account_ids
    assert data.run(f"{first},{second},{third}").exit_code == EXIT_OK
    before = {a: data.per_account("time_entries")[a] for a in sim3.account_ids}
    sim3.account(second).mutate_random(0.2, seed=4)
    for account_id in sim3.account_ids:
        sim3.account(account_id).reset_stats()
    result = data.run(f"{first},{second},{third}")
    assert result.exit_code == EXIT_OK, result.error
    rows = _changed_rows(result)
    assert rows[str(second)] > 0 and rows[str(first)] == rows[str(third)] == 0, rows
    for account_id in sim3.account_ids:
        _assert_complete(data, sim3, account_id)
    assert data.per_account("time_entries")[first] == before[first]


def test_one_account_failing_does_not_stop_or_roll_back_the_others(sim3, tmp_path):
    data = Dataset(sim3, tmp_path)
    first, second, third = sim3.account_ids
    sim3.set_account_state(third, "revoked", after=15)  # answers 15 requests, then 401s mid-load
    result = data.run("all")
    assert result.exit_code == EXIT_PARTIAL
    by_id = {a.account_id: a for a in result.accounts}
    assert by_id[str(first)].exit_code == by_id[str(second)].exit_code == EXIT_OK
    assert by_id[str(third)].exit_code == EXIT_FAILED and "401" in by_id[str(third)].error
    _assert_complete(data, sim3, first)
    _assert_complete(data, sim3, second)
    assert data.cursors(third) == {}  # the failed account's cursors did not move
    summary = format_summary(result)
    assert "PARTIAL (some accounts did not load)" in summary and f"{third}: FAILED" in summary

    sim3.set_account_state(third, "ok")  # it comes back: it gets its full history, the others stay incremental
    again = data.run("all")
    assert again.exit_code == EXIT_OK, again.error
    _assert_complete(data, sim3, third)
    rows = _changed_rows(again)
    assert rows[str(first)] == rows[str(second)] == 0 and rows[str(third)] > 0


def test_every_account_failing_fails_the_run(sim3, tmp_path):
    for account_id in sim3.account_ids:
        sim3.set_account_state(account_id, "down")
    result = Dataset(sim3, tmp_path).run("all", source_options={"max_attempts": 1})
    assert result.exit_code == EXIT_FAILED and len(result.accounts) == 3


def test_an_account_added_later_gets_its_history_and_a_removed_one_keeps_its_rows(sim3, tmp_path):
    data = Dataset(sim3, tmp_path)
    first, second, third = sim3.account_ids
    assert data.run(f"{first},{second}").exit_code == EXIT_OK
    assert third not in data.per_account("time_entries")
    result = data.run(f"{first},{second},{third}")
    assert result.exit_code == EXIT_OK, result.error
    _assert_complete(data, sim3, third)
    rows = _changed_rows(result)
    assert rows[str(first)] == rows[str(second)] == 0
    # an account left out keeps its rows until --full-refresh, which rebuilds the dataset for the list
    assert data.run(f"{first}").exit_code == EXIT_OK
    assert set(data.per_account("time_entries")) == {first, second, third}
    assert data.run(f"{first},{third}", full_refresh=True).exit_code == EXIT_OK
    assert set(data.per_account("time_entries")) == {first, third}
    _assert_complete(data, sim3, first)
    _assert_complete(data, sim3, third)
    # the account rebuilt away comes back later: its old cursors are forgotten, its history reloads
    assert data.run(f"{first},{second},{third}").exit_code == EXIT_OK
    _assert_complete(data, sim3, second)


def test_a_single_account_dataset_of_the_old_layout_is_refused_with_the_command_that_rebuilds_it(sim3, tmp_path):
    data = Dataset(sim3, tmp_path)
    old = dlt.pipeline("harvest", destination=dlt.destinations.duckdb(data.file), dataset_name="harvest_data",
                       pipelines_dir=str(tmp_path / "old"))
    old.run([{"id": 1, "hours": 1.5}], table_name="time_entries", primary_key="id", write_disposition="merge")
    result = data.run(str(sim3.account_id))
    assert result.exit_code == EXIT_FAILED and "--full-refresh" in result.error and "account_id" in result.error
    assert data.query("SELECT count(*) FROM harvest_data.time_entries") == [(1,)]  # nothing mixed in
    rebuilt = data.run(str(sim3.account_id), full_refresh=True)
    assert rebuilt.exit_code == EXIT_OK, rebuilt.error
    _assert_complete(data, sim3, sim3.account_id)


def test_the_accounts_listing_keeps_harvest_accounts_and_says_what_is_wrong():
    def answer(body: Any, status: int = 200):
        return httpx.MockTransport(lambda request: httpx.Response(status, json=body))

    listed = {"accounts": [{"id": 1, "name": "A", "product": "harvest"}, {"id": 2, "name": "F", "product": "forecast"}]}
    found = discover_accounts(lambda: "t", "http://id.test/api/v2", transport=answer(listed))
    assert found.harvest == ["1"] and "forecast" in found.skipped["2"]
    with pytest.raises(HarvestConfigError, match="no Harvest account"):
        discover_accounts(lambda: "t", "http://id.test/api/v2",
                          transport=answer({"accounts": [{"id": 2, "product": "forecast"}]}))
    with pytest.raises(Exception, match="401"):
        discover_accounts(lambda: "secret-token", "http://id.test/api/v2", transport=answer({}, 401))


@pytest.mark.postgres
def test_three_accounts_on_postgres_fail_one_load_two(sim3, tmp_path, monkeypatch):
    if not DSN:
        pytest.skip("HARVEST_TEST_POSTGRES_DSN is not set (CI starts a server with .ci/postgres.sh)")
    from test_warehouses import Postgres

    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", DSN)
    pg = Postgres(DSN, tmp_path)
    try:
        first, second, third = sim3.account_ids
        sim3.set_account_state(second, "forbidden")
        settings = pg.settings(source_options={**FAST, "id_url": sim3.id_url})
        result = run_load(settings, sim3.admin_token, "all", sim3.base_url)
        assert result.exit_code == EXIT_PARTIAL
        counts = dict(pg.query(f'SELECT account_id, count(*) FROM "{pg.dataset}".time_entries GROUP BY 1'))
        assert counts == {first: sim3.account(first).counts()["time_entries"],
                          third: sim3.account(third).counts()["time_entries"]}
        sim3.set_account_state(second, "ok")
        assert run_load(settings, sim3.admin_token, "all", sim3.base_url).exit_code == EXIT_OK
        counts = dict(pg.query(f'SELECT account_id, count(*) FROM "{pg.dataset}".time_entries GROUP BY 1'))
        assert counts[second] == sim3.account(second).counts()["time_entries"]
        assert set(TABLES) - set(pg.tables()) <= {"estimate_messages", "teammates"} | set(
            t for t in TABLES if t.startswith("reports_"))
    finally:
        pg.drop()


def test_one_oauth_app_loads_every_account_it_reaches_and_a_revoked_account_fails_alone(tmp_path):
    """``all`` through an OAuth app: the accounts listing asks with an OAuth access token, every account
    refreshes from the one rotating refresh token (kept in the store, never spent twice), and an account
    taken out of the grant fails alone."""
    from harvest_source.oauth_settings import OAuthSettings

    # access tokens live 1 s: each account's expire mid-run and are refreshed from the one refresh token
    with run_simulator("tiny", seed=3, accounts=3, token="pat-not-used", oauth_client_id="cid",
                       oauth_client_secret="secret-0451", refresh_token="r0-0451", token_lifetime_s=1.0,
                       latency_ms=5) as sim:
        oauth = OAuthSettings.from_values("cid", "secret-0451", "r0-0451", sim.id_url, str(tmp_path / "tokens"))
        data = Dataset(sim, tmp_path)
        result = data.run("all", token=oauth)
        assert result.exit_code == EXIT_OK, result.error
        for account_id in sim.account_ids:
            _assert_complete(data, sim, account_id)
        assert sim.oauth.counts["refused"] == 0 and sim.oauth.counts["refresh_token"] >= 3
        assert "r0-0451" not in oauth.store().load()  # rotated: the next process uses the new one

        first, second, third = sim.account_ids
        sim.oauth.revoke(account=second)
        for account_id in sim.account_ids:
            sim.account(account_id).mutate("create", key="time_entries")
        again = data.run("all", token=oauth)
        by_id = {a.account_id: a for a in again.accounts}
        assert again.exit_code in (EXIT_OK, EXIT_PARTIAL)
        assert str(second) not in by_id or by_id[str(second)].exit_code == EXIT_FAILED
        for account_id in (first, third):
            assert by_id[str(account_id)].exit_code == EXIT_OK
            _assert_complete(data, sim, account_id)
        summary = format_summary(again)
        assert "secret-0451" not in summary and "r0-0451" not in summary


def test_each_account_gets_its_own_connection_to_the_one_duckdb_file(tmp_path):
    """Accounts read counts and schema outside their load turn, and dlt sets up each pipeline's pool on the
    connection it is given: a connection shared by threads fails with DuckDB's "connection is busy"."""
    import duckdb

    from harvest_source.runner import account_connections

    held = duckdb.connect(str(tmp_path / "h.duckdb"))
    try:
        first, second = account_connections(held, 2)
        assert first is not second and held not in (first, second)
        first.execute("create table t as select 1 as a")
        assert second.execute("select a from t").fetchall() == [(1,)]  # the same database, not a copy
        assert account_connections(held, 1) == [held]
        assert account_connections(None, 3) == [None, None, None]
    finally:
        held.close()
