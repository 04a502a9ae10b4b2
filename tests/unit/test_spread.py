"""Connections spread over the HTTP workers (`services.http.spread`): a worker over its share of all
the workers' connections closes one at a time, never a lone worker's, never below its share."""

from __future__ import annotations

import httpx

from services.http.spread import CLOSE_GAP_S, REPORT_S, SEEN_S, Spread


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def clients(count: int, first: int = 40000) -> list[tuple[str, int]]:
    return [("10.0.0.7", first + n) for n in range(count)]


def test_a_lone_worker_keeps_every_connection():
    clock = Clock()
    spread = Spread(clock)
    assert not any(spread.served(c) for c in clients(8))
    spread.share(1, lambda count: None)
    assert not any(spread.served(c) for c in clients(8))
    assert spread.seen == {}  # nothing to count where nothing is spread


def test_a_worker_over_its_share_closes_one_connection_per_gap_until_it_holds_its_share():
    clock, told = Clock(), []
    spread = Spread(clock)
    spread.share(2, told.append)
    spread.heard("other", 2)
    mine = clients(6)
    closed = [c for c in mine if spread.served(c)]
    assert closed == [mine[3]]  # 4 of 6: over 3; one only, until the counts hear where it went
    assert told == [1]  # the first request told the count it had then
    kept = [mine[n] for n in (0, 1, 2, 4, 5)]
    clock.now += CLOSE_GAP_S + 1e-6
    spread.heard("other", 3)  # the closed one went there
    closed = [c for c in kept if spread.served(c)]
    assert closed == [mine[0]] and told[-1] == 5
    clock.now += CLOSE_GAP_S + 1e-6
    spread.heard("other", 4)
    assert not any(spread.served(c) for c in kept[1:])  # 4 of 8: its share
    assert told[-1] == 4


def test_idle_connections_and_silent_workers_count_for_nothing():
    clock, told = Clock(), []
    spread = Spread(clock)
    spread.share(2, told.append)
    spread.heard("other", 3)
    assert not any(spread.served(c) for c in clients(3))
    clock.now += SEEN_S + REPORT_S  # the three went quiet
    spread.heard("other", 2)
    assert not any(spread.served(c) for c in clients(2, first=50000))  # 2 of 4, not 5 of 7
    assert told[-1] == 1  # the quiet three were left out when it told
    clock.now += SEEN_S  # the other went silent: it holds nothing now
    assert [spread.served(c) for c in clients(2, first=50000)] == [False, True]


async def test_the_answer_of_a_closed_connection_says_so_and_is_otherwise_the_same():
    clock = Clock()
    spread = Spread(clock)
    spread.share(2, lambda count: None)
    spread.heard("other", 0)

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    answers = []
    for port in (1, 2):  # one connection each: 2 of 2, over the share of 1
        transport = httpx.ASGITransport(app=spread.wrap(app), client=("10.0.0.7", port))
        async with httpx.AsyncClient(transport=transport, base_url="http://so-ngoai-vu.example") as c:
            answers.append(await c.get("/"))
    assert [r.status_code for r in answers] == [202, 202] and [r.text for r in answers] == ["ok", "ok"]
    assert "connection" not in answers[0].headers and answers[1].headers["connection"] == "close"
