"""Real nats-server deployments on loopback ports, for the tests of running beyond one machine.

`Cluster` runs three JetStream nodes joined by routes, shaped like deploy/nats/n1..n3.conf
(`sync_interval: always`, no anonymous access, the services' user with full access), and can kill
a node with SIGKILL, start it again on the same store and name the leader of a stream.

`HubLink` runs a province server joined to a national hub as a leaf node, shaped like
deploy/nats/province-leaf.conf and hub.conf: each has its own JetStream domain, the leaf remote
denies `doingoai.>` both ways, and the hub's national stream (deploy/nats/national-stream.json)
sources the province's DOINGOAI_EVENTS through `$JS.<province>.API`. The leaf connection runs
through a relay standing for the network, so the link can be cut by killing the hub or by
dropping the connection while both servers stay up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import ServiceUnavailableError

from services.credentials import password_hash
from services.embedded.nats import nats_server_binary
from services.embedded.ports import free_port, is_listening, stop_process
from services.natsauth import SERVICES_INBOX_PREFIX, NatsUser, auth_conf
from services.runtime import SERVICE_USER
from services.store import EVENTS_STREAM
from services.store.connect import connect

SERVICE_PASSWORD = "cluster-test-service-password"
NATIONAL_STREAM_JSON = Path(__file__).resolve().parents[1] / "deploy" / "nats" / "national-stream.json"


@functools.cache
def service_auth_conf() -> str:
    """The `authorization` block with the services' user only (bcrypt hash, full access)."""
    return auth_conf([NatsUser(SERVICE_USER, password_hash(SERVICE_PASSWORD), "service", "", "")])


def free_ports(count: int) -> list[int]:
    """`count` distinct free loopback ports."""
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class Node:
    """One nats-server process with its configuration, store and log under `dir`."""

    name: str
    dir: Path
    port: int
    monitor_port: int
    config: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def store_dir(self) -> Path:
        return self.dir / "jetstream"

    @property
    def log(self) -> Path:
        return self.dir / "server.log"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 30) -> Node:
        """Start the server (again, on the same store and ports) and wait until it listens."""
        assert not self.running, f"{self.name} is running"
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nats.conf"
        conf.write_text(self.config)
        (self.dir / "auth.conf").write_text(service_auth_conf())
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [nats_server_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not is_listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()  # one that is still starting is not left behind
                raise RuntimeError(f"nats-server {self.name} did not start:\n{self.log_tail()}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what the disk holds is what survives."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc)
        self.proc = None

    def monitor(self, endpoint: str) -> dict[str, Any]:
        """GET an endpoint of the server's monitoring port (varz, jsz, leafz, healthz, ...)."""
        answer: dict[str, Any] = httpx.get(f"http://127.0.0.1:{self.monitor_port}/{endpoint}", timeout=5).json()
        return answer

    def log_tail(self, lines: int = 30) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def jetstream_block(store_dir: Path, domain: str | None = None) -> str:
    domain_line = f"\n  domain: {domain}" if domain else ""
    return f'jetstream {{\n  store_dir: "{store_dir}"\n  sync_interval: always{domain_line}\n}}\n'


def server_head(node: Node) -> str:
    return (f"server_name: {node.name}\nlisten: 127.0.0.1:{node.port}\nhttp: 127.0.0.1:{node.monitor_port}\n"
            "max_payload: 1MB\n")


class Cluster:
    """Three (or `size`) JetStream nodes on loopback, routes between all of them."""

    def __init__(self, base: Path, size: int = 3, name: str = "doingoai"):
        ports = free_ports(3 * size)
        self.name = name
        self.nodes: dict[str, Node] = {}
        route_ports = ports[2 * size:]
        routes = "\n".join(f"    nats-route://127.0.0.1:{p}" for p in route_ports)
        for i in range(size):
            node = Node(f"n{i + 1}", base / f"n{i + 1}", ports[i], ports[size + i])
            node.config = (
                server_head(node)
                + jetstream_block(node.store_dir)
                + f"cluster {{\n  name: {name}\n  listen: 127.0.0.1:{route_ports[i]}\n  routes: [\n{routes}\n  ]\n}}\n"
                + 'include "auth.conf"\n'
            )
            self.nodes[node.name] = node

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    @property
    def nats_url(self) -> str:
        return ",".join(self.urls)

    def node_of(self, nc: Client) -> str:
        """The node `nc` is connected to now."""
        url = nc.connected_url
        return next((n.name for n in self.nodes.values() if url is not None and n.port == url.port), "none")

    def start(self) -> Cluster:
        """Start every node; if one cannot start, the others are stopped before the error is raised."""
        try:
            for node in self.nodes.values():
                node.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def kill(self, name: str) -> None:
        self.nodes[name].kill()

    def restart(self, name: str) -> None:
        self.nodes[name].start()

    async def connect(self, name: str = "cluster-test", first: str | None = None) -> Client:
        """The services' user, knowing every node: reconnects to another one on its own. With
        `first`, the connection goes to that node (and on failure to the others in order)."""
        if first is None:
            return await connect(self.urls, user=SERVICE_USER, password=SERVICE_PASSWORD, name=name)
        urls = [self.nodes[first].url] + [u for n, u in zip(self.nodes, self.urls, strict=True) if n != first]
        return await nats.connect(servers=urls, user=SERVICE_USER, password=SERVICE_PASSWORD, name=name,
                                  dont_randomize=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                  connect_timeout=5, inbox_prefix=SERVICES_INBOX_PREFIX)

    async def wait_ready(self, js: JetStreamContext, within_s: float = 60) -> None:
        """Until the JetStream meta group has a leader (the cluster answers API requests)."""
        deadline = time.monotonic() + within_s
        while True:
            try:
                await js.account_info()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.25)

    async def stream_leader(self, js: JetStreamContext, stream: str = EVENTS_STREAM, within_s: float = 30) -> str:
        """The node that leads `stream` now (waits out an election)."""
        deadline = time.monotonic() + within_s
        while True:
            with contextlib.suppress(Exception):
                info = await js.stream_info(stream)
                if info.cluster is not None and info.cluster.leader:
                    return info.cluster.leader
            if time.monotonic() > deadline:
                raise AssertionError(f"{stream} has no leader after {within_s} s")
            await asyncio.sleep(0.2)

    async def wait_all_current(self, js: JetStreamContext, stream: str = EVENTS_STREAM,
                               within_s: float = 60) -> None:
        """Until `stream` has a leader and every other node is an online, current replica."""
        deadline = time.monotonic() + within_s
        state = "no answer"
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                cl = (await js.stream_info(stream)).cluster
                assert cl is not None
                peers = cl.replicas or []
                state = f"leader={cl.leader} replicas={[(p.name, p.current, p.offline, p.lag) for p in peers]}"
                if (cl.leader and len(peers) == len(self.nodes) - 1
                        and all(p.current and not p.offline for p in peers)):
                    return
            await asyncio.sleep(0.25)
        raise AssertionError(f"{stream} replicas not all current after {within_s} s: {state}")


class LinkRelay:
    """A TCP relay standing for the network between two servers. `cut()` drops every connection
    through it and refuses new ones; `restore()` accepts again on the same port."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="link-relay", daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def start(self) -> LinkRelay:
        self._thread.start()
        self.restore()
        return self

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def restore(self) -> None:
        self._call(self._listen())

    def cut(self) -> None:
        self._call(self._cut())

    def close(self) -> None:
        if self._thread.is_alive():
            self.cut()
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def _cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            far_reader, far_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        pair = {writer, far_writer}
        self._writers |= pair

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                for w in pair:
                    w.transport.abort()

        await asyncio.gather(pipe(reader, far_writer), pipe(far_reader, writer))
        self._writers -= pair


@dataclass
class HubLink:
    """A province's server joined to the national hub as a leaf node, through a relay."""

    base: Path
    province: str = "ha-tinh"
    leaf_password: str = "cluster-test-leaf-password"
    hub: Node = field(init=False)
    local: Node = field(init=False)
    relay: LinkRelay = field(init=False)

    def __post_init__(self) -> None:
        hub_port, hub_monitor, leaf_port, prov_port, prov_monitor = free_ports(5)
        self.hub = Node("hub", self.base / "hub", hub_port, hub_monitor)
        leaf_user = f'{{"user": "leaf-{self.province}", "password": "{password_hash(self.leaf_password)}"}}'
        self.hub.config = (
            server_head(self.hub)
            + jetstream_block(self.hub.store_dir, domain="hub")
            # no_advertise: the province reaches the hub through the relay only, not at the
            # leafnode address the hub would otherwise tell it
            + f"leafnodes {{\n  listen: 127.0.0.1:{leaf_port}\n  no_advertise: true\n"
            + f"  authorization {{\n    users = [\n      {leaf_user}\n    ]\n  }}\n}}\n"
            + 'include "auth.conf"\n'
        )
        self.relay = LinkRelay(leaf_port)
        self.local = Node(f"{self.province}-1", self.base / self.province, prov_port, prov_monitor)
        remote = f"nats-leaf://leaf-{self.province}:{self.leaf_password}@127.0.0.1:{self.relay.port}"
        self.local.config = (
            server_head(self.local)
            + jetstream_block(self.local.store_dir, domain=self.province)
            + "leafnodes {\n  remotes = [\n    {\n"
            + f'      urls: ["{remote}"]\n'
            + '      deny_imports: ["doingoai.>"]\n      deny_exports: ["doingoai.>"]\n    }\n  ]\n}\n'
            + 'include "auth.conf"\n'
        )

    def start(self) -> HubLink:
        """Start the hub, the relay and the province's server; on a failure, stop what started."""
        try:
            self.hub.start()
            self.relay.start()
            self.local.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.local.stop()
        self.relay.close()
        self.hub.stop()

    async def connect_province(self) -> Client:
        return await connect([self.local.url], user=SERVICE_USER, password=SERVICE_PASSWORD, name="province-test")

    async def connect_hub(self) -> Client:
        return await connect([self.hub.url], user=SERVICE_USER, password=SERVICE_PASSWORD, name="hub-test")

    def national_stream_config(self) -> StreamConfig:
        """deploy/nats/national-stream.json with the source of this province only."""
        raw = json.loads(NATIONAL_STREAM_JSON.read_text())
        raw["sources"] = [s for s in raw["sources"] if s["external"]["api"] == f"$JS.{self.province}.API"]
        assert raw["sources"], f"national-stream.json has no source for {self.province}"
        return StreamConfig.from_response(raw)

    def leaf_connected(self) -> bool:
        try:
            return bool(self.hub.monitor("leafz").get("leafnodes"))
        except (httpx.HTTPError, ValueError):
            return False

    async def wait_linked(self, within_s: float = 30) -> None:
        deadline = time.monotonic() + within_s
        while not self.leaf_connected():
            if time.monotonic() > deadline:
                raise AssertionError(f"no leaf connection after {within_s} s:\n{self.local.log_tail()}")
            await asyncio.sleep(0.1)

    def cut(self, how: str) -> None:
        """`hub`: SIGKILL the hub; `network`: drop the leaf connection, both servers stay up."""
        if how == "hub":
            self.hub.kill()
        elif how == "network":
            self.relay.cut()
        else:
            raise ValueError(how)

    def restore(self, how: str) -> None:
        if how == "hub":
            self.hub.start()
        else:
            self.relay.restore()


async def read_stream(js: JetStreamContext, stream: str = EVENTS_STREAM, subject: str = "doingoai.events.>",
                      idle_s: float = 30) -> list[tuple[int, str]]:
    """Every message of `stream` in order, read with an ordered consumer: (sequence, event id)."""
    info = await js.stream_info(stream)
    if info.state.messages == 0:
        return []
    last = info.state.last_seq
    out: list[tuple[int, str]] = []
    for attempt in range(20):  # right after failovers the meta leader may still be settling
        try:
            sub = await js.subscribe(subject, stream=stream, ordered_consumer=True)
            break
        except ServiceUnavailableError:
            if attempt == 19:
                raise
            await asyncio.sleep(0.5)
    try:
        while True:
            msg = await sub.next_msg(timeout=idle_s)
            seq = msg.metadata.sequence.stream
            out.append((seq, json.loads(msg.data)["id"]))
            if seq >= last:
                return out
    finally:
        await sub.unsubscribe()
