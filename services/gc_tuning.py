"""Garbage-collector settings for the long-running processes (workers, replay, services).

A projection batch allocates tens of thousands of short-lived objects (parsed JSON, event models,
rows). With CPython's default young-generation threshold (700) that is a collection every few
events, and the older generations, which hold every module, schema and connection of the
process, are walked again and again: measured, about a fifth of a projection worker's CPU and
pauses of tens of milliseconds. Here the young generation is collected every `YOUNG` net
allocations, and what the process holds after its start-up is frozen out of collection.
Reference cycles are still collected; only less often.
"""

from __future__ import annotations

import gc

YOUNG = 200_000
"""Net container allocations between young-generation collections (CPython's default: 700). Above
what a projection runner holds in flight (a batch written, one planned and one read ahead, of
`DOINGOAI_PROJECTION_BATCH` events each): below it, batches of 2,000 set off a young collection
every batch, and those survivors the older ones, about a tenth of the runner's CPU."""
OLDER = (20, 100)
"""Collections of the younger generation between collections of the next one."""


def tune_gc() -> None:
    """Collect less often; call once a process has started up, and again after setting up more
    (each call freezes what exists by then)."""
    gc.set_threshold(YOUNG, *OLDER)
    gc.collect()
    gc.freeze()
