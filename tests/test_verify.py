"""``harvest-dlt --verify``: after a clean load every check matches; each planted discrepancy is named.

The simulator over real HTTP, loaded into DuckDB (and PostgreSQL with the postgres marker) by the
connector; the discrepancies are made the way they happen: in Harvest (a delete, an edit without a new
``updated_at``, invoicing) or by hand in the destination.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from test_warehouses import FAST, Postgres, pg  # noqa: F401  (the PostgreSQL fixture)

from harvest_source.cli import main
from harvest_source.errors import HarvestAuthError
from harvest_source.run_types import EXIT_OK, RunSettings
from harvest_source.runner import run_load
from harvest_source.settings import EXIT_DIFFERS
from harvest_source.simulator import run_simulator
from harvest_source.verify import VerifyResult, format_result, run_verify
from harvest_source.verify.checks import BREAKDOWNS, DIFF, OK, default_since, differences, months
from harvest_source.verify.harvest_side import TOP_LEVEL

SINCE, UNTIL = dt.date(2024, 9, 1), dt.date(2024, 12, 2)  # the pinned simulator's last months
SIM_FAST = {**FAST, "reports_rate_limit_window_s": 0.001}


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=7) as simulator:
        yield simulator


@pytest.fixture
def loaded(sim, loader_for):
    loader = loader_for(sim)
    assert loader.run().exit_code == EXIT_OK
    return loader


def settings_of(loader: Any) -> RunSettings:
    return RunSettings(duckdb_file=loader.file, pipeline_name=loader.name,
                       pipelines_dir=str(loader.folder / "pipelines"), source_options=dict(SIM_FAST))


def verify(sim: Any, settings: RunSettings, token: str | None = None) -> VerifyResult:
    return run_verify(settings, token or sim.admin_token, str(sim.account_id), sim.base_url, since=SINCE, until=UNTIL)


def differing(result: VerifyResult) -> dict[str, Any]:
    return {c.name: c for c in result.checks if c.status == DIFF}


def use_account(monkeypatch: pytest.MonkeyPatch, sim: Any, token: str | None = None) -> None:
    """The command's credentials, as a user sets them."""
    monkeypatch.setenv("SOURCES__HARVEST__ACCESS_TOKEN", token or sim.admin_token)
    monkeypatch.setenv("SOURCES__HARVEST__ACCOUNT_ID", str(sim.account_id))
    monkeypatch.setenv("SOURCES__HARVEST__BASE_URL", sim.base_url)


def in_window(entry: dict) -> bool:
    return SINCE.isoformat() <= entry["spent_date"] <= UNTIL.isoformat()


def month_of(entry: dict) -> str:
    return entry["spent_date"][:7]


# -- a clean load ------------------------------------------------------------------------------------------
def test_a_clean_load_matches_every_check_and_costs_one_request_per_table_and_report(sim, loaded):
    result = verify(sim, settings_of(loaded))
    assert result.exit_code == 0, format_result(result, sim.account_id)
    assert {c.status for c in result.checks} == {OK}
    periods = months(SINCE, UNTIL)
    assert len(result.checks) == len(TOP_LEVEL) + len(BREAKDOWNS) * len(periods)
    # verify's own cost: one per_page=1 request per top-level table, one report request per breakdown and month
    assert result.report_requests == len(BREAKDOWNS) * len(periods) == 28
    assert result.requests == len(TOP_LEVEL) + result.report_requests == 43
    text = format_result(result, sim.account_id)
    assert "rows time_entries: 91 = Harvest 91" in text and "rounding:" in text and "exit 0" in text


def test_the_command_prints_the_checks_and_exits_0(sim, loaded, monkeypatch, capsys):
    use_account(monkeypatch, sim)
    code = main(["--verify", "--since", "2024-11-01", "--until", "2024-12-02", "--duckdb-file", loaded.file,
                 "--pipeline-name", loaded.name, "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "OK    time by project 2024-11:" in out and "uninvoiced by project 2024-12" in out
    assert "2024-10" not in out  # --since bounds the months
    assert loaded.count("time_entries") == 91  # nothing loaded, nothing changed


# -- planted discrepancies ---------------------------------------------------------------------------------
def test_a_time_entry_deleted_in_harvest_without_a_sweep_is_named(sim, loaded):
    entry = next(e for e in sim.records("time_entries") if in_window(e) and e["hours"] > 0)
    sim.mutate("delete", key="time_entries", id=entry["id"])
    # a child sweep re-reads children; with deletes off the deleted row stays (deletes on would remove it)
    assert loaded.run(force_sweep=True, source_options={"deletes": "off"}).exit_code == EXIT_OK
    result = verify(sim, settings_of(loaded))
    diff = differing(result)
    assert result.exit_code == EXIT_DIFFERS
    assert "destination 91, Harvest 90 (+1)" in diff["rows time_entries"].detail
    assert "--sweep" in diff["rows time_entries"].hint and "--full-refresh" in diff["rows time_entries"].hint
    project = diff[f"time by project {month_of(entry)}"]
    assert any(f"project_id {entry['project']['id']}" in line for line in project.differences)
    assert f"spent_date in {month_of(entry)}" in project.hint
    assert f"time by user {month_of(entry)}" in diff and f"uninvoiced by project {month_of(entry)}" in diff
    assert set(diff) <= {"rows time_entries", *(f"{b.label} {month_of(entry)}" for b in BREAKDOWNS)}


def test_hours_changed_without_a_new_updated_at_are_named(sim, loaded):
    entry = next(e for e in sim.records("time_entries") if in_window(e))
    sim.mutate("update", key="time_entries", id=entry["id"], fields={"hours": entry["hours"] + 2}, touch=False)
    assert loaded.run().exit_code == EXIT_OK  # the incremental load cannot see it
    result = verify(sim, settings_of(loaded))
    diff = differing(result)
    assert result.exit_code == EXIT_DIFFERS and "rows time_entries" not in diff
    user = diff[f"time by user {month_of(entry)}"]
    line = next(line for line in user.differences if f"user_id {entry['user']['id']}" in line)
    assert "total_hours destination" in line
    mine, theirs = re.search(r"total_hours destination ([\d.]+), Harvest ([\d.]+)", line).groups()
    assert Decimal(theirs) - Decimal(mine) == 2


def test_a_row_changed_by_hand_in_the_destination_is_named(sim, loaded):
    expense = next(e for e in sim.records("expenses") if in_window(e))
    with duckdb.connect(loaded.file) as con:
        con.execute("UPDATE harvest_data.expenses SET total_cost = total_cost + 10 WHERE id = ?", [expense["id"]])
    result = verify(sim, settings_of(loaded))
    diff = differing(result)
    assert result.exit_code == EXIT_DIFFERS
    check = diff[f"expenses by client {month_of(expense)}"]
    assert any(f"client_id {expense['client']['id']}" in line and "total_amount" in line
               for line in check.differences)
    assert {f"expenses by project {month_of(expense)}", f"expenses by user {month_of(expense)}"} <= set(diff)
    assert not any(name.startswith(("rows", "time by")) for name in diff)


def test_a_month_whose_time_was_invoiced_is_named_until_the_next_load(sim, loaded):
    unbilled = [e for e in sim.records("time_entries")
                if in_window(e) and e["billable"] and not e["is_billed"] and e["hours"] > 0]
    month = month_of(unbilled[0])
    entries = [e for e in unbilled if month_of(e) == month and e["project"]["id"] == unbilled[0]["project"]["id"]]
    invoice = next(i for i in sim.records("invoices") if i["client"]["id"] == entries[0]["client"]["id"])
    sim.mutate("invoice_time_entries", invoice_id=invoice["id"], time_entry_ids=[e["id"] for e in entries])
    result = verify(sim, settings_of(loaded))
    diff = differing(result)
    assert set(diff) == {f"uninvoiced by project {month}"}, format_result(result, sim.account_id)
    check = diff[f"uninvoiced by project {month}"]
    assert any(f"project_id {entries[0]['project']['id']}" in line and "uninvoiced_hours" in line
               for line in check.differences)
    assert "--resources time_entries,expenses" in check.hint
    assert loaded.run().exit_code == EXIT_OK  # invoicing gave the entries a new updated_at
    assert verify(sim, settings_of(loaded)).exit_code == 0


def test_soft_deleted_rows_are_left_out_of_counts_and_sums(sim, loaded):
    entry = next(e for e in sim.records("time_entries") if in_window(e) and e["hours"] > 0)
    sim.mutate("delete", key="time_entries", id=entry["id"])
    with duckdb.connect(loaded.file) as con:  # what the deletes issue's connector will do
        con.execute("ALTER TABLE harvest_data.time_entries ADD COLUMN _harvest_deleted_at TIMESTAMP")
        con.execute("UPDATE harvest_data.time_entries SET _harvest_deleted_at = now() WHERE id = ?", [entry["id"]])
    result = verify(sim, settings_of(loaded))
    assert result.exit_code == 0, format_result(result, sim.account_id)


# -- could not check ---------------------------------------------------------------------------------------
def test_a_bad_token_gives_exit_1_with_a_clear_message(loader_for, monkeypatch, capsys):
    with run_simulator(scale="tiny", seed=7, token="the-real-admin-token") as sim:
        loaded = loader_for(sim)
        assert loaded.run().exit_code == EXIT_OK
        with pytest.raises(HarvestAuthError):
            verify(sim, settings_of(loaded), token="not-a-valid-token")
        use_account(monkeypatch, sim, token="not-a-valid-token")
        code = main(["--verify", "--duckdb-file", loaded.file, "--pipeline-name", loaded.name])
    captured = capsys.readouterr()
    assert code == 1
    assert "401" in captured.err and "token" in captured.err.lower()
    assert "not-a-valid-token" not in captured.err + captured.out


def test_no_destination_gives_exit_1_and_creates_no_file(sim, tmp_path, monkeypatch, capsys):
    use_account(monkeypatch, sim)
    missing = tmp_path / "none.duckdb"
    assert main(["--verify", "--duckdb-file", str(missing)]) == 1
    assert "nothing to verify" in capsys.readouterr().err and not missing.exists()


# -- the rules ---------------------------------------------------------------------------------------------
def test_months_and_the_default_since():
    assert default_since(dt.date(2024, 2, 15)) == dt.date(2023, 11, 1)
    periods = months(dt.date(2024, 11, 15), dt.date(2025, 1, 3))
    assert [(m.start, m.end) for m in periods] == [
        (dt.date(2024, 11, 15), dt.date(2024, 11, 30)), (dt.date(2024, 12, 1), dt.date(2024, 12, 31)),
        (dt.date(2025, 1, 1), dt.date(2025, 1, 3))]


def test_rounding_to_two_places_within_a_hundredth():
    key = (1, "USD")
    same = differences({key: {"h": Decimal("10.005")}}, {key: {"h": Decimal("10.0")}}, ("h",))
    assert same == []  # 10.01 against 10.00: a half-cent boundary Harvest's float sum may round down
    assert differences({key: {"h": Decimal("10.02")}}, {key: {"h": Decimal("10.0")}}, ("h",)) != []
    assert differences({key: {"h": Decimal("0")}}, {}, ("h",)) == []  # missing on one side is 0


# -- PostgreSQL --------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_a_clean_load_into_postgres_matches(pg, sim):  # noqa: F811
    assert run_load(pg.settings(), sim.admin_token, str(sim.account_id), sim.base_url).exit_code == EXIT_OK
    settings = pg.settings(source_options=dict(SIM_FAST))
    result = run_verify(settings, sim.admin_token, str(sim.account_id), sim.base_url, since=SINCE, until=UNTIL)
    assert result.exit_code == 0, format_result(result, sim.account_id)
    entry = next(e for e in sim.records("time_entries") if in_window(e))
    pg.query(f'UPDATE "{pg.dataset}".time_entries SET hours = hours + 1 WHERE id = %s', (entry["id"],))
    diff = differing(run_verify(settings, sim.admin_token, str(sim.account_id), sim.base_url,
                                since=SINCE, until=UNTIL))
    assert f"time by project {month_of(entry)}" in diff
