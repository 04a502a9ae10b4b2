"""Where the system's parts are: embedded servers under the data directory, or configured URLs.

`Runtime.open()` attaches to a running embedded system (or starts its servers for the duration of
a command) and yields the NATS and PostgreSQL addresses and the services' NATS credentials.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import structlog
from nats.aio.client import Client
from nats.js.errors import APIError

from services.attachments import ensure_bucket
from services.credentials import nats_users, password_hash
from services.db import make_engine
from services.db.migrate import migrate
from services.embedded.nats import EmbeddedNats
from services.embedded.postgres import EmbeddedPostgres
from services.natsauth import NatsUser, auth_conf
from services.reach import check_database, check_nats
from services.settings import Settings, Unreachable
from services.store.connect import connect
from services.store.streams import ensure_streams

log = structlog.get_logger(__name__)
SERVICE_USER = "doingoai-service"


def service_secret(data_dir: Path) -> dict[str, str]:
    """The services' own NATS user, created once under the data directory (mode 0600)."""
    path = data_dir / "secrets" / "service.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        password = secrets.token_urlsafe(24)
        path.write_text(json.dumps({"user": SERVICE_USER, "password": password, "hash": password_hash(password)}))
        path.chmod(0o600)
    return json.loads(path.read_text())


def embedded(name: str, start: Callable[[], str]) -> str:
    """Start an embedded server (or attach to ours); Unreachable, in one line, if it cannot."""
    try:
        return start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        detail = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] if isinstance(
            exc, subprocess.CalledProcessError) and exc.stderr else []
        raise Unreachable(f"embedded {name}: {exc}{': ' + detail[0] if detail else ''}") from None


@dataclass
class Runtime:
    settings: Settings
    nats_servers: list[str] = field(default_factory=list)
    database_url: str = ""
    nats_user: str | None = None
    nats_password: str | None = None
    _pg: EmbeddedPostgres | None = None
    _nats: EmbeddedNats | None = None

    @property
    def embedded_nats(self) -> EmbeddedNats | None:
        """The nats-server this runtime started or attached to under the data directory, if any."""
        return self._nats

    @property
    def embedded_postgres(self) -> EmbeddedPostgres | None:
        return self._pg

    @property
    def nats_url(self) -> str:
        return ",".join(self.nats_servers)

    async def connect_nats(self, name: str) -> Client:
        return await connect(self.nats_servers, user=self.nats_user, password=self.nats_password, name=name)

    async def start(self) -> Runtime:
        """Start (or attach to) the servers, migrate, write the NATS auth, declare the streams; a
        server this started is stopped again if the rest fails."""
        try:
            await self._start()
        except BaseException:
            self.stop()
            raise
        return self

    async def _start(self) -> None:
        s = self.settings
        if s.nats_url:  # a configured server that is not ours fails the command before anything starts
            await check_nats(s.nats_servers, user=s.nats_user, password=s.nats_password)
        if s.database_url:
            self.database_url = s.database_url
            await check_database(self.database_url)
        else:
            s.data_dir.mkdir(parents=True, exist_ok=True)
            self._pg = EmbeddedPostgres(s.data_dir)
            self.database_url = embedded("PostgreSQL", self._pg.start)
            await check_database(self.database_url)
        await migrate(self.database_url)
        if s.nats_url:
            self.nats_servers = s.nats_servers
            self.nats_user, self.nats_password = s.nats_user, s.nats_password
        else:
            secret = service_secret(s.data_dir)
            self.nats_user, self.nats_password = secret["user"], secret["password"]
            nats_server = self._nats = EmbeddedNats(s.data_dir)
            self.nats_servers = [embedded("nats-server", partial(nats_server.start, await self.auth_conf()))]
            await check_nats(self.nats_servers, user=self.nats_user, password=self.nats_password)
        nc = await self.connect_nats("doingoai-setup")
        try:
            await ensure_streams(nc.jetstream(), dedup_window_s=s.dedup_window_s, replicas=s.stream_replicas,
                                 rejected_max_bytes=s.rejected_max_bytes,
                                 rejected_max_age_s=s.rejected_max_age_days * 86400)
            await ensure_bucket(nc, s.stream_replicas)
        except APIError as exc:  # e.g. a stream's reserved bytes beyond the server's storage
            raise Unreachable(f"NATS at {self.nats_url}: the streams cannot be declared: {exc.description} "
                              f"({exc.err_code})") from None
        finally:
            await nc.close()

    async def auth_conf(self) -> str:
        secret = service_secret(self.settings.data_dir)
        engine = make_engine(self.database_url, pool_size=1)
        try:
            users = await nats_users(engine)
        finally:
            await engine.dispose()
        return auth_conf([NatsUser(SERVICE_USER, secret["hash"], "service", "", ""), *users])

    async def refresh_auth(self) -> bool:
        """Regenerate the embedded server's users after credentials changed, and reload it (a user
        no longer listed is disconnected). False when NATS is external: deploy/nats/render_auth.py."""
        if self.settings.nats_url:
            return False
        nats = self._nats or EmbeddedNats(self.settings.data_dir)
        nats.write_config(await self.auth_conf())
        nats.reload()
        return True

    def child_env(self) -> dict[str, str]:
        """Environment for a child process that attaches to this runtime."""
        env = dict(os.environ)
        env.update(
            DOINGOAI_NATS_URL=self.nats_url,
            DOINGOAI_DATABASE_URL=self.database_url,
            DOINGOAI_DATA_DIR=str(self.settings.data_dir),
        )
        if self.nats_user:
            env.update(DOINGOAI_NATS_USER=self.nats_user, DOINGOAI_NATS_PASSWORD=self.nats_password or "")
        return env

    def stop(self) -> None:
        if self._nats is not None:
            self._nats.stop()
        if self._pg is not None:
            self._pg.stop()
