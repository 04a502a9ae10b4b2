"""NATS authorization generated from the credential registry: each agency publishes only under
its own subjects and reads only its own replies and escalation consumers; auditors read and never
publish; the services have full access and answer on an inbox prefix nobody else may subscribe to."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from services.store import ESCALATIONS_STREAM, EVENTS_STREAM, LOOKUP_SUBJECT

SERVICES_INBOX_PREFIX = "_INBOX_doingoai_services"
"""The inbox prefix of every connection of the services' own user (projector, HTTP service,
escalations, delivery): no agency's or auditor's subscribe permissions cover it."""
CONSUMERS_PER_AGENCY = 4
"""How many escalation consumers an agency may have: the names of `consumer_names`."""


def inbox_prefix(nats_user: str) -> str:
    """The user's own inbox prefix, `_INBOX_<province>_<agency>_<token>` for the user
    `<province>.<agency>.<token>`: one subject token (nats-py: `nats.connect(...,
    inbox_prefix=...)`; its inboxes are `<prefix>.<nuid>`), derived from the user name so nothing
    more is stored. Slugs hold no `_`, so no two users' prefixes, nor the services', coincide."""
    return "_INBOX_" + nats_user.replace(".", "_")


def consumer_names(province: str, agency: str) -> list[str]:
    """The escalation consumers an agency may create and use: `<province>_<agency>_1` to `_4`.
    A consumer name is one subject token and permissions match whole tokens, so the names are
    listed rather than matched by prefix; they belong to the agency (not to one NATS user), so a
    durable consumer outlives a rotation of the agency's credentials."""
    return [f"{province}_{agency}_{n}" for n in range(1, CONSUMERS_PER_AGENCY + 1)]


@dataclass(frozen=True)
class NatsUser:
    user: str
    password_hash: str
    role: str
    province: str
    agency: str

    @property
    def inbox_prefix(self) -> str:
        return SERVICES_INBOX_PREFIX if self.role == "service" else inbox_prefix(self.user)


def agency_permissions(province: str, agency: str, inbox: str) -> dict[str, object]:
    """Publish under its own `doingoai.events.<province>.<agency>.>` only; receive replies on its
    own inbox prefix only; consume its own escalations through its own consumers (`consumer_names`).
    A consumer's filter is part of the create subject (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`,
    which the server checks against the request), so an agency cannot create one on another's
    escalations nor re-filter one; info, pull (`MSG.NEXT`), ack and delete are allowed on its own
    names only, so another agency's consumer cannot be reached even by name. The legacy
    `CONSUMER.DURABLE.CREATE` subject carries no filter and is not allowed."""
    own = f"doingoai.escalations.{province}.{agency}"
    consumers = []
    for name in consumer_names(province, agency):
        consumers += [
            f"$JS.API.CONSUMER.CREATE.{ESCALATIONS_STREAM}.{name}.{own}",
            f"$JS.API.CONSUMER.INFO.{ESCALATIONS_STREAM}.{name}",
            f"$JS.API.CONSUMER.MSG.NEXT.{ESCALATIONS_STREAM}.{name}",
            f"$JS.API.CONSUMER.DELETE.{ESCALATIONS_STREAM}.{name}",
            f"$JS.ACK.{ESCALATIONS_STREAM}.{name}.>",
        ]
    return {
        "publish": {
            "allow": [
                f"doingoai.events.{province}.{agency}.>",
                LOOKUP_SUBJECT,
                "$JS.API.INFO",
                "$JS.API.STREAM.NAMES",
                f"$JS.API.STREAM.INFO.{ESCALATIONS_STREAM}",
                *consumers,
            ]
        },
        "subscribe": {"allow": [f"{inbox}.>"]},
    }


def auditor_permissions(inbox: str) -> dict[str, object]:
    """Read the event stream message by message (`js.get_msg`, direct get) and never write; replies
    on its own inbox prefix only. No consumer at all: a create request names its consumer in the
    body (even on the legacy `CONSUMER.CREATE.<stream>` subject), so it could re-filter the
    projector's durable consumer; nor pull (`MSG.NEXT`), ack or delete, which would take messages
    from the services' consumers."""
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
        "subscribe": {"allow": [f"{inbox}.>", "doingoai.replay.>"]},
    }


def permissions_for(user: NatsUser) -> dict[str, object] | None:
    if user.role == "service":
        return None
    if user.role == "auditor":
        return auditor_permissions(user.inbox_prefix)
    return agency_permissions(user.province, user.agency, user.inbox_prefix)


def auth_conf(users: Iterable[NatsUser]) -> str:
    """The `authorization { users = [...] }` block of nats-server (no anonymous access). A user
    left out (revoked) is disconnected when a running server reloads it."""
    entries = []
    for user in users:
        entry: dict[str, object] = {"user": user.user, "password": user.password_hash}
        perms = permissions_for(user)
        if perms is not None:
            entry["permissions"] = perms
        entries.append("    " + json.dumps(entry, ensure_ascii=False))
    body = ",\n".join(entries)
    return f"authorization {{\n  users = [\n{body}\n  ]\n}}\n"
