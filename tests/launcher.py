"""`doingoai` commands for the tests, each in a process of its own forked from one that has already
imported the command line and the modules its commands use.

The command runs as `python -m services.cli.main ARGS` runs it: the same `main()`, in a new process
with the command's environment, arguments, working directory and standard streams, its exit code
and output handed back as `subprocess.run` hands them back; only the imports (about a second of CPU,
for each of the hundreds of commands the suite runs) are not done again. The tests of the command
line itself (test_cli_quiet.py, test_reserved_identity.py, the README's "Try it") start it as a
user does.
"""

from __future__ import annotations

import importlib
import json
import locale
import os
import pkgutil
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PACKAGES = ("schemas", "projections", "services")
COMMAND = [sys.executable, "-m", "services.cli.main"]


class Launcher:
    """The forking process of one pytest process, started on first use, listening on a Unix socket."""

    def __init__(self) -> None:
        self.dir: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _socket(self) -> str:
        with self._lock:
            if self.proc is None:
                self.dir = Path(tempfile.mkdtemp(prefix="doingoai-cli-"))
                # its standard input is a pipe from here: at its end (this process gone) it exits
                self.proc = subprocess.Popen([sys.executable, "-m", "tests.launcher", str(self.dir / "sock")],
                                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                             stderr=(self.dir / "launcher.log").open("wb"))
                deadline = time.monotonic() + 60
                while not (self.dir / "ready").exists():
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the command launcher did not start; see {self.dir / 'launcher.log'}")
                    time.sleep(0.02)
            return str(self.dir / "sock")

    def run(self, args: tuple[str, ...], env: dict[str, str], input: str | None,
            timeout: float) -> subprocess.CompletedProcess[str]:
        """`doingoai ARGS` with `env`, `input` on its standard input (else /dev/null); as subprocess.run
        with capture_output=True, text=True and `timeout` (then the command is killed)."""
        command = [*COMMAND, *args]
        with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            stdin.write((input or "").encode())
            stdin.seek(0)
            status, status_w = os.pipe()
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as conn:
                    conn.connect(self._socket())
                    request = json.dumps({"args": args, "env": env, "cwd": os.getcwd(), "stdin": input is not None})
                    socket.send_fds(conn, [request.encode()], [stdin.fileno(), out.fileno(), err.fileno(), status_w])
                    pid = int(conn.recv(64))
                os.close(status_w)
                status_w = -1
                code = _exit_status(status, pid, timeout, command)
            finally:
                os.close(status)
                if status_w != -1:
                    os.close(status_w)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(command, code, _text(out.read()), _text(err.read()))

    def stop(self) -> None:
        with self._lock:
            if self.proc is not None:
                self.proc.terminate()
                self.proc.communicate(timeout=10)
                self.proc = None
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None


def _exit_status(status: int, pid: int, timeout: float, command: list[str]) -> int:
    """The exit code the command writes to `status` before it exits (end of file: it has exited)."""
    deadline = time.monotonic() + timeout
    told = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            raise subprocess.TimeoutExpired(command, timeout)
        if select.select([status], [], [], left)[0]:
            chunk = os.read(status, 64)
            if not chunk:
                return int(told) if told else -signal.SIGKILL  # killed before it could tell
            told += chunk


def _text(data: bytes) -> str:
    """As subprocess.run(text=True) decodes a stream: the locale's encoding, universal newlines."""
    return data.decode(locale.getpreferredencoding(False)).replace("\r\n", "\n").replace("\r", "\n")


def _serve(path: str) -> None:
    """Import every module of the project, then fork a command for each request on `path`."""
    for package in PACKAGES:
        module = importlib.import_module(package)
        for found in pkgutil.walk_packages(module.__path__, f"{package}."):
            importlib.import_module(found.name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the commands are reaped as they exit
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as server:
        server.bind(path)
        server.listen(64)
        Path(path).with_name("ready").touch()
        while True:
            if sys.stdin.fileno() in select.select([server, sys.stdin.fileno()], [], [])[0]:
                return  # the tests' process has gone
            conn, _ = server.accept()
            with conn:
                message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 4)
                if len(fds) != 4:
                    continue
                pid = os.fork()
                if pid == 0:  # the command's process: it leaves the loop as the command exits
                    server.close()
                    raise SystemExit(_command(json.loads(message), fds))
                for fd in fds:
                    os.close(fd)
                conn.send(str(pid).encode())


def _command(request: dict[str, Any], fds: list[int]) -> int:
    """In the forked process: become `python -m services.cli.main ARGS` and run it; its exit code."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdin, stdout, stderr, status = fds
    if not request["stdin"]:
        os.close(stdin)
        stdin = os.open(os.devnull, os.O_RDONLY)
    for fd, standard in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, standard)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    from services.cli import main as cli

    sys.modules["__main__"].__package__ = "services.cli"  # the program's name in its messages, as with -m
    sys.argv = [str(cli.__file__), *request["args"]]
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(status, str(code).encode())
    return code


if __name__ == "__main__":
    _serve(sys.argv[1])
