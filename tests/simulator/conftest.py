"""Fixtures for the simulator's own tests: one tiny account per module, real HTTP over 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sim_helpers import MEMBER_TOKEN, client_for

from harvest_source.simulator import Simulator, run_simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with run_simulator("tiny", seed=1, member_token=MEMBER_TOKEN) as s:
        yield s


@pytest.fixture(scope="module")
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(sim) as c:
        yield c


@pytest.fixture(scope="module")
def member(sim: Simulator) -> Iterator[httpx.Client]:
    with client_for(sim, MEMBER_TOKEN) as c:
        yield c
