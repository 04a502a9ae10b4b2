"""Our processes run their coroutines on uvloop's event loop."""

from __future__ import annotations

import asyncio

import pytest

from services import event_loop

pytestmark = pytest.mark.unit


def test_run_gives_the_coroutines_result_from_uvloop_s_loop() -> None:
    async def main() -> tuple[str, int]:
        await asyncio.sleep(0)
        return type(asyncio.get_running_loop()).__module__, 42

    module, answer = event_loop.run(main())
    assert module.startswith("uvloop") and answer == 42
