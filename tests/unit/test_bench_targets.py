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
    t.against_capped("ingest", ours, "peer", 5, "raw")
    [(_, _, _, _, _, goal, result)] = t.rows
    assert goal.startswith(bar) and result == verdict


@pytest.mark.parametrize(("ours_100", "bar", "verdict"), [
    (None, "≥ 0.5×", "FAIL"),  # no figure of batches of 100: the target as it stands
    (16000, "≥ 0.5×", "FAIL"),  # as much in batches of 100 without HTTP: the target itself
    (9000, "≥ 0.28× (0.5×, capped: our `publish_many`, 4 callers, a batch of 100 each at a time is 0.56× our "
           "`publish_many`, atomic batches of 1,000)", "PASS"),
])
def test_http_batches_of_100_against_publish_many_of_1000_are_capped_by_the_same_load_without_http(
        ours_100: int | None, bar: str, verdict: str):
    """nats-server stages each atomic batch at a fixed cost: where `publish_many` from 4 callers in batches of
    100 reaches less than twice the bar, the bar is half of what it reaches; it is shown beside, without a
    target."""
    f = {"http_100": 7000, "ours_atomic": 16000} | ({"ours_100": ours_100} if ours_100 else {})
    t = Table(f, ingest_labels(512))
    ingest_rows(t, 512)
    (_, _, ref, _, ratio, goal, result), *beside = t.rows
    assert (ref, ratio, result) == ("our `publish_many`, atomic batches of 1,000", "0.44×", verdict)
    assert goal == bar
    assert [(b[2], b[6]) for b in beside] == (
        [("our `publish_many`, 4 callers, a batch of 100 each at a time", "—")] if ours_100 else [])
