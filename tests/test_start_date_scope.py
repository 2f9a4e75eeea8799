"""start_date means the facts, not the dimensions (issue 14 section 3): dimensions load whole, dated facts from
start_date, and a view that cannot be built is a WARNING in the summary."""

from __future__ import annotations

import pytest

from harvest_source.runner import EXIT_OK
from harvest_source.simulator import run_simulator
from harvest_source.summary import format_summary


@pytest.fixture
def sim():
    with run_simulator(scale="tiny", seed=7) as simulator:
        yield simulator


def test_start_date_bounds_facts_and_dimensions_load_whole(sim, loader_for):
    stamps = sorted(r["updated_at"] for r in sim.records("time_entries"))
    middle = stamps[len(stamps) // 2][:10]
    loader = loader_for(sim)
    tables = ["time_entries", "users", "projects", "clients", "contacts", "tasks"]
    result = loader.run(resources=tables, start_date=middle)
    assert result.exit_code == EXIT_OK, result.error
    expected = sum(1 for s in stamps if s >= f"{middle}T00:00:00Z")
    assert 0 < loader.count("time_entries") == expected < len(stamps)
    for table in tables[1:]:
        assert loader.count(table) == len(sim.records(table)), table
    sent = [r["query"] for r in sim.stats()["requests"] if r["path"] == "/v2/users"]
    assert sent and not any("updated_since" in q for q in sent[:1])


def test_a_view_that_cannot_be_built_is_a_warning_in_the_summary(sim, loader_for):
    result = loader_for(sim).run(resources=["time_entries"])
    assert result.exit_code == EXIT_OK, result.error
    assert "v_time_entries" in result.views_not_created
    text = format_summary(result)
    assert "WARNING: view v_time_entries not created: table(s) users, clients, projects, tasks not loaded" in text
