"""The deletion sweep's safety rules (``deletions``): nothing is deleted from a listing that cannot be
trusted, nor a record that changed while the sweep listed, nor another person's rows under a narrowed token."""

from __future__ import annotations

import httpx
import pytest

from harvest_source.deletions import SweepListing, deleted_ids, narrowed, orphaned_children, parse_deletes
from harvest_source.errors import HarvestConfigError
from harvest_source.simulator import run_simulator

START = "2026-12-06T10:00:00Z"
OLD = "2026-12-01T00:00:00Z"


def _listing(ids: list[int], total: int | None = None, pages: int = 1, total_pages: int | None = None) -> SweepListing:
    listing = SweepListing("time_entries")
    for n in range(pages):
        part = ids[n::pages]
        listing.add_page([{"id": i} for i in part], total if total is not None else len(ids),
                         total_pages if total_pages is not None else pages)
    return listing


def test_a_complete_listing_deletes_what_it_misses() -> None:
    warehouse = {1: OLD, 2: OLD, 3: OLD}
    assert deleted_ids(warehouse, _listing([1, 3]), START) == {2}


def test_a_failed_listing_deletes_nothing() -> None:
    listing = _listing([1])
    listing.fail("503 after retries")
    assert deleted_ids({1: OLD, 2: OLD}, listing, START) == set()
    assert listing.why_incomplete() == "503 after retries"


def test_a_403_deletes_nothing() -> None:
    listing = SweepListing("clients")
    listing.fail("403 Not authorized")
    assert deleted_ids({7: OLD}, listing, START) == set()


def test_a_listing_cut_short_by_pages_deletes_nothing() -> None:
    listing = _listing([1, 2], total=2, pages=1, total_pages=3)
    assert "1 of 3 pages" in (listing.why_incomplete() or "")
    assert deleted_ids({1: OLD, 2: OLD, 9: OLD}, listing, START) == set()


def test_a_listing_cut_short_by_ids_deletes_nothing() -> None:
    listing = _listing([1, 2], total=3)
    assert deleted_ids({1: OLD, 2: OLD, 9: OLD}, listing, START) == set()


def test_a_table_that_changed_length_while_listed_deletes_nothing() -> None:
    listing = SweepListing("time_entries")
    listing.add_page([{"id": 1}], 3, 2)
    listing.add_page([{"id": 2}], 2, 2)  # one deleted mid-listing: the pages shifted
    assert listing.why_incomplete() == "the table changed while it was listed"
    assert deleted_ids({1: OLD, 2: OLD, 3: OLD}, listing, START) == set()


def test_a_record_changed_while_the_sweep_listed_is_kept() -> None:
    listing = _listing([1])
    # 2 moved out of the listing because it changed (Harvest reports it changed since the start); 3's
    # warehouse copy is itself newer than the sweep's start; 4 is really gone
    warehouse = {1: OLD, 2: OLD, 3: "2026-12-06T10:00:05Z", 4: OLD}
    assert deleted_ids(warehouse, listing, START, changed_since_start=[2]) == {4}


def test_a_narrowed_token_never_deletes_from_narrowed_tables() -> None:
    member = {"id": 5, "access_roles": ["member"]}
    admin = {"id": 1, "access_roles": ["administrator"]}
    assert narrowed("time_entries", member) and narrowed("expenses", member)
    assert narrowed("time_entries", None)  # role unknown: never trust the listing
    assert not narrowed("time_entries", admin)
    assert not narrowed("clients", member)  # a member gets a 403 there, which deletes nothing anyway


def test_children_of_a_parent_with_none_left_and_of_a_deleted_parent_go() -> None:
    warehouse = {10: [1, 2], 11: [3], 12: [4], 13: [5]}
    gone = orphaned_children(parents_read=[10, 11, 12], warehouse_children=warehouse,
                             children_read={10: [1], 11: [3]}, deleted_parents=[13])
    assert gone == {10: {2}, 12: {4}, 13: {5}}  # 12: its last child was deleted; 13: the parent went


def test_the_deletes_setting() -> None:
    assert [parse_deletes(v) for v in ("hard", " SOFT ", "off")] == ["hard", "soft", "off"]
    with pytest.raises(HarvestConfigError, match="hard, soft or off"):
        parse_deletes("sometimes")


def test_the_simulator_pages_say_what_a_complete_listing_is() -> None:
    """The fields the completeness rule reads, over real HTTP: total_entries and total_pages."""
    with run_simulator(scale="tiny", seed=3) as sim:
        listing = SweepListing("time_entries")
        url = f"{sim.base_url}/time_entries?per_page=2000"
        while url:
            body = httpx.get(url, headers=sim.headers()).json()
            listing.add_page(body["time_entries"], body.get("total_entries"), body.get("total_pages"))
            url = (body.get("links") or {}).get("next")
        assert listing.why_incomplete() is None
        assert len(listing.ids) == sim.account().counts()["time_entries"]
