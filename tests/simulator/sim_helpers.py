"""Helpers shared by the simulator tests (a uniquely named module: tests here are not a package)."""

from __future__ import annotations

import httpx

from harvest_source.simulator import Simulator

MEMBER_TOKEN = "member-token"
UA = "harvest-dlt simulator tests (dev@example.com)"


def client_for(sim: Simulator, token: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=sim.base_url,
        headers={
            "Authorization": f"Bearer {token or sim.admin_token}",
            "Harvest-Account-Id": str(sim.account_id),
            "User-Agent": UA,
        },
        timeout=10,
    )


def fetch_all(client: httpx.Client, path: str, params: dict | None = None) -> tuple[list[dict], list[dict]]:
    """Follow links.next from the first page; returns (records, envelopes)."""
    resp = client.get(path, params=params)
    resp.raise_for_status()
    docs = [resp.json()]
    while docs[-1]["links"]["next"]:
        assert len(docs) < 10_000
        resp = client.get(docs[-1]["links"]["next"])
        resp.raise_for_status()
        docs.append(resp.json())
    key = next(iter(docs[0]))
    return [rec for d in docs for rec in d[key]], docs
