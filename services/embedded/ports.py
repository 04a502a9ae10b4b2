"""Loopback ports of the embedded servers: chosen once per data directory and kept across restarts,
unless another program holds one; then another free port is taken and recorded.

A server is ours when the process named by its pid file under the data directory is alive, runs
the expected program on our files, and listens on the port itself (`psutil`): whatever else listens
on a recorded port is someone else's, and is never used."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from pathlib import Path

import psutil
import structlog

log = structlog.get_logger(__name__)


def free_port(preferred: int | None = None) -> int:
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")  # pragma: no cover


def _ports_file(data_dir: Path) -> Path:
    return data_dir / "ports.json"


def _recorded(data_dir: Path) -> dict[str, int]:
    path = _ports_file(data_dir)
    return json.loads(path.read_text()) if path.exists() else {}


def record_port(data_dir: Path, name: str, port: int) -> int:
    """Record `port` as the one `name` uses under `data_dir` (written atomically)."""
    ports = {**_recorded(data_dir), name: port}
    path = _ports_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ports, indent=2))
    os.replace(tmp, path)
    return port


def stable_port(data_dir: Path, name: str, preferred: int | None = None) -> int:
    """The port `name` uses under `data_dir`: the one stored there, else a free one (stored)."""
    ports = _recorded(data_dir)
    if name not in ports:
        taken = set(ports.values())
        port = free_port(preferred)
        while port in taken:
            port = free_port()
        return record_port(data_dir, name, port)
    return ports[name]


def move_port(data_dir: Path, name: str, taken_by: str) -> int:
    """Another program listens on the recorded port of `name`: take a free one and record it."""
    ports = _recorded(data_dir)
    old = ports.get(name)
    port = free_port()
    while port in ports.values():
        port = free_port()
    log.warning("port.taken", server=name, port=old, by=taken_by, now=port)
    return record_port(data_dir, name, port)


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_in(path: Path, line: int = 0) -> int | None:
    """The pid written on `line` of a pid file, or None (no file, not a number)."""
    try:
        return int(path.read_text().splitlines()[line].strip())
    except (OSError, ValueError, IndexError):
        return None


def process_running(pid: int | None, program: str, *args: str) -> bool:
    """Whether `pid` is alive and its command line runs `program` with every one of `args`."""
    if pid is None:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if not cmdline or program not in Path(cmdline[0]).name:
        return False
    return all(any(arg in part for part in cmdline) for arg in args)


def listening_ports(pid: int) -> set[int]:
    """The loopback TCP ports process `pid` listens on (empty if it cannot be known)."""
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return set()
    return {c.laddr.port for c in connections
            if c.status == psutil.CONN_LISTEN and c.laddr.ip in ("127.0.0.1", "0.0.0.0", "::1", "::")}


def holder(port: int) -> str:
    """Who listens on `port`, as far as this user can tell (for the log)."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
    except (psutil.Error, OSError):
        pass
    return "another program"


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL: a server gets its chance to shut down cleanly."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stop_pid(pid: int, timeout: float = 15) -> None:
    """The same for a process this one did not start (a server left by an earlier run)."""
    try:
        proc = psutil.Process(pid)
        proc.terminate()
        proc.wait(timeout)
    except psutil.TimeoutExpired:
        proc.kill()
    except psutil.NoSuchProcess:
        pass
