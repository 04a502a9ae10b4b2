"""Declare the JetStream streams. Only the service that owns them calls this."""

from __future__ import annotations

import structlog
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from services.store import (
    ESCALATIONS_STREAM,
    ESCALATIONS_SUBJECTS,
    EVENTS_STREAM,
    EVENTS_SUBJECTS,
    REJECTED_STREAM,
    REJECTED_SUBJECTS,
)

log = structlog.get_logger(__name__)


def stream_configs(*, dedup_window_s: float, replicas: int) -> list[StreamConfig]:
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
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=REJECTED_STREAM,
            description="Events refused at the HTTP boundary, with the reason",
            subjects=[REJECTED_SUBJECTS],
            duplicate_window=120,
            **common,  # type: ignore[arg-type]
        ),
        StreamConfig(
            name=ESCALATIONS_STREAM,
            description="Escalations delivered to their target agency",
            subjects=[ESCALATIONS_SUBJECTS],
            duplicate_window=dedup_window_s,
            **common,  # type: ignore[arg-type]
        ),
    ]


async def ensure_streams(js: JetStreamContext, *, dedup_window_s: float, replicas: int = 1) -> None:
    """Create missing streams; an existing stream keeps its configuration except the dedup window."""
    for config in stream_configs(dedup_window_s=dedup_window_s, replicas=replicas):
        assert config.name is not None
        try:
            info = await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
            log.info("stream.created", stream=config.name)
            continue
        if info.config.duplicate_window != config.duplicate_window:
            info.config.duplicate_window = config.duplicate_window
            await js.update_stream(info.config)
            log.info("stream.updated", stream=config.name, duplicate_window=config.duplicate_window)
