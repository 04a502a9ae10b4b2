"""Province units without a broker: which unit a message belongs to, how the `global` unit records
new provinces, and how coordinators share the units (leases in an in-memory key-value bucket)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from nats.js.errors import KeyWrongLastSequenceError, NoKeysError

from projections.engine.batch import StreamMessage
from projections.engine.partitions import (
    GLOBAL,
    Coordinator,
    WholeStream,
    province_filter,
    province_of,
    province_unit,
    unit_province,
)

pytestmark = pytest.mark.unit
NOW = datetime(2021, 5, 20, tzinfo=UTC)


def message(seq: int, subject: str) -> StreamMessage:
    return StreamMessage(seq, subject, b"{}", NOW, {})


def matches(filter_subject: str, subject: str) -> bool:
    """NATS subject matching, for filters ending in `>`."""
    prefix = filter_subject.removesuffix(">").split(".")[:-1]
    tokens = subject.split(".")
    return len(tokens) > len(prefix) and tokens[:len(prefix)] == prefix


@pytest.mark.parametrize(("subject", "province"), [
    ("doingoai.events.ha-tinh.so-ngoai-vu.activity_held", "ha-tinh"),
    ("doingoai.events.tinh-07.doingoai.escalation_raised", "tinh-07"),
    ("doingoai.events.ha-tinh.so-ngoai-vu", "ha-tinh"),
    ("doingoai.events.ha-tinh", None),
    ("doingoai.events.Ha-Tinh.so-ngoai-vu.activity_held", None),
    ("doingoai.events.ha_tinh.so-ngoai-vu.activity_held", None),
    ("doingoai.events.-ha-tinh.so-ngoai-vu.activity_held", None),
    ("doingoai.events." + "a" * 65 + ".so-ngoai-vu.activity_held", None),
])
def test_a_message_belongs_to_the_unit_whose_server_filter_matches_it(subject, province):
    assert province_of(subject) == province
    if province is not None:
        assert matches(province_filter(province), subject)
    for other in ("ha-tinh", "tinh-07", "ha"):
        if other != province:
            assert not matches(province_filter(other), subject)


def test_unit_names_of_provinces_cannot_take_the_name_of_another_unit():
    for name in (GLOBAL, "rejected", "delivery", "escalations"):
        assert unit_province(name) is None
        assert unit_province(province_unit(name)) == name
        assert province_unit(name) != name


class FakeConn:
    """The two statements `whole_stream` runs: read the provinces, insert new ones (committed or not)."""

    def __init__(self, table: dict[str, int]):
        self.table, self.reads = table, 0
        self.inserted: dict[str, int] = {}

    async def scalars(self, _statement: Any) -> list[str]:
        self.reads += 1
        return sorted(self.table)

    async def execute(self, _statement: Any, rows: list[dict[str, Any]]) -> None:
        self.inserted.update({r["province"]: r["first_seq"] for r in rows})

    def commit(self) -> None:
        self.table.update(self.inserted)


class Recorder:
    def __init__(self) -> None:
        self.got: list[list[int]] = []

    async def __call__(self, _conn: Any, messages: Sequence[StreamMessage]) -> None:
        self.got.append([m.seq for m in messages])


async def test_the_global_unit_records_each_new_province_once_and_applies_strays_itself():
    table: dict[str, int] = {}
    audit, strays = Recorder(), Recorder()
    handle = WholeStream(audit, strays)
    first = [message(1, "doingoai.events.a.x.e"), message(2, "doingoai.events.b.x.e"),
             message(3, "doingoai.events.a.x.e"), message(4, "doingoai.events.Bad.x.e")]
    conn = FakeConn(table)
    await handle(conn, first)  # type: ignore[arg-type]
    assert conn.inserted == {"a": 1, "b": 2}
    assert audit.got == [[1, 2, 3, 4]] and strays.got == [[4]]

    again = FakeConn(table)  # the first transaction rolled back: the same batch records them again
    await handle(again, first)  # type: ignore[arg-type]
    assert again.inserted == {"a": 1, "b": 2}
    again.commit()

    later = FakeConn(table)  # committed: read back once, then known without asking
    await handle(later, [message(5, "doingoai.events.a.x.e"),  # type: ignore[arg-type]
                         message(6, "doingoai.events.c.x.e")])
    assert later.inserted == {"c": 6} and later.reads == 1
    later.commit()
    quiet = FakeConn(table)  # `c` read back once (its insert was committed), nothing inserted again
    await handle(quiet, [message(7, "doingoai.events.b.x.e"),  # type: ignore[arg-type]
                         message(8, "doingoai.events.c.x.e")])
    assert quiet.reads == 1 and not quiet.inserted
    quiet_again = FakeConn(table)
    await handle(quiet_again, [message(9, "doingoai.events.c.x.e")])  # type: ignore[arg-type]
    assert quiet_again.reads == 0 and not quiet_again.inserted
    assert table == {"a": 1, "b": 2, "c": 6}


class FakeKV:
    """The key-value calls of the coordinator, with revisions as JetStream checks them."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}
        self.revision = 0

    def _next(self, key: str) -> int:
        self.revision += 1
        self.entries[key] = self.revision
        return self.revision

    async def put(self, key: str, _value: bytes) -> int:
        return self._next(key)

    async def create(self, key: str, _value: bytes) -> int:
        if key in self.entries:
            raise KeyWrongLastSequenceError()
        return self._next(key)

    async def update(self, key: str, _value: bytes, last: int) -> int:
        if self.entries.get(key) != last:
            raise KeyWrongLastSequenceError()
        return self._next(key)

    async def delete(self, key: str, last: int | None = None) -> None:
        if last is not None and self.entries.get(key) != last:
            raise KeyWrongLastSequenceError()
        self.entries.pop(key, None)

    async def keys(self) -> list[str]:
        if not self.entries:
            raise NoKeysError()
        return list(self.entries)


async def test_the_global_holder_takes_a_smaller_share_of_provinces_and_workers_take_over_a_dead_one():
    kv, stop = FakeKV(), asyncio.Event()
    units = [GLOBAL, "rejected", province_unit("a"), province_unit("b")]

    async def names() -> list[str]:
        return list(units)

    async def run(_unit: str) -> None:
        await stop.wait()

    one = Coordinator(kv, names, run, worker_id="one")  # type: ignore[arg-type]
    two = Coordinator(kv, names, run, worker_id="two")  # type: ignore[arg-type]
    three = Coordinator(kv, names, run, worker_id="three")  # type: ignore[arg-type]
    await one.step()
    assert set(one.held) == set(units)  # alone: everything
    await two.step()
    await one.step()  # sees two workers: with `global`, its share leaves no room for a province
    await two.step()
    assert set(one.held) == {GLOBAL, "rejected"} and set(two.held) == {province_unit("a"), province_unit("b")}

    units += [province_unit(p) for p in "cdef"]  # the global unit saw new provinces
    await one.step()
    await two.step()
    assert set(one.held) == {GLOBAL, "rejected", province_unit("c")}  # a share of the total weight
    assert set(two.held) == {province_unit(p) for p in "abdef"}
    await three.step()  # a third worker: `global` is its holder's whole share, the two others share the rest
    await one.step()
    await two.step()
    await three.step()
    assert set(one.held) == {GLOBAL, "rejected"}
    assert len(two.held) == len(three.held) == 3 and set(two.held) | set(three.held) == set(units[2:])

    for dead in (two, three):  # both die: their member entries and leases expire
        kv.entries.pop(f"member.{dead.worker_id}")
        for unit in dead.held:
            kv.entries.pop(f"unit.{unit}")
    await one.step()
    assert set(one.held) == set(units)

    await two.step()  # two comes back: its stale leases are refused, then it gets its provinces back
    assert not two.held
    await one.step()
    await two.step()
    assert len(one.held) == 2 + 1 and len(two.held) == 5 and set(one.held) | set(two.held) == set(units)
    for coordinator in (one, two, three):
        for unit in list(coordinator.held):
            await coordinator.release(unit)


async def test_a_failed_unit_is_given_back_and_claimed_again():
    kv, attempts = FakeKV(), []

    async def names() -> list[str]:
        return [province_unit("a")]

    async def run(unit: str) -> None:
        attempts.append(unit)
        if len(attempts) == 1:
            raise RuntimeError("fenced")
        await asyncio.Event().wait()

    coordinator = Coordinator(kv, names, run, worker_id="w")  # type: ignore[arg-type]
    await coordinator.step()
    await asyncio.sleep(0)
    await coordinator.step()  # the failed unit is released, then claimed again in the same pass
    await asyncio.sleep(0)
    assert attempts == [province_unit("a"), province_unit("a")]
    await coordinator.release(province_unit("a"))


async def test_a_running_coordinator_claims_and_gives_everything_back_when_stopped():
    kv, stop, running = FakeKV(), asyncio.Event(), set()

    async def names() -> list[str]:
        return [GLOBAL, province_unit("a")]

    async def run(unit: str) -> None:
        running.add(unit)
        try:
            await asyncio.Event().wait()
        finally:
            running.discard(unit)

    coordinator = Coordinator(kv, names, run, renew_s=0.01, worker_id="w")  # type: ignore[arg-type]
    task = asyncio.create_task(coordinator.run(stop))
    for _ in range(200):
        if running == {GLOBAL, province_unit("a")}:
            break
        await asyncio.sleep(0.01)
    assert running == {GLOBAL, province_unit("a")}
    stop.set()
    await asyncio.wait_for(task, 5)
    assert not running and not coordinator.held and not kv.entries


def test_the_first_province_units_of_a_process_read_ahead_and_pipeline_and_later_ones_take_turns():
    """A process holding one province (or a few) plans each batch while the one before it is
    written; beyond `AHEAD_PROVINCES` its units decode and apply each batch in its turn, so the
    heap stays bounded however many provinces it holds."""
    from types import SimpleNamespace

    from projections.engine.runner import Planner
    from services.worker import AHEAD_PROVINCES, Units, Unprepared

    units = Units(SimpleNamespace(settings=SimpleNamespace(partitions=4)), None, None, None, asyncio.Event())  # type: ignore[arg-type]
    provinces = [f"p{k}" for k in range(AHEAD_PROVINCES + 2)]
    handlers = {p: units.province_handler(p) for p in provinces}
    for p in provinces[:AHEAD_PROVINCES]:
        assert isinstance(handlers[p], Planner) and hasattr(handlers[p], "prepare")
    for p in provinces[AHEAD_PROVINCES:]:
        assert isinstance(handlers[p], Unprepared) and not isinstance(handlers[p], Planner)
    # a unit run again (e.g. claimed back) keeps the way it had
    assert isinstance(units.province_handler(provinces[0]), Planner)
    assert isinstance(units.province_handler(provinces[-1]), Unprepared)
