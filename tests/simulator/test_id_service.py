"""The simulator's Harvest ID (reference 1.3): token grants, rotating refresh tokens, access tokens that
expire (by lifetime, by use count, on demand), the authorize page, the accounts list, revocation."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sim_helpers import UA

from harvest_source.simulator import Simulator, run_simulator
from harvest_source.simulator.__main__ import build_parser
from harvest_source.simulator.oauth import FORECAST_ACCOUNT_ID

CID, SECRET, R0 = "sim-client", "sim-client-secret", "initial-refresh-token"


@pytest.fixture()
def sim() -> Iterator[Simulator]:
    with run_simulator("tiny", seed=1, token="pat-only", oauth_client_id=CID, oauth_client_secret=SECRET,
                       refresh_token=R0, token_lifetime_s=3600) as s:
        yield s


def _token(sim: Simulator, **form: str) -> httpx.Response:
    return httpx.post(f"{sim.id_url}/oauth2/token", data={"client_id": CID, "client_secret": SECRET, **form},
                      headers={"User-Agent": UA})


def _refresh(sim: Simulator, token: str) -> httpx.Response:
    return _token(sim, grant_type="refresh_token", refresh_token=token)


def _me(sim: Simulator, access: str) -> int:
    return httpx.get(f"{sim.base_url}/users/me", headers={**sim.headers(access)}).status_code


def test_refresh_grant_returns_a_working_access_token_and_rotates_the_refresh_token(sim):
    answer = _refresh(sim, R0)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600 and body["refresh_token"] != R0
    assert _me(sim, body["access_token"]) == 200
    again = _refresh(sim, R0)  # the old refresh token stopped working
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert _refresh(sim, body["refresh_token"]).status_code == 200
    assert sim.oauth.counts["refresh_token"] == 2 and sim.oauth.counts["refused"] == 1


def test_json_token_requests_are_accepted_too(sim):
    answer = httpx.post(f"{sim.id_url}/oauth2/token", json={"client_id": CID, "client_secret": SECRET,
                                                          "grant_type": "refresh_token", "refresh_token": R0})
    assert answer.status_code == 200


def test_wrong_client_secret_and_unknown_grant_are_refused(sim):
    wrong = httpx.post(f"{sim.id_url}/oauth2/token", data={"client_id": CID, "client_secret": "nope",
                                                         "grant_type": "refresh_token", "refresh_token": R0})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert _token(sim, grant_type="password").json()["error"] == "unsupported_grant_type"
    assert _refresh(sim, R0).status_code == 200  # a refused request did not spend the token


def test_access_tokens_expire_by_lifetime_use_count_and_on_demand():
    with run_simulator("tiny", oauth_client_id=CID, oauth_client_secret=SECRET, refresh_token=R0,
                       token_lifetime_s=0) as sim:  # born expired
        body = _refresh(sim, R0).json()
        assert body["expires_in"] == 0 and _me(sim, body["access_token"]) == 401
    with run_simulator("tiny", token="pat-only", oauth_client_id=CID, oauth_client_secret=SECRET,
                       refresh_token=R0) as sim:
        root = sim.base_url[:-3]
        assert httpx.post(f"{root}/__sim__/oauth", json={"expire_every_calls": 2}).json()["expire_every_calls"] == 2
        body = _refresh(sim, R0).json()
        assert [_me(sim, body["access_token"]) for _ in range(3)] == [200, 200, 401]
        httpx.post(f"{root}/__sim__/oauth", json={"expire_every_calls": None})
        body = _refresh(sim, body["refresh_token"]).json()
        assert _me(sim, body["access_token"]) == 200
        assert httpx.post(f"{root}/__sim__/oauth/expire").json()["expired"] == 2
        denied = httpx.get(f"{sim.base_url}/users/me", headers=sim.headers(body["access_token"]))
        assert denied.status_code == 401 and denied.json()["error"] == "invalid_token"
        assert _me(sim, "pat-only") == 200  # the personal access token still works beside OAuth


def test_revocation_through_sim_control_stops_refresh_and_access_tokens(sim):
    body = _refresh(sim, R0).json()
    root = sim.base_url[:-3]
    assert httpx.post(f"{root}/__sim__/oauth/revoke", json={}).json() == {"revoked": 1}
    assert _refresh(sim, body["refresh_token"]).json()["error"] == "invalid_grant"
    assert _me(sim, body["access_token"]) == 401
    assert httpx.get(f"{root}/__sim__/oauth").json()["live_refresh_tokens"] == 0


def test_authorize_page_redirects_with_a_code_that_works_once(sim):
    redirect = "http://127.0.0.1:9/callback"
    for path in ("/id/oauth2/authorize", "/id/api/v2/oauth2/authorize"):
        page = httpx.get(sim.base_url[:-3] + path, params={"client_id": CID, "response_type": "code",
                                                           "redirect_uri": redirect, "state": "xyz"})
        assert page.status_code == 302
    location = urlsplit(page.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["state"] == "xyz" and query["scope"] == "harvest:all"
    first = _token(sim, grant_type="authorization_code", code=query["code"])
    assert first.status_code == 200 and _me(sim, first.json()["access_token"]) == 200
    assert _token(sim, grant_type="authorization_code", code=query["code"]).json()["error"] == "invalid_grant"
    unknown = httpx.get(sim.base_url[:-3] + "/id/oauth2/authorize", params={"client_id": "x", "response_type": "code"})
    assert unknown.status_code == 400


def test_accounts_lists_the_harvest_account_and_one_forecast_account(sim):
    access = _refresh(sim, R0).json()["access_token"]
    doc = httpx.get(f"{sim.id_url}/accounts", headers={"Authorization": f"Bearer {access}", "User-Agent": UA}).json()
    assert [(a["id"], a["product"]) for a in doc["accounts"]] == [(sim.account_id, "harvest"),
                                                                  (FORECAST_ACCOUNT_ID, "forecast")]
    assert doc["user"]["id"]
    assert httpx.get(f"{sim.id_url}/accounts", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_token_requests_bypass_the_api_rate_limit_and_stats():
    with run_simulator("tiny", rate_limit="harvest", oauth_client_id=CID, oauth_client_secret=SECRET,
                       refresh_token=R0) as sim:
        token = R0
        for _ in range(120):  # more than 100 per 15 s: never a 429 on the ID service
            answer = _refresh(sim, token)
            assert answer.status_code == 200
            token = answer.json()["refresh_token"]
        assert sim.stats()["total"] == 0


def test_command_line_flags_reach_the_simulator():
    args = build_parser().parse_args(["--oauth-client-id", "c", "--oauth-client-secret", "s", "--refresh-token",
                                      "r", "--token-lifetime-s", "5"])
    assert (args.oauth_client_id, args.oauth_client_secret, args.refresh_token, args.token_lifetime_s) == (
        "c", "s", "r", 5.0)
    assert build_parser().parse_args([]).oauth_client_id is None


def test_no_oauth_app_means_no_id_service():
    with run_simulator("tiny") as sim:
        assert sim.oauth is None
        assert httpx.post(f"{sim.id_url}/oauth2/token", data={}).status_code != 200
