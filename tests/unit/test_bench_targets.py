"""A multiple of the peer is a bar only as far as the server alone reaches: never more than half of
its own multiple, and no jump as its multiple passes the target."""

from __future__ import annotations

import pytest

from bench.targets import Table, ingest_labels, ingest_rows


@pytest.mark.parametrize(("server", "ours", "bar", "verdict"), [
    (3000, 1600, "≥ 1.5×", "PASS"),  # the server reaches 3×: half of it
    (5100, 2000, "≥ 2.55×", "FAIL"),  # 5.1×, just past the 5× target: still half of it, no jump to 5×
    (12000, 5000, "≥ 5×", "PASS"),  # twice the target and more: the target itself
])
def test_a_peer_multiple_is_capped_by_half_of_what_the_server_reaches(server: int, ours: int, bar: str, verdict: str):
    t = Table({"peer": 1000, "raw": server}, {"peer": "peer", "raw": "raw"})
    t.against_peer("ingest", ours, "peer", 5, "raw")
    [(_, _, _, _, _, goal, result)] = t.rows
    assert goal.startswith(bar) and result == verdict


def test_http_batches_are_held_to_publish_many_of_1000_and_shown_beside_the_same_load_without_http():
    """The target row stays against `publish_many` in batches of 1,000; the same load (4 callers, batches
    of 100) without HTTP is shown beside it, without a target."""
    t = Table({"http_100": 7000, "ours_atomic": 16000, "ours_100": 8750}, ingest_labels(512))
    ingest_rows(t, 512)
    assert [(r[2], r[4], r[5], r[6]) for r in t.rows] == [
        ("our `publish_many`, atomic batches of 1,000", "0.44×", "≥ 0.5×", "FAIL"),
        ("our `publish_many`, 4 callers, a batch of 100 each at a time", "0.80×", "—", "—"),
    ]
