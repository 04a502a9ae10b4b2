"""On the real stack: no NATS user reads another's replies or reaches another's escalation
consumer, and a revoked agency is refused on HTTP and NATS within seconds."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import nats
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig

from schemas.codec import encode
from services.natsauth import SERVICES_INBOX_PREFIX, consumer_names
from services.store import ESCALATIONS_STREAM, LOOKUP_SUBJECT
from tests.support import System, nats_options, sample

pytestmark = pytest.mark.integration
PROVINCE = "quang-binh"


def agency_slug() -> str:
    return f"so-iso-{uuid.uuid4().hex[:6]}"


class Watched:
    """A connection of issued credentials with what nats-py reports about it."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.disconnected = asyncio.Event()

    async def connect(self, creds: dict[str, str], **options: object) -> Client:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc).lower())

        async def on_disconnect() -> None:
            self.disconnected.set()

        return await nats.connect(creds["nats_url"], **nats_options(creds), error_cb=on_error,
                                  disconnected_cb=on_disconnect, **options)

    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e]


def post(system: System, creds: dict[str, str], event: object) -> httpx.Response:
    return httpx.post(f"{system.http}/events", content=encode(event), headers={
        "content-type": "application/cloudevents+json", "authorization": f"Bearer {creds['token']}"})


async def test_an_agency_cannot_subscribe_to_others_replies_and_gets_none(system: System):
    """`_INBOX.>`, the services' prefix and another agency's prefix are refused (permissions
    violation); while the projector pulls and another agency publishes, nothing arrives."""
    me, other = system.credentials(PROVINCE, agency_slug()), system.credentials(PROVINCE, agency_slug())
    assert me["nats_inbox_prefix"] == "_INBOX_" + me["nats_user"].replace(".", "_")
    spy, theirs = Watched(), Watched()
    nc, nc_other = await spy.connect(me), await theirs.connect(other)
    try:
        wildcards = ["_INBOX.>", f"{SERVICES_INBOX_PREFIX}.>", f"{other['nats_inbox_prefix']}.>", ">"]
        subs = [await nc.subscribe(subject) for subject in wildcards]
        await nc.flush()
        for n in range(5):  # the other agency's requests and the projector's pulls, while the spy listens
            event = sample("activity_held", province=PROVINCE, agency=other["agency"], title=f"secret {n}")
            ack = await nc_other.jetstream().publish(
                f"doingoai.events.{PROVINCE}.{other['agency']}.activity_held", encode(event))
            asked = {"source": event.source, "ids": [event.id]}
            found = json.loads((await nc_other.request(LOOKUP_SUBJECT, json.dumps(asked).encode(), timeout=5)).data)
            assert found["found"] in ({}, {event.id: ack.seq})
        system.wait_projected(ack.seq)
        await asyncio.sleep(0.5)
        assert [sub.pending_msgs for sub in subs] == [0, 0, 0, 0]
    finally:
        await nc.close()
        await nc_other.close()
    refused = spy.violations()
    assert len(refused) == len(wildcards), spy.errors
    assert all(any(f'subscription to "{w.lower()}"' in e for e in refused) for w in wildcards)
    assert theirs.errors == []


async def test_with_its_inbox_prefix_an_agencys_requests_work_and_without_it_they_do_not(system: System):
    """The id lookup, js.stream_info, a publish acknowledgement and pulling its own escalations
    (durable, and temporary with one of its names) all answer on its prefix; the default `_INBOX`
    prefix is refused, so a request times out."""
    creds = system.credentials(PROVINCE, agency_slug())
    agency, own = creds["agency"], f"doingoai.escalations.{PROVINCE}.{creds['agency']}"
    service = await system.service_nats()
    await service.jetstream().publish(own, b"escalation-0")
    await service.close()
    watched = Watched()
    nc = await watched.connect(creds)
    try:
        event = sample("activity_held", province=PROVINCE, agency=agency)
        ack = await nc.jetstream().publish(f"doingoai.events.{PROVINCE}.{agency}.activity_held", encode(event))
        system.wait_projected(ack.seq)
        asked = json.dumps({"source": event.source, "ids": [event.id]}).encode()
        for _ in range(50):  # indexed; the lookup's filter of indexed ids is refreshed a moment later
            reply = await nc.request(LOOKUP_SUBJECT, asked, timeout=5)
            if json.loads(reply.data) != {"found": {}}:
                break
            await asyncio.sleep(0.1)
        assert json.loads(reply.data) == {"found": {event.id: ack.seq}}
        js = nc.jetstream(timeout=5)
        assert (await js.stream_info(ESCALATIONS_STREAM)).config.name == ESCALATIONS_STREAM
        sub = await js.pull_subscribe(own, durable=consumer_names(PROVINCE, agency)[0], stream=ESCALATIONS_STREAM)
        [msg] = await sub.fetch(1, timeout=5)
        assert msg.data == b"escalation-0" and msg.reply.startswith(f"$JS.ACK.{ESCALATIONS_STREAM}.")
        await msg.ack_sync()
        assert msg.reply.split(".")[3] == f"{PROVINCE}_{agency}_1"
        temporary = consumer_names(PROVINCE, agency)[1]  # a named consumer that goes away when idle
        await js.add_consumer(ESCALATIONS_STREAM, ConsumerConfig(name=temporary, filter_subject=own,
                                                                 inactive_threshold=60))
        sub = await js.pull_subscribe_bind(consumer=temporary, stream=ESCALATIONS_STREAM)
        assert [m.data for m in await sub.fetch(1, timeout=5)] == [b"escalation-0"]
        await js.delete_consumer(ESCALATIONS_STREAM, temporary)
    finally:
        await nc.close()
    assert watched.errors == []

    default = Watched()
    nc = await default.connect({**creds, "nats_inbox_prefix": "_INBOX"})
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await nc.request(LOOKUP_SUBJECT, b'{"ids": []}', timeout=1)
    finally:
        await nc.close()
    assert any('subscription to "_inbox.' in e for e in default.violations())


async def test_another_agency_cannot_pull_read_ack_refilter_or_delete_sngvs_consumer_knowing_its_name(
        system: System):
    """SNgV's durable consumer and an ack subject of one of its deliveries are handed to another
    agency: every use is refused by the server, SNgV's consumer keeps its filter and messages, and
    SNgV gets each escalation once, in order. A name outside one's own four is refused too, and a
    create on one's own name whose body names another filter is refused by the server."""
    sngv, intruder = system.credentials(PROVINCE, agency_slug()), system.credentials(PROVINCE, agency_slug())
    filt = f"doingoai.escalations.{PROVINCE}.{sngv['agency']}"
    theirs = f"doingoai.escalations.{PROVINCE}.{intruder['agency']}"
    name = consumer_names(PROVINCE, sngv["agency"])[0]
    service = await system.service_nats()
    for n in range(3):
        await service.jetstream().publish(filt, f"esc-{n}".encode())
    owner, spy = Watched(), Watched()
    nc_sngv, nc_spy = await owner.connect(sngv), await spy.connect(intruder)
    try:
        js = nc_sngv.jetstream(timeout=5)
        await js.add_consumer(ESCALATIONS_STREAM, ConsumerConfig(
            name=name, durable_name=name, filter_subject=filt, ack_policy=AckPolicy.EXPLICIT, ack_wait=60))
        sub = await js.pull_subscribe_bind(durable=name, stream=ESCALATIONS_STREAM)
        [first] = await sub.fetch(1, timeout=5)  # delivered to SNgV, not yet acknowledged

        spy_js = nc_spy.jetstream(timeout=1)
        own_name = consumer_names(PROVINCE, intruder["agency"])[0]
        attempts = {
            "consumer info": spy_js.consumer_info(ESCALATIONS_STREAM, name),
            "pull": nc_spy.request(f"$JS.API.CONSUMER.MSG.NEXT.{ESCALATIONS_STREAM}.{name}",
                                   b'{"batch": 5, "expires": 500000000}', timeout=1),
            "re-filter": spy_js.add_consumer(ESCALATIONS_STREAM, ConsumerConfig(
                name=name, durable_name=name, filter_subject=theirs, ack_policy=AckPolicy.EXPLICIT)),
            "delete": spy_js.delete_consumer(ESCALATIONS_STREAM, name),
            "fifth name": spy_js.add_consumer(ESCALATIONS_STREAM, ConsumerConfig(
                name=f"{PROVINCE}_{intruder['agency']}_5", filter_subject=theirs)),
        }
        for what, attempt in attempts.items():
            with pytest.raises(nats.errors.Error):
                await attempt
                pytest.fail(f"{what} was allowed")
        await nc_spy.publish(first.reply, b"+ACK")
        await nc_spy.publish(first.reply, b"+TERM")
        await nc_spy.flush()
        for body in ({"filter_subject": filt}, {"filter_subjects": [filt]}):  # own name, someone else's filter
            create = f"$JS.API.CONSUMER.CREATE.{ESCALATIONS_STREAM}.{own_name}.{theirs}"
            request = {"stream_name": ESCALATIONS_STREAM, "config": {"name": own_name, **body}}
            answer = json.loads((await nc_spy.request(create, json.dumps(request).encode(), timeout=5)).data)
            assert "error" in answer, answer

        info = await service.jetstream().consumer_info(ESCALATIONS_STREAM, name)
        assert (info.config.filter_subject, info.num_ack_pending, info.num_pending) == (filt, 1, 2)
        await first.ack_sync()
        rest = await sub.fetch(5, timeout=5)
        for m in rest:
            await m.ack_sync()
        assert [first.data, *(m.data for m in rest)] == [b"esc-0", b"esc-1", b"esc-2"]
    finally:
        await nc_sngv.close()
        await nc_spy.close()
        await service.close()
    refused = " | ".join(spy.violations())
    for subject in (f"$js.api.consumer.info.{ESCALATIONS_STREAM}.{name}",
                    f"$js.api.consumer.msg.next.{ESCALATIONS_STREAM}.{name}",
                    f"$js.api.consumer.create.{ESCALATIONS_STREAM}.{name}.{theirs}",
                    f"$js.api.consumer.delete.{ESCALATIONS_STREAM}.{name}",
                    f"$js.api.consumer.create.{ESCALATIONS_STREAM}.{PROVINCE}_{intruder['agency']}_5",
                    first.reply):
        assert subject.lower() in refused, subject
    assert owner.errors == []


async def test_a_revoked_agency_is_refused_on_http_and_nats_within_15_seconds_and_listed_revoked(system: System):
    """`credentials revoke`: when the command returns, the live NATS connection is closed (within
    2 s) and a new one is refused; the token, verified just before (so cached by the HTTP service),
    gets 401 within 15 s; `credentials list` shows it revoked, and another agency keeps working."""
    gone, stays = system.credentials(PROVINCE, agency_slug()), system.credentials(PROVINCE, agency_slug())
    gone_conn, stays_conn = Watched(), Watched()
    nc, nc_stays = await gone_conn.connect(gone), await stays_conn.connect(stays)
    try:
        event = sample("activity_held", province=PROVINCE, agency=gone["agency"])
        assert post(system, gone, event).status_code == 202
        started = time.monotonic()
        done = system.cli("credentials", "revoke", "--province", PROVINCE, "--agency", gone["agency"])
        returned = time.monotonic()
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["revoked_nats_users"] == [gone["nats_user"]]

        await asyncio.wait_for(gone_conn.disconnected.wait(), 2)
        nats_s = time.monotonic() - returned
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(gone["nats_url"], **nats_options(gone), allow_reconnect=False,
                               max_reconnect_attempts=0, connect_timeout=2)
        while (status := post(system, gone, sample("activity_held", province=PROVINCE,
                                                   agency=gone["agency"])).status_code) == 202:
            assert time.monotonic() - returned < 15, "HTTP still accepts the revoked token"
            await asyncio.sleep(0.5)
        http_s = time.monotonic() - returned
        assert status == 401
        print(f"revoke: the command took {returned - started:.1f} s; after it, NATS closed in {nats_s:.1f} s, "
              f"HTTP 401 in {http_s:.1f} s")

        ack = await nc_stays.jetstream().publish(f"doingoai.events.{PROVINCE}.{stays['agency']}.activity_held",
                                                 encode(sample("activity_held", province=PROVINCE,
                                                               agency=stays["agency"])))
        assert ack.seq > 0 and nc_stays.is_connected
    finally:
        await nc.close()
        await nc_stays.close()
    listed = system.cli("credentials", "list", "--province", PROVINCE, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["nats_user"]: row for row in json.loads(listed.stdout)}
    assert (rows[gone["nats_user"]]["revoked"], rows[stays["nats_user"]]["revoked"]) == (True, False)
    assert not any(key in row for row in rows.values() for key in ("token", "nats_password", "token_hash"))
    table = system.cli("credentials", "list", "--agency", gone["agency"]).stdout.splitlines()
    assert table[0].split() == ["province", "agency", "role", "nats_user", "revoked", "created_at"]
    assert table[1].split()[:5] == [PROVINCE, gone["agency"], "agency", gone["nats_user"], "true"]
    unknown = system.cli("credentials", "revoke", "--province", PROVINCE, "--agency", agency_slug())
    assert unknown.returncode == 1 and "no credentials" in unknown.stderr


async def test_rotate_issues_new_credentials_and_the_old_ones_stop_working(system: System):
    old = system.credentials(PROVINCE, agency_slug())
    done = system.cli("credentials", "rotate", "--province", PROVINCE, "--agency", old["agency"])
    assert done.returncode == 0, done.stderr
    new = json.loads(done.stdout)
    assert new["revoked_nats_users"] == [old["nats_user"]] and new["nats_user"] != old["nats_user"]
    assert new["nats_inbox_prefix"] != old["nats_inbox_prefix"]
    assert post(system, old, sample("activity_held", province=PROVINCE, agency=old["agency"])).status_code == 401
    assert post(system, new, sample("activity_held", province=PROVINCE, agency=old["agency"])).status_code == 202
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(old["nats_url"], **nats_options(old), allow_reconnect=False,
                           max_reconnect_attempts=0, connect_timeout=2)
    deadline = time.monotonic() + 10
    while True:  # the server reloads its users a moment after the command returns
        try:
            nc = await nats.connect(new["nats_url"], **nats_options(new), allow_reconnect=False,
                                    max_reconnect_attempts=0, connect_timeout=2)
            break
        except nats.errors.Error:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    try:
        ack = await nc.jetstream().publish(f"doingoai.events.{PROVINCE}.{old['agency']}.activity_held",
                                           encode(sample("activity_held", province=PROVINCE, agency=old["agency"])))
        assert ack.seq > 0
    finally:
        await nc.close()


def conf_users(conf: str) -> dict[str, dict[str, object]]:
    """The users of a generated `authorization` block, by name."""
    users = json.loads("[" + conf.split("users = [", 1)[1].rsplit("]", 1)[0] + "]")
    return {u["user"]: u for u in users}


def test_render_auth_gives_an_external_cluster_the_embedded_servers_permissions(system: System):
    """deploy/nats/render_auth.py, run against the registry, lists every active user with the same
    permissions as the embedded server's file (inbox prefixes and consumer names included) and
    leaves revoked users out."""
    kept, revoked = system.credentials(PROVINCE, agency_slug()), system.credentials(PROVINCE, agency_slug())
    done = system.cli("credentials", "revoke", "--province", PROVINCE, "--agency", revoked["agency"])
    assert done.returncode == 0, done.stderr
    env = {**system.env(), "DOINGOAI_DATABASE_URL": system.runtime()["database_url"],
           "DOINGOAI_NATS_USER": "ops-service", "DOINGOAI_NATS_PASSWORD": "not-the-embedded-one"}
    script = Path(__file__).parents[2] / "deploy" / "nats" / "render_auth.py"
    rendered = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    external = conf_users(rendered.stdout)
    embedded = conf_users((system.data_dir / "nats" / "auth.conf").read_text())
    assert "permissions" not in external.pop("ops-service") and "permissions" not in embedded.pop("doingoai-service")
    assert {k: u["permissions"] for k, u in external.items()} == {k: u["permissions"] for k, u in embedded.items()}
    assert revoked["nats_user"] not in external
    perms = external[kept["nats_user"]]["permissions"]
    assert perms["subscribe"] == {"allow": [kept["nats_inbox_prefix"] + ".>"]}
    assert f"$JS.API.CONSUMER.MSG.NEXT.{ESCALATIONS_STREAM}.{PROVINCE}_{kept['agency']}_4" in (
        perms["publish"]["allow"])
