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
    own = f"doingoai.escalations.{province}.{agency}"
    return {
        "publish": {
            "allow": [
                f"doingoai.events.{province}.{agency}.>",
                LOOKUP_SUBJECT,
                "$JS.API.INFO",
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
                f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}",
                f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}.>",
                f"$JS.API.CONSUMER.INFO.{EVENTS_STREAM}.*",
                f"$JS.API.CONSUMER.MSG.NEXT.{EVENTS_STREAM}.*",
                f"$JS.API.CONSUMER.DELETE.{EVENTS_STREAM}.*",
                f"$JS.ACK.{EVENTS_STREAM}.>",
                LOOKUP_SUBJECT,
            ],
            "deny": ["doingoai.events.>", "doingoai.escalations.>", "doingoai.rejected.>"],
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
