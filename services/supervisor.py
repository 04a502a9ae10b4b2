"""Keep a child process running: restart it when it dies, stop it on shutdown."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class Supervised:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], on_start: Callable[[int], None],
                 pass_fds: tuple[int, ...] = ()):
        """`pass_fds`: file descriptors the child inherits (e.g. the listening sockets of the HTTP service)."""
        self.name, self.argv, self.env, self.on_start, self.pass_fds = name, argv, env, on_start, pass_fds
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.proc = await asyncio.create_subprocess_exec(*self.argv, env=self.env, pass_fds=self.pass_fds)
            self.on_start(self.proc.pid)
            log.info("child.started", name=self.name, pid=self.proc.pid)
            waiter = asyncio.create_task(self.proc.wait())
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait([waiter, stopper], return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if stop.is_set():
                await self.terminate()
                return
            log.warning("child.exited", name=self.name, code=self.proc.returncode, restart_in=1.0)
            self.restarts += 1
            await asyncio.sleep(1.0)

    async def terminate(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
