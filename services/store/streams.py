"""Declare the JetStream streams. Only the service that owns them calls this.

The event stream allows JetStream atomic batch publish (nats-server 2.12+), which the publisher
library uses for batches; on an older server it is declared without it. The event and escalation
streams keep everything; the rejected-events stream is bounded in bytes and age, the oldest
rejections leaving first (their rows in the read model stay)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from services.store import (
    ESCALATIONS_STREAM,
    ESCALATIONS_SUBJECTS,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    REJECTED_STREAM,
    REJECTED_SUBJECTS,
)

log = structlog.get_logger(__name__)


REJECTED_MAX_BYTES = 1024**3
REJECTED_MAX_AGE_S = 180 * 86400.0
LIMITS = ("max_bytes", "max_age", "discard")
"""Limits `ensure_streams` brings an existing stream to, where its declaration states them."""


def stream_configs(*, dedup_window_s: float, replicas: int, rejected_max_bytes: int = REJECTED_MAX_BYTES,
                   rejected_max_age_s: float = REJECTED_MAX_AGE_S) -> list[StreamConfig]:
    common = dict(
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.NEW,
        max_age=0,
        num_replicas=replicas,
        allow_direct=True,
        deny_delete=True,
        deny_purge=True,
    )
    return [
        StreamConfig(
            name=EVENTS_STREAM,
            description="Every doingoai event, in order, forever",
            subjects=[EVENTS_SUBJECTS],
            duplicate_window=dedup_window_s,
            max_msg_size=1024 * 1024,
            allow_atomic=True,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=REJECTED_STREAM,
            description="Events refused at the HTTP boundary, with the reason (bounded: the oldest go first)",
            subjects=[REJECTED_SUBJECTS],
            duplicate_window=120,
            **{**common, "discard": DiscardPolicy.OLD, "max_age": rejected_max_age_s},  # type: ignore[arg-type]
            max_bytes=rejected_max_bytes,
        ),
        StreamConfig(
            name=ESCALATIONS_STREAM,
            description="Escalations delivered to their target agency",
            subjects=[ESCALATIONS_SUBJECTS],
            duplicate_window=dedup_window_s,
            **common,  # type: ignore[arg-type]
        ),
    ]


async def ensure_streams(js: JetStreamContext, *, dedup_window_s: float, replicas: int = 1,
                         rejected_max_bytes: int = REJECTED_MAX_BYTES,
                         rejected_max_age_s: float = REJECTED_MAX_AGE_S) -> None:
    """Create missing streams; an existing stream keeps its configuration except the dedup window,
    the limits (LIMITS) and, on the event stream, atomic batch publish (turned on where the server
    has it)."""
    for config in stream_configs(dedup_window_s=dedup_window_s, replicas=replicas,
                                 rejected_max_bytes=rejected_max_bytes, rejected_max_age_s=rejected_max_age_s):
        assert config.name is not None
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            await _without_atomic_if_refused(js.add_stream, config, bool(config.allow_atomic))
            log.info("stream.created", stream=config.name, allow_atomic=bool(config.allow_atomic))
            continue
        atomic = bool(config.allow_atomic) and not info.config.allow_atomic
        limits = {k: getattr(config, k) for k in LIMITS
                  if getattr(config, k) is not None and getattr(config, k) != getattr(info.config, k)}
        if info.config.duplicate_window != config.duplicate_window or atomic or limits:
            info.config.duplicate_window = config.duplicate_window
            info.config.allow_atomic = True if atomic else info.config.allow_atomic
            for key, value in limits.items():
                setattr(info.config, key, value)
            await _without_atomic_if_refused(js.update_stream, info.config, atomic)
            log.info("stream.updated", stream=config.name, duplicate_window=config.duplicate_window,
                     allow_atomic=bool(info.config.allow_atomic), **{k: str(v) for k, v in limits.items()})


Declare = Callable[[StreamConfig], Awaitable[object]]


async def _without_atomic_if_refused(declare: Declare, config: StreamConfig, turning_on: bool) -> None:
    """`declare(config)`; if it turns atomic batch publish on and the server refuses (before 2.12),
    the stream is declared without it."""
    try:
        await declare(config)
    except BadRequestError:
        if not turning_on:
            raise
        config.allow_atomic = None
        await declare(config)
