"""The lookup's Bloom filter of (source, id) keys: never a false negative, few false positives."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.http.lookup import SeenIds

pytestmark = pytest.mark.unit


SOURCES = ("/provinces/ha-tinh/agencies/so-ngoai-vu", "/provinces/ha-tinh/agencies/doingoai")


@given(st.lists(st.tuples(st.sampled_from(SOURCES), st.text(min_size=1, max_size=128)), max_size=300),
       st.integers(min_value=1, max_value=5000))
def test_every_key_added_may_be_held(keys: list[tuple[str, str]], capacity: int):
    seen = SeenIds(capacity)
    for key in keys:
        seen.add(key)
    assert all(seen.may_hold(key) for key in keys)
    assert seen.count == len(keys)


def test_keys_never_added_are_mostly_told_apart_up_to_the_capacity():
    """Another source's equal id is a key never added, as is an unseen id."""
    seen = SeenIds(20_000)
    ids = [str(uuid.uuid4()) for _ in range(20_000)]
    for event_id in ids:
        seen.add((SOURCES[0], event_id))
    others = [(SOURCES[0], str(uuid.uuid4())) for _ in range(10_000)] + [(SOURCES[1], i) for i in ids[:10_000]]
    false_positives = sum(seen.may_hold(key) for key in others)
    assert false_positives < 0.03 * len(others)  # about 1% expected
    assert not SeenIds(10).may_hold((SOURCES[0], "anything"))  # an empty filter holds nothing
