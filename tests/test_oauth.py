"""OAuth2 credentials end to end, over real HTTP to the simulator's Harvest ID: access tokens that expire
in the middle of a load (refreshed, nothing lost, no 401 surfaces), refresh tokens that rotate (the next
process uses the newest), revocation (a failure that says what to do), many threads sharing one token,
two processes sharing one token store, and the ``--authorize`` flow a browser would follow."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from reliability.support import cli_env, run_cli

from harvest_source.client import HarvestClient
from harvest_source.errors import HarvestAuthError, HarvestConfigError
from harvest_source.http.oauth import OAuthRefreshAuth
from harvest_source.oauth_settings import OAuthSettings
from harvest_source.runner import EXIT_FAILED, EXIT_OK, format_summary, resolve_credentials
from harvest_source.simulator import Simulator, run_simulator
from harvest_source.token_store import TokenStore

CID, CSECRET, R0 = "app-client-id", "app-client-secret-0451", "initial-refresh-0451"
TABLE_OF = {"time_entries": "time_entries", "projects": "projects", "users": "users", "invoices": "invoices"}


def oauth_sim(**options) -> run_simulator:
    # the personal access token is a different one: only OAuth access tokens get in
    return run_simulator("tiny", seed=3, token="pat-not-used", oauth_client_id=CID, oauth_client_secret=CSECRET,
                         refresh_token=R0, **options)


def settings_for(sim: Simulator, refresh_token: str | None = R0) -> OAuthSettings:
    return OAuthSettings.from_values(CID, CSECRET, refresh_token, sim.id_url)


def oauth_env(sim: Simulator, home: Path, **settings: str) -> dict[str, str]:
    env = cli_env(sim, home, token="unused", **settings)
    del env["SOURCES__HARVEST__ACCESS_TOKEN"]
    env.update({"SOURCES__HARVEST__CLIENT_ID": CID, "SOURCES__HARVEST__CLIENT_SECRET": CSECRET,
                "SOURCES__HARVEST__ID_URL": sim.id_url})
    return env


def assert_complete(loader, sim: Simulator) -> None:
    for key, table in TABLE_OF.items():
        assert loader.count(table) == len(sim.records(key)), table


# ------------------------------------------------------------------ loads
def test_access_token_expiring_mid_run_is_refreshed_and_nothing_is_lost(loader_for):
    with oauth_sim() as sim:
        sim.oauth.expire_every_calls = 20  # the access token dies after every 20th API call: twice a run
        loader = loader_for(sim, token=settings_for(sim))
        result = loader.run()
        assert result.exit_code == EXIT_OK, result.error
        assert_complete(loader, sim)
        refreshes, expired = sim.oauth.counts["refresh_token"], sim.oauth.counts["expired_access"]
        print(f"\n{result.requests} requests, {refreshes} token refreshes, {expired} 401s absorbed")
        assert refreshes >= 3 and expired >= refreshes - 1  # it expired mid-run, more than once
        assert "401" not in format_summary(result) and result.retries == 0
        assert sim.oauth.counts["refused"] == 0
        # an incremental run afterwards (new process state, same store) goes on refreshing
        sim.mutate("create", key="time_entries")
        again = loader.run()
        assert again.exit_code == EXIT_OK and again.new_rows.get("time_entries") == 1
        assert_complete(loader, sim)


def test_short_token_lifetime_is_refreshed_before_it_runs_out(loader_for):
    with oauth_sim(token_lifetime_s=0.5, latency_ms=5) as sim:
        loader = loader_for(sim, token=settings_for(sim))
        result = loader.run()
        assert result.exit_code == EXIT_OK, result.error
        assert_complete(loader, sim)
        assert sim.oauth.counts["refresh_token"] >= 1 and sim.oauth.counts["refused"] == 0


def test_a_second_401_after_a_fresh_token_fails_with_what_to_do(loader_for):
    with oauth_sim() as sim:
        settings = settings_for(sim)
        client = HarvestClient(None, "999", sim.base_url, oauth=settings)  # an account the app cannot reach
        with client, pytest.raises(HarvestAuthError) as caught:
            client.get_json("users/me")
        text = str(caught.value)
        assert "freshly refreshed OAuth access token for account 999 (401)" in text
        assert "/accounts lists them" in text and "--authorize" in text
        assert sim.oauth.counts["refresh_token"] == 2  # the first token, then once on the 401


def test_many_threads_share_one_refresh(loader_for):
    with oauth_sim() as sim:
        with HarvestClient(None, str(sim.account_id), sim.base_url, oauth=settings_for(sim)) as client:
            client.get_json("users/me")
            assert sim.oauth.counts["refresh_token"] == 1
            sim.oauth.expire_access_tokens()
            barrier, errors = threading.Barrier(8), []

            def call() -> None:
                barrier.wait()
                try:
                    client.get_json("company")
                except Exception as error:  # pragma: no cover - reported below
                    errors.append(error)

            threads = [threading.Thread(target=call) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        assert errors == []
        assert sim.oauth.counts["refresh_token"] == 2  # eight 401s, one refresh


def test_proactive_refresh_follows_expires_in():
    now = [1000.0]
    calls = []

    def id_service(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        n = len(calls)
        return httpx.Response(200, json={"access_token": f"a{n}", "refresh_token": f"r{n}", "expires_in": 100})

    store = TokenStore(CID, R0)
    auth = OAuthRefreshAuth(CID, CSECRET, store, "1", "https://id.example/api/v2", user_agent="t (t@example.com)",
                            transport=httpx.MockTransport(id_service), clock=lambda: now[0])
    assert auth.access_token() == "a1"
    now[0] += 79  # 100 s lifetime, refreshed 20 s early (20 %)
    assert auth.access_token() == "a1"
    now[0] += 2
    assert auth.access_token() == "a2"
    assert calls == ["/api/v2/oauth2/token"] * 2 and store.load() == "r2"
    assert "a2" not in repr(auth) and auth.redact("x a2 r2 r1 " + CSECRET) == "x *** *** *** ***"
    auth.close()


def test_a_refreshed_token_that_worked_and_then_expired_is_refreshed_again_not_refused():
    """Many threads share one token: between a thread's refresh and its resend, the others may use the new
    token until it expires too (the simulator expiring every token each N calls showed it in a full suite).
    A 401 on a token that has worked is an expiry, not a refusal; a new token refused at once still fails."""
    issued = []

    def id_service(request: httpx.Request) -> httpx.Response:
        issued.append(f"a{len(issued) + 1}")
        return httpx.Response(200, json={"access_token": issued[-1], "refresh_token": f"r{len(issued)}",
                                         "expires_in": 3600})

    store = TokenStore(CID, R0)
    auth = OAuthRefreshAuth(CID, CSECRET, store, "1", "https://id.example/api/v2", user_agent="t (t@example.com)",
                            transport=httpx.MockTransport(id_service))

    def api(request: httpx.Request) -> httpx.Response:
        token = request.headers["Authorization"].removeprefix("Bearer ")
        if token == "a2" and "a2" not in auth._working:
            auth._mark_working("a2")  # the other threads used a2 meanwhile, then it expired as well
            return httpx.Response(401)
        return httpx.Response(401 if token in ("a1", "a2") else 200)

    with httpx.Client(auth=auth, transport=httpx.MockTransport(api)) as client:
        assert client.get("https://api.example/v2/users").status_code == 200
    assert issued == ["a1", "a2", "a3"] and auth.refreshes == 3

    def refusing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401)

    with (httpx.Client(auth=auth, transport=httpx.MockTransport(refusing)) as client,
          pytest.raises(HarvestAuthError, match="refused a freshly refreshed")):
        client.get("https://api.example/v2/users")
    assert auth.refreshes == 4  # the worked a3 refreshed once; the new a4 was refused before it ever worked
    auth.close()


# ------------------------------------------------------------------ the next process, revocation
def test_rotated_refresh_token_is_used_by_the_next_process(tmp_path):
    with oauth_sim() as sim:
        env = oauth_env(sim, tmp_path / "home", refresh_token=R0)
        db = ["--duckdb-file", str(tmp_path / "h.duckdb")]
        first = run_cli(db, env, cwd=tmp_path)
        assert first.returncode == EXIT_OK, first.stderr[-3000:]
        assert R0 not in sim.oauth.refresh_tokens  # spent: only the store knows the new one
        sim.mutate("create", key="projects")
        second = run_cli(db, env, cwd=tmp_path)  # same configuration, a new process
        assert second.returncode == EXIT_OK, second.stderr[-3000:]
        assert sim.oauth.counts["refused"] == 0 and sim.oauth.counts["refresh_token"] == 2
        stored = settings_for(sim).store().load()
        assert stored in sim.oauth.refresh_tokens
        for out in (first.stdout, first.stderr, second.stdout, second.stderr):
            assert not any(token in out for token in [*sim.oauth.issued, R0, CSECRET])


def test_a_new_configured_refresh_token_is_not_overridden_by_an_older_stored_one(tmp_path):
    with oauth_sim() as sim:
        TokenStore(CID, "brand-new-token").save("stale")  # a file for another seed must not matter
        settings = settings_for(sim)
        assert settings.store().load() == R0
        TokenStore(CID, R0).save("rotated")
        assert settings_for(sim).store().load() == "rotated"


def test_revoked_refresh_token_fails_clearly(tmp_path):
    with oauth_sim() as sim:
        httpx.post(f"{sim.base_url[:-3]}/__sim__/oauth/revoke", json={})
        refused = run_cli(["--duckdb-file", str(tmp_path / "h.duckdb")], oauth_env(sim, tmp_path / "home",
                                                                                   refresh_token=R0), cwd=tmp_path)
        assert refused.returncode == EXIT_FAILED
        assert "Harvest ID refused the refresh token: revoked, expired or already used" in refused.stderr
        assert "harvest-dlt --authorize" in refused.stderr
        assert R0 not in refused.stderr + refused.stdout and CSECRET not in refused.stderr + refused.stdout


def test_missing_oauth_settings_are_named(monkeypatch):
    monkeypatch.setenv("SOURCES__HARVEST__ACCOUNT_ID", "1")
    monkeypatch.setenv("SOURCES__HARVEST__CLIENT_ID", CID)
    with pytest.raises(HarvestConfigError, match="OAuth needs client_secret"):
        resolve_credentials()
    monkeypatch.setenv("SOURCES__HARVEST__CLIENT_SECRET", CSECRET)
    with pytest.raises(HarvestConfigError, match="no OAuth refresh token") as caught:
        resolve_credentials()
    assert "--authorize" in caught.value.hint
    monkeypatch.setenv("SOURCES__HARVEST__REFRESH_TOKEN", R0)
    credentials, account, _ = resolve_credentials()
    assert isinstance(credentials, OAuthSettings) and account == "1"
    assert R0 not in repr(credentials) and CSECRET not in repr(credentials)
    monkeypatch.setenv("SOURCES__HARVEST__ACCESS_TOKEN", "pat")
    assert resolve_credentials()[0] == "pat"  # a personal access token wins: single-account runs unchanged


# ------------------------------------------------------------------ the token store
def test_token_store_file_is_private_and_written_atomically(tmp_path):
    store = TokenStore(CID, R0, tmp_path / "tokens")
    with store.locked():
        store.save("rotated-1")
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.folder).st_mode) == 0o700
    assert json.loads(store.path.read_text())["refresh_token"] == "rotated-1"
    assert CID not in store.path.name and R0 not in store.path.name
    assert sorted(p.name for p in store.folder.iterdir()) == sorted([store.path.name, store.path.name[:-5] + ".lock"])


REFRESH_LOOP = """
import sys
from harvest_source.http.oauth import OAuthRefreshAuth
from harvest_source.token_store import TokenStore
cid, secret, seed, id_url, folder, n = sys.argv[1:7]
for _ in range(int(n)):
    auth = OAuthRefreshAuth(cid, secret, TokenStore(cid, seed, folder), "1", id_url, user_agent="t (t@example.com)")
    auth.access_token()
    auth.close()
"""


def test_two_processes_refreshing_at_once_take_turns(tmp_path):
    with oauth_sim() as sim:
        args = [CID, CSECRET, R0, sim.id_url, str(tmp_path / "tokens"), "15"]
        procs = [subprocess.Popen([sys.executable, "-c", REFRESH_LOOP, *args], stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        errors = [p.communicate(timeout=120)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errors
        assert sim.oauth.counts["refresh_token"] == 30 and sim.oauth.counts["refused"] == 0
        assert TokenStore(CID, R0, tmp_path / "tokens").load() in sim.oauth.refresh_tokens


# ------------------------------------------------------------------ harvest-dlt --authorize
def test_authorize_end_to_end_then_a_load_with_the_stored_token(tmp_path, loader_for):
    with oauth_sim() as sim:
        env = oauth_env(sim, tmp_path / "home")
        proc = subprocess.Popen([sys.executable, "-m", "harvest_source.cli", "--authorize"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        while not any("/oauth2/authorize?" in line for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        url = lines[-1].strip()
        assert url.startswith(f"{sim.base_url[:-3]}/id/oauth2/authorize?client_id={CID}&response_type=code")
        page = httpx.get(url, follow_redirects=True)  # what the browser does: Harvest ID, then 127.0.0.1
        assert page.status_code == 200 and "authorized" in page.text
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert f"account_id {sim.account_id}:" in out and "(forecast)" in out
        assert not any(token in out + err for token in sim.oauth.issued)
        assert sim.oauth.counts["authorization_code"] == 1
        # the next run needs only client_id and client_secret: the refresh token is in the store
        result = loader_for(sim, token=settings_for(sim, refresh_token=None)).run()
        assert result.exit_code == EXIT_OK, result.error


def test_authorize_without_an_oauth_app_says_what_to_set(capsys):
    from harvest_source.cli import main

    assert main(["--authorize"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "OAuth needs client_id and client_secret" in err and "secrets.toml" in err


def test_the_token_url_is_tried_again_after_a_5xx_and_gives_up_with_a_clear_error():
    """A short outage at Harvest ID (5xx, 429) must not fail a scheduled run; a long one fails it clearly."""
    from harvest_source.http.oauth import request_token
    from harvest_source.settings import OAUTH_TOKEN_ATTEMPTS

    answers = [httpx.Response(503), httpx.Response(429),
               httpx.Response(200, json={"access_token": "fresh", "expires_in": 3600})]
    waits: list[float] = []
    with httpx.Client(transport=httpx.MockTransport(lambda request: answers.pop(0))) as http:
        body = request_token(http, "http://id.test/api/v2", {"grant_type": "refresh_token"}, str, sleep=waits.append)
    assert body["access_token"] == "fresh" and len(waits) == 2 and not answers

    calls: list[int] = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(502)

    with httpx.Client(transport=httpx.MockTransport(down)) as http, pytest.raises(HarvestAuthError) as failed:
        request_token(http, "http://id.test/api/v2", {"grant_type": "refresh_token"}, str, sleep=waits.append)
    assert len(calls) == OAUTH_TOKEN_ATTEMPTS and "502" in str(failed.value) and "run again later" in str(failed.value)
