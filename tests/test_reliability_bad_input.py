"""Bad input (issue 5, point 5): every wrong setting ends the run with a message that says what to fix,
a non-zero exit code, and no storm of requests (most of them before any request at all).
tests/test_cli.py covers a wrong token, missing settings, an unknown resource, one bad start date and an
unreachable URL from the command line; these add the rest."""

from __future__ import annotations

from collections import Counter

import pytest
from reliability.support import cli_env, run_cli

from harvest_source.catalog import ENDPOINTS
from harvest_source.runner import EXIT_FAILED, RunSettings, run_load
from harvest_source.simulator import run_simulator

TOP_LEVEL = [e for e in ENDPOINTS if e.fan_out is None]
QUICK = {"rate_limit_window_s": 0.001, "max_attempts": 2, "backoff_base_s": 0.01, "backoff_cap_s": 0.05}


@pytest.fixture(scope="module")
def sim():
    with run_simulator("tiny", seed=1) as simulator:
        yield simulator


def _run(sim, tmp_path, token=None, account=None, base_url=None, **settings):
    sim.reset_stats()
    run_settings = RunSettings(duckdb_file=str(tmp_path / "h.duckdb"), pipelines_dir=str(tmp_path / "pipelines"),
                               source_options=dict(QUICK), **settings)
    result = run_load(run_settings, sim.admin_token if token is None else token,
                      str(sim.account_id) if account is None else account, base_url or sim.base_url)
    return result, sim.stats()


REFUSED_BEFORE_ANY_REQUEST = [  # (what is wrong, run arguments, what the message must say)
    ("account id not a number", {"account": "12ab"},
     ["is not a Harvest account id (a number)", "SOURCES__HARVEST__ACCOUNT_ID"]),
    ("empty token", {"token": ""}, ["access token is empty", "SOURCES__HARVEST__ACCESS_TOKEN"]),
    ("token with a space", {"token": "abc def"}, ["contains spaces", "(value not shown)"]),
    ("base URL not http", {"base_url": "ftp://api.harvestapp.com/v2"}, ["base_url must be an http(s) URL",
                                                                       "SOURCES__HARVEST__BASE_URL"]),
    ("base URL without scheme", {"base_url": "api.harvestapp.com/v2"}, ["base_url must be an http(s) URL"]),
    ("base URL with credentials", {"base_url": "https://me:pw@api.harvestapp.com/v2"},
     ["without query or credentials"]),
    ("month 13", {"start_date": "2024-13-45"}, ["not a date: use YYYY-MM-DD"]),
    ("a word", {"start_date": "yesterday"}, ["not a date: use YYYY-MM-DD"]),
    ("dotted date", {"start_date": "31.01.2024"}, ["not a date: use YYYY-MM-DD"]),
    ("resource typo", {"resources": ["time_entry"]}, ["unknown resource(s): time_entry", "Valid resources: company"]),
    ("unknown destination", {"destination": "nosuchdb"}, ["nosuchdb", "DESTINATION__NOSUCHDB__DESTINATION_TYPE"]),
]


@pytest.mark.parametrize(("case", "arguments", "says"), REFUSED_BEFORE_ANY_REQUEST,
                         ids=[c[0] for c in REFUSED_BEFORE_ANY_REQUEST])
def test_bad_settings_are_refused_before_any_request(sim, tmp_path, case, arguments, says):
    result, stats = _run(sim, tmp_path, **arguments)
    assert result.exit_code == EXIT_FAILED
    for text in says:
        assert text in result.error, result.error
    assert stats["total"] == 0


def _each_request_once(stats) -> bool:
    return max(Counter((r["path"], r["query"]) for r in stats["requests"]).values()) == 1


def test_a_wrong_account_id_stops_at_the_first_answers_and_says_which_setting(sim, tmp_path):
    result, stats = _run(sim, tmp_path, account=str(sim.account_id + 1))
    assert result.exit_code == EXIT_FAILED
    assert "401" in result.error and "SOURCES__HARVEST__ACCOUNT_ID" in result.error
    assert 0 < stats["total"] <= len(TOP_LEVEL) and _each_request_once(stats)  # no retries, no fan-out
    assert not any("/" in r["path"].removeprefix("/v2/") for r in stats["requests"])


def test_a_base_url_that_is_not_the_api_root_says_to_check_it(sim, tmp_path):
    result, stats = _run(sim, tmp_path, base_url=sim.base_url.removesuffix("/v2"))
    assert result.exit_code == EXIT_FAILED
    assert "404" in result.error and "base_url" in result.error
    assert 0 < stats["total"] <= len(TOP_LEVEL) and _each_request_once(stats)


def test_an_unreachable_base_url_gives_up_after_bounded_attempts(tmp_path):
    run_settings = RunSettings(duckdb_file=str(tmp_path / "h.duckdb"), pipelines_dir=str(tmp_path / "pipelines"),
                               source_options=dict(QUICK))
    result = run_load(run_settings, "some-token", "1", "http://127.0.0.1:9/v2")  # nothing listens on port 9
    assert result.exit_code == EXIT_FAILED
    assert "could not reach 127.0.0.1" in result.error and "check base_url" in result.error
    assert "after 2 attempts" in result.error
    assert 0 < result.requests <= QUICK["max_attempts"] * len(TOP_LEVEL)


def test_the_command_line_exits_non_zero_on_a_wrong_account_id(sim, tmp_path):
    env = cli_env(sim, tmp_path / "home")
    env["SOURCES__HARVEST__ACCOUNT_ID"] = str(sim.account_id + 1)
    proc = run_cli(["--duckdb-file", str(tmp_path / "h.duckdb")], env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "Harvest rejected the credentials (401)" in proc.stderr
    assert "SOURCES__HARVEST__ACCOUNT_ID" in proc.stderr
