"""A multiple of the peer is a bar only as far as the server alone reaches: never more than half of
its own multiple, and no jump as its multiple passes the target."""

from __future__ import annotations

import pytest

from bench.targets import Table


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
