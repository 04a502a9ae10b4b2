"""Stable loopback ports: chosen once per data directory, kept across restarts."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path


def free_port(preferred: int | None = None) -> int:
    for candidate in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port")  # pragma: no cover


def stable_port(data_dir: Path, name: str, preferred: int | None = None) -> int:
    """The port `name` uses under `data_dir`: the one stored there, else a free one (stored)."""
    path = data_dir / "ports.json"
    ports: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
    if name not in ports:
        taken = set(ports.values())
        port = free_port(preferred)
        while port in taken:
            port = free_port()
        ports[name] = port
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(ports, indent=2))
    return ports[name]


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL: a server gets its chance to shut down cleanly."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
