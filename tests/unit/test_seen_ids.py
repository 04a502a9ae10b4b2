"""The id lookup's Bloom filter: never a false negative, few false positives."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.http.lookup import SeenIds

pytestmark = pytest.mark.unit


@given(st.lists(st.text(min_size=1, max_size=128), max_size=300), st.integers(min_value=1, max_value=5000))
def test_every_id_added_may_be_held(ids: list[str], capacity: int):
    seen = SeenIds(capacity)
    for event_id in ids:
        seen.add(event_id)
    assert all(seen.may_hold(event_id) for event_id in ids)
    assert seen.count == len(ids)


def test_ids_never_added_are_mostly_told_apart_up_to_the_capacity():
    seen = SeenIds(20_000)
    for _ in range(20_000):
        seen.add(str(uuid.uuid4()))
    others = [str(uuid.uuid4()) for _ in range(20_000)]
    false_positives = sum(seen.may_hold(event_id) for event_id in others)
    assert false_positives < 0.03 * len(others)  # about 1% expected
    assert not SeenIds(10).may_hold("anything")  # an empty filter holds nothing
