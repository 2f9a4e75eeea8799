"""The simulator's several accounts (issue #15 §3), over real HTTP on 127.0.0.1: requests reach the account
their Harvest-Account-Id names and no other, each account has its own data, ids, rate-limit buckets, state
and faults; Harvest ID lists every account plus the Forecast one, for a personal access token and for OAuth."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from harvest_source.simulator import Simulator, run_simulator
from harvest_source.simulator.__main__ import build_parser
from harvest_source.simulator.oauth import FORECAST_ACCOUNT_ID

UA = "harvest-dlt simulator accounts tests (dev@example.com)"
PAT, MEMBER = "pat-admin", "pat-member"
CID, SECRET, R0 = "sim-client", "sim-client-secret", "initial-refresh-token"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with run_simulator("tiny", seed=1, accounts=3, token=PAT, member_token=MEMBER) as s:
        yield s


def _get(sim: Simulator, path: str, account: int | str, token: str = PAT, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": UA}
    if account is not None:
        headers["Harvest-Account-Id"] = str(account)
    return httpx.get(f"{sim.base_url}{path}", headers=headers, params=params)


def _ids(sim: Simulator, path: str, account: int, key: str) -> set[int]:
    answer = _get(sim, path, account, per_page="2000")
    assert answer.status_code == 200
    return {r["id"] for r in answer.json()[key]}


def _control(sim: Simulator, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, f"{sim.base_url[:-3]}/__sim__{path}", **kwargs)


def test_accounts_have_their_own_ids_names_and_data(sim):
    ids = sim.account_ids
    assert len(ids) == 3 and ids[0] == sim.account_id and len(set(ids)) == 3
    names = [_get(sim, "/company", a).json()["name"] for a in ids]
    assert len(set(names)) == 3 and names == [sim.account(a).name for a in ids]
    users = [_ids(sim, "/users", a, "users") for a in ids]
    entries = [_ids(sim, "/time_entries", a, "time_entries") for a in ids]
    for i in range(3):
        assert users[i] == {u["id"] for u in sim.account(ids[i]).records("users")}
        for j in range(i + 1, 3):
            assert not users[i] & users[j] and not entries[i] & entries[j]  # no id shared between accounts
    me = [_get(sim, "/users/me", a).json()["id"] for a in ids]
    assert me == [sim.account(a).admin_user_id for a in ids] and me[0] == sim.admin_user_id


def test_the_account_id_query_parameter_routes_too_and_unknown_accounts_get_invalid_token(sim):
    second = sim.account_ids[1]
    by_query = _get(sim, "/company", None, account_id=str(second))
    assert by_query.status_code == 200 and by_query.json()["name"] == sim.account(second).name
    for account in (FORECAST_ACCOUNT_ID, max(sim.account_ids) + 1, "abc", None):
        refused = _get(sim, "/company", account)
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    assert _get(sim, "/company", second, token="not-the-pat").status_code == 401


def test_the_member_token_is_a_member_of_every_account(sim):
    for account in sim.account_ids:
        me = _get(sim, "/users/me", account, token=MEMBER).json()
        assert me["id"] == sim.account(account).member_user_id
        assert _get(sim, "/invoices", account, token=MEMBER).status_code == 403


def test_a_mutation_changes_its_account_only(sim):
    first, second, third = sim.account_ids
    before = {a: _get(sim, "/clients", a).json()["clients"] for a in sim.account_ids}
    client = before[second][0]["id"]
    changed = _control(sim, "POST", "/mutate", json={"account": second, "kind": "update", "key": "clients",
                                                      "id": client, "fields": {"name": "Renamed Ltd"}})
    assert changed.status_code == 200
    after = {a: _get(sim, "/clients", a).json()["clients"] for a in sim.account_ids}
    assert after[first] == before[first] and after[third] == before[third]
    assert next(c for c in after[second] if c["id"] == client)["name"] == "Renamed Ltd"
    assert _get(sim, f"/clients/{client}", first).status_code == 404  # that id is not the first account's
    touched = sim.account(third).mutate_random(0.5, seed=3)
    assert touched and _get(sim, "/clients", first).json()["clients"] == before[first]
    counts = _control(sim, "GET", "/counts", params={"account": third}).json()
    assert counts == sim.account(third).counts()


def test_id_service_lists_every_account_and_the_forecast_one_for_a_pat(sim):
    expected = [(a, "harvest") for a in sim.account_ids] + [(FORECAST_ACCOUNT_ID, "forecast")]
    for token in (PAT, MEMBER):
        doc = httpx.get(f"{sim.id_url}/accounts", headers={"Authorization": f"Bearer {token}", "User-Agent": UA})
        assert doc.status_code == 200
        assert [(a["id"], a["product"]) for a in doc.json()["accounts"]] == expected
        assert [a["name"] for a in doc.json()["accounts"][:3]] == [sim.account(a).name for a in sim.account_ids]
    refused = httpx.get(f"{sim.id_url}/accounts", headers={"Authorization": "Bearer wrong", "User-Agent": UA})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"


def test_one_account_fails_while_the_others_answer(sim):
    first, second, third = sim.account_ids
    expected = {"revoked": (401, "invalid_token"), "down": (503, None), "forbidden": (403, None)}
    try:
        for state, (status, error) in expected.items():
            assert _control(sim, "POST", f"/accounts/{second}", json={"state": state}).json()["state"] == state
            failed = _get(sim, "/time_entries", second)
            assert failed.status_code == status and (error is None or failed.json()["error"] == error)
            assert _get(sim, "/time_entries", first).status_code == 200
            assert _get(sim, "/time_entries", third).status_code == 200
        listed = _control(sim, "GET", "/accounts").json()["accounts"]
        assert [a["state"] for a in listed] == ["ok", "forbidden", "ok"]
    finally:
        _control(sim, "POST", f"/accounts/{second}", json={"state": "ok"})
    assert _get(sim, "/time_entries", second).status_code == 200
    assert _control(sim, "POST", f"/accounts/{second}", json={"state": "asleep"}).status_code == 422


def test_an_account_can_fail_in_the_middle_of_a_load(sim):
    first, second, _ = sim.account_ids
    try:
        pending = _control(sim, "POST", f"/accounts/{second}", json={"state": "revoked", "after": 2}).json()
        assert pending["state"] == "ok" and pending["pending_state"] == {"state": "revoked", "after": 2}
        assert [_get(sim, "/users", second).status_code for _ in range(4)] == [200, 200, 401, 401]
        assert _get(sim, "/users", first).status_code == 200
    finally:
        sim.set_account_state(second, "ok")
    assert _get(sim, "/users", second).status_code == 200


def test_faults_and_stats_per_account(sim):
    first, second, _ = sim.account_ids
    _control(sim, "POST", "/reset")
    assert _control(sim, "POST", "/faults", json={"account": second, "rules": [{"kind": "500", "count": 2}]}).is_success
    assert [_get(sim, "/company", second).status_code for _ in range(3)] == [500, 500, 200]
    assert _get(sim, "/company", first).status_code == 200
    stats = _control(sim, "GET", "/stats", params={"account": second}).json()
    assert stats["total"] == 3 and stats["by_status"] == {"500": 2, "200": 1}
    assert sim.account(first).stats()["total"] == 1 and sim.stats()["total"] == 4  # sim.stats(): every request
    _control(sim, "POST", "/faults", json={"account": second, "rules": [{"kind": "503", "probability": 1.0}]})
    assert _get(sim, "/company", second).status_code == 503 and _get(sim, "/company", first).status_code == 200
    assert _control(sim, "DELETE", "/faults", params={"account": second}).is_success
    assert _get(sim, "/company", second).status_code == 200


def test_rate_limits_are_per_token_and_account():
    # time_scale < 1 widens the windows (15 s -> 1500 s): the test cannot outlast a window on a slow machine
    with run_simulator("tiny", accounts=2, rate_limit="harvest", time_scale=0.01, token=PAT,
                       member_token=MEMBER) as sim, httpx.Client(base_url=sim.base_url) as http:
        first, second = sim.account_ids

        def get(path: str, account: int, token: str = PAT, **params: str) -> int:
            headers = {"Authorization": f"Bearer {token}", "User-Agent": UA, "Harvest-Account-Id": str(account)}
            return http.get(path, headers=headers, params=params).status_code

        assert [get("/company", first) for _ in range(100)] == [200] * 100
        over = http.get("/company", headers=sim.headers(PAT, first))
        assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
        assert get("/company", second) == 200  # the same token, another account's bucket
        assert get("/company", first, token=MEMBER) == 200  # another token, the same account
        period = {"from": "20240101", "to": "20241201"}
        assert [get("/reports/time/clients", second, **period) for _ in range(100)] == [200] * 100
        assert get("/reports/time/team", second, **period) == 429
        assert get("/reports/time/team", first, **period) == 200  # the first account's reports bucket
        assert get("/users", second) == 200  # the second account's general bucket: 2 of 100 used
        assert sim.account(first).stats()["by_status"]["429"] == 1
        assert sim.account(second).stats()["by_status"]["429"] == 1


def _oauth_refresh(sim: Simulator, refresh: str) -> dict:
    answer = httpx.post(f"{sim.id_url}/oauth2/token", data={"client_id": CID, "client_secret": SECRET,
                                                           "grant_type": "refresh_token", "refresh_token": refresh})
    assert answer.status_code == 200, answer.text
    return answer.json()


def _listed(sim: Simulator, access: str) -> list[int]:
    doc = httpx.get(f"{sim.id_url}/accounts", headers={"Authorization": f"Bearer {access}", "User-Agent": UA})
    assert doc.status_code == 200
    return [a["id"] for a in doc.json()["accounts"]]


def test_oauth_reaches_every_account_and_revoking_one_account_leaves_the_others():
    with run_simulator("tiny", accounts=3, token=PAT, oauth_client_id=CID, oauth_client_secret=SECRET,
                       refresh_token=R0) as sim:
        first, second, third = sim.account_ids
        body = _oauth_refresh(sim, R0)
        assert _listed(sim, body["access_token"]) == [first, second, third, FORECAST_ACCOUNT_ID]
        assert all(_get(sim, "/company", a, token=body["access_token"]).status_code == 200 for a in sim.account_ids)
        assert _control(sim, "POST", "/oauth/revoke", json={"account": second}).json() == {"revoked": 1}
        denied = _get(sim, "/company", second, token=body["access_token"])
        assert denied.status_code == 401 and denied.json()["error"] == "invalid_token"
        assert _get(sim, "/company", third, token=body["access_token"]).status_code == 200
        assert _get(sim, "/company", second).status_code == 200  # the PAT is not the app's grant
        assert _listed(sim, PAT) == [first, second, third, FORECAST_ACCOUNT_ID]  # and lists every account
        renewed = _oauth_refresh(sim, body["refresh_token"])  # the grant still works for the others
        assert _listed(sim, renewed["access_token"]) == [first, third, FORECAST_ACCOUNT_ID]
        assert _get(sim, "/company", second, token=renewed["access_token"]).status_code == 401


def test_oauth_grants_scoped_to_one_account():
    with run_simulator("tiny", accounts=2, oauth_client_id=CID, oauth_client_secret=SECRET) as sim:
        first, second = sim.account_ids
        page = httpx.get(f"{sim.base_url[:-3]}/id/oauth2/authorize",
                         params={"client_id": CID, "response_type": "code", "redirect_uri": "http://127.0.0.1:9/cb",
                                 "scope": f"harvest:{second}"})
        query = {k: v[0] for k, v in parse_qs(urlsplit(page.headers["Location"]).query).items()}
        assert query["scope"] == f"harvest:{second}"
        access = httpx.post(f"{sim.id_url}/oauth2/token", data={
            "client_id": CID, "client_secret": SECRET, "grant_type": "authorization_code",
            "code": query["code"]}).json()["access_token"]
        assert _listed(sim, access) == [second, FORECAST_ACCOUNT_ID]
        assert _get(sim, "/company", second, token=access).status_code == 200
        assert _get(sim, "/company", first, token=access).status_code == 401
        granted = _control(sim, "POST", "/oauth/grant", json={"accounts": [first]}).json()["refresh_token"]
        access = _oauth_refresh(sim, granted)["access_token"]
        assert _listed(sim, access) == [first, FORECAST_ACCOUNT_ID]
        assert _get(sim, "/company", first, token=access).status_code == 200


def test_one_account_is_the_default_and_the_command_line_takes_accounts():
    with run_simulator("tiny") as sim:
        assert sim.account_ids == [sim.account_id] and sim.account() is sim.account(sim.account_id)
        assert httpx.get(f"{sim.base_url[:-3]}/__sim__/config").json()["account_ids"] == [sim.account_id]
    assert build_parser().parse_args([]).accounts == 1
    assert build_parser().parse_args(["--accounts", "4"]).accounts == 4
