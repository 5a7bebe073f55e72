"""What a command only reads is checked where it is written (``optimistic_reads``).

A case command takes its keys, department, item and applicant from the process's cache
without a round trip; the write checks, under the write lock, that none of them moved on
since. These tests change a read aggregate from *another* process (a second ledger on the
same database) after this one cached it, and expect the next command to see the change —
refused, with nothing recorded — on both backends (SQLite reads afresh; PostgreSQL catches
the stale copy at the write, drops it and retries).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.chain.recorders.base import StaleReference
from ledger.domain.catalogue import ServiceItem
from ledger.domain.rules import ServiceItemWithdrawn
from ledger.services.application import KeyNotUsable, open_ledger
from ledger.services.cases import ServiceItemNotFound
from tests.ledger.case_world import FOOD, World, build_world, food_guide, opened_world


@pytest.fixture
def world(storage_url: str, tmp_path: Path) -> Iterator[World]:
    with opened_world(storage_url, tmp_path) as w:
        yield w


def test_a_key_revoked_elsewhere_is_refused_though_this_process_had_it_cached(
    world: World,
) -> None:
    world.submit_food(channel="window")  # the seal key, department and item are cached now
    elsewhere = open_ledger(world.url)
    try:
        elsewhere.revoke_key(world.food.key_id, "compromised", by=world.platform)
    finally:
        elsewhere.close()
    head = world.head()
    with pytest.raises(KeyNotUsable):
        world.submit_food(channel="window")
    assert world.head() == head


def test_an_item_withdrawn_elsewhere_is_refused_though_this_process_had_it_cached(
    world: World,
) -> None:
    world.submit_food()
    elsewhere = open_ledger(world.url)
    try:
        item = elsewhere.repository.get(ServiceItem.id_for(FOOD))
        item.withdraw("replaced by a new item")
        elsewhere.save_signed(item, signer=world.food)
    finally:
        elsewhere.close()
    head = world.head()
    with pytest.raises(ServiceItemWithdrawn):
        world.submit_food()
    assert world.head() == head


@pytest.mark.postgres
def test_a_save_whose_read_moved_on_records_nothing(pg_schema_url: str, tmp_path: Path) -> None:
    world = build_world(pg_schema_url, tmp_path)
    try:
        person = world.ledger.reference(world.person.id)
        stale = ((person.id, person.version - 1),)  # as if read one version ago
        item = world.ledger.repository.get(ServiceItem.id_for(FOOD))
        item.withdraw("replaced by a new item")
        head = world.head()
        with pytest.raises(StaleReference) as caught:
            world.ledger.save(item, signer=world.food, reads=stale)
        assert caught.value.stale == (person.id,)
        assert world.head() == head
        again = world.ledger.repository.get(ServiceItem.id_for(FOOD))  # the save took its events
        again.withdraw("replaced by a new item")
        world.ledger.save(again, signer=world.food, reads=((person.id, person.version),))
        assert world.head() > head  # read as it is: written
    finally:
        world.ledger.close()


def test_an_item_published_elsewhere_after_this_process_found_none_can_be_applied_for(
    world: World,
) -> None:
    code = FOOD.replace("-01", "-02")
    with pytest.raises(ServiceItemNotFound):  # found absent: remembered by this process
        world.submit_food(item_code=code)
    elsewhere = open_ledger(world.url)
    try:
        guide = food_guide(implementation_code=code)
        elsewhere.save_signed(ServiceItem.publish(guide), signer=world.food)
    finally:
        elsewhere.close()
    assert world.submit_food(item_code=code).serial
