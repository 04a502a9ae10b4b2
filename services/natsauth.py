"""NATS authorization generated from the credential registry: each agency publishes only under
its own subjects; auditors read and never publish; the services have full access."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from services.store import ESCALATIONS_STREAM, EVENTS_STREAM, LOOKUP_SUBJECT


@dataclass(frozen=True)
class NatsUser:
    user: str
    password_hash: str
    role: str
    province: str
    agency: str


def agency_permissions(province: str, agency: str) -> dict[str, object]:
    """Publish under its own `doingoai.events.<province>.<agency>.>` only; consume its own
    escalations with durable or ephemeral pull consumers (nats-py `pull_subscribe`). A consumer's
    filter is part of the create subject (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`, which
    the server checks against the request), so an agency cannot create one on another's escalations;
    the legacy `CONSUMER.DURABLE.CREATE` subject carries no filter and is not allowed."""
    own = f"doingoai.escalations.{province}.{agency}"
    return {
        "publish": {
            "allow": [
                f"doingoai.events.{province}.{agency}.>",
                LOOKUP_SUBJECT,
                "$JS.API.INFO",
                "$JS.API.STREAM.NAMES",
                f"$JS.API.STREAM.INFO.{ESCALATIONS_STREAM}",
                f"$JS.API.CONSUMER.CREATE.{ESCALATIONS_STREAM}.*.{own}",
                f"$JS.API.CONSUMER.INFO.{ESCALATIONS_STREAM}.*",
                f"$JS.API.CONSUMER.MSG.NEXT.{ESCALATIONS_STREAM}.*",
                f"$JS.ACK.{ESCALATIONS_STREAM}.>",
            ]
        },
        "subscribe": {"allow": ["_INBOX.>"]},
    }


def auditor_permissions() -> dict[str, object]:
    """Read the event stream message by message (`js.get_msg`, direct get) and never write. No
    consumer at all: a create request names its consumer in the body (even on the legacy
    `CONSUMER.CREATE.<stream>` subject), so it could re-filter the projector's durable consumer;
    nor pull (`MSG.NEXT`), ack or delete, which would take messages from the services' consumers."""
    return {
        "publish": {
            "allow": [
                "$JS.API.INFO",
                "$JS.API.STREAM.INFO.*",
                "$JS.API.STREAM.NAMES",
                "$JS.API.STREAM.LIST",
                f"$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}",
                f"$JS.API.DIRECT.GET.{EVENTS_STREAM}.>",
                f"$JS.API.DIRECT.GET.{EVENTS_STREAM}",
                LOOKUP_SUBJECT,
            ],
            "deny": ["doingoai.events.>", "doingoai.escalations.>", "doingoai.rejected.>", "$JS.ACK.>",
                     "$JS.API.CONSUMER.>"],
        },
        "subscribe": {"allow": ["_INBOX.>", "doingoai.replay.>"]},
    }


def permissions_for(user: NatsUser) -> dict[str, object] | None:
    if user.role == "service":
        return None
    if user.role == "auditor":
        return auditor_permissions()
    return agency_permissions(user.province, user.agency)


def auth_conf(users: Iterable[NatsUser]) -> str:
    """The `authorization { users = [...] }` block of nats-server (no anonymous access)."""
    entries = []
    for user in users:
        entry: dict[str, object] = {"user": user.user, "password": user.password_hash}
        perms = permissions_for(user)
        if perms is not None:
            entry["permissions"] = perms
        entries.append("    " + json.dumps(entry, ensure_ascii=False))
    body = ",\n".join(entries)
    return f"authorization {{\n  users = [\n{body}\n  ]\n}}\n"
