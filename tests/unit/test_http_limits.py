"""The HTTP service's limits, with a clock of our own: the quota of refused bytes per publisher and
hour, bad tokens per address, and the budget of request bodies worked on at once; and the counts
several HTTP workers share."""

from __future__ import annotations

import asyncio
import json

import pytest

from services.http.limits import BadTokens, BodyBudget, Limits, QuotaExceeded, RejectedQuota, TooManyRequests

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_refusals_are_kept_up_to_the_quota_then_the_publisher_is_refused_until_the_hour_is_over():
    clock = Clock()
    quota = RejectedQuota(limit=1000, clock=clock)
    quota.charge("ha-tinh.a", 600)
    quota.check("ha-tinh.a")
    with pytest.raises(QuotaExceeded) as refused:
        quota.charge("ha-tinh.a", 500)  # does not fit: not counted, and the window closes
    assert refused.value.as_dict()["error"] == "quota_exceeded" and refused.value.retry_after_s == 3600
    clock.now += 1800
    with pytest.raises(QuotaExceeded) as still:
        quota.check("ha-tinh.a")
    assert still.value.retry_after_s == 1800
    quota.charge("ha-tinh.b", 1000)  # another publisher has its own quota
    clock.now += 1800
    quota.check("ha-tinh.a")
    quota.charge("ha-tinh.a", 1000)


def test_a_quota_of_zero_is_no_quota():
    quota = RejectedQuota(limit=0)
    quota.charge("p", 10**12)
    quota.check("p")


def test_twenty_bad_tokens_within_a_minute_block_the_address_for_five_minutes():
    clock = Clock()
    tokens = BadTokens(clock=clock)
    for _ in range(19):
        tokens.failed("203.0.113.1")
        tokens.check("203.0.113.1")
    tokens.failed("203.0.113.1")
    with pytest.raises(TooManyRequests) as blocked:
        tokens.check("203.0.113.1")
    assert blocked.value.retry_after_s == 300
    tokens.check("203.0.113.2")
    clock.now += 300
    tokens.check("203.0.113.1")


def test_bad_tokens_spread_over_minutes_are_not_blocked():
    clock = Clock()
    tokens = BadTokens(clock=clock)
    for _ in range(100):
        tokens.failed("203.0.113.1")
        tokens.check("203.0.113.1")
        clock.now += 4  # fifteen a minute


async def test_bodies_over_a_publishers_budget_wait_for_the_ones_before_them():
    budget = BodyBudget(per_publisher=8, total=12)
    order: list[str] = []
    first = asyncio.Event()

    async def request(publisher: str, size: int, name: str, hold: asyncio.Event | None = None) -> None:
        async with budget.hold(publisher, size):
            order.append(name)
            if hold is not None:
                await hold.wait()

    a = asyncio.create_task(request("p", 6, "a", first))
    await asyncio.sleep(0)
    b = asyncio.create_task(request("p", 6, "b"))  # p is at 6 of 8: waits
    c = asyncio.create_task(request("q", 4, "c"))  # q has room, and so has the total (10 of 12)
    await asyncio.sleep(0.01)
    assert order == ["a", "c"] and budget.in_use == 6
    first.set()
    await asyncio.gather(a, b, c)
    assert order == ["a", "c", "b"] and budget.in_use == 0 and budget.held == {}


async def test_a_body_larger_than_the_budget_counts_as_the_whole_budget():
    budget = BodyBudget(per_publisher=8, total=12)
    async with budget.hold("p", 100):
        assert budget.held == {"p": 8}


def two_workers() -> tuple[Limits, Limits]:
    """The limits of two HTTP workers, each told what the other's counts learn (as `services.http.peers`
    carries it, through JSON)."""
    first, second = Limits(), Limits()
    first.share(lambda part, op, args: second.learn(part, op, json.loads(json.dumps(args))))
    second.share(lambda part, op, args: first.learn(part, op, json.loads(json.dumps(args))))
    return first, second


def test_bad_tokens_seen_by_two_workers_are_counted_over_both():
    first, second = two_workers()
    for k in range(20):  # half on each worker
        (first if k % 2 else second).bad_tokens.failed("203.0.113.7")
    for worker in (first, second):
        with pytest.raises(TooManyRequests):
            worker.bad_tokens.check("203.0.113.7")
    first.bad_tokens.check("203.0.113.8")  # another address is not counted


def test_a_sign_in_on_one_worker_forgets_the_wrong_passwords_counted_on_the_other():
    first, second = two_workers()
    for _ in range(4):
        second.bad_passwords.failed("an")
    first.bad_passwords.succeeded("an")
    second.bad_passwords.failed("an")  # one failure since the success: no block
    second.bad_passwords.check("an")


def test_the_quota_of_refused_bytes_is_counted_over_every_worker():
    first, second = two_workers()
    first.rejected.limit = second.rejected.limit = 1000
    first.rejected.charge("ha-tinh.a", 600)
    with pytest.raises(QuotaExceeded):
        second.rejected.charge("ha-tinh.a", 500)  # 600 were kept through the first: the window closes
    with pytest.raises(QuotaExceeded):
        first.rejected.check("ha-tinh.a")  # closed on the first worker too
