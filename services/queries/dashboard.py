"""The coordination summary of a province for a period."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from projections.models.tables import activities, difficulties, information, tasks
from services.queries.compliance import compliance, recorded_plans, tally, units_periodic
from services.queries.periods import report_period_of, window
from services.queries.tasks import task_state, task_status

__all__ = ["dashboard", "task_status"]


async def dashboard(conn: AsyncConnection, province: str, period: str, today: date) -> dict[str, Any]:
    start, end = window(period)
    in_period = (activities.c.province == province) & (activities.c.start_date >= start) & (
        activities.c.start_date <= end
    )
    by_kind = {
        (kind, status): n
        for kind, status, n in await conn.execute(
            select(activities.c.kind, activities.c.status, func.count()).where(in_period)
            .group_by(activities.c.kind, activities.c.status)
        )
    }
    aid = {
        currency: float(total)
        for currency, total in await conn.execute(
            select(activities.c.currency, func.sum(activities.c.amount))
            .where(in_period, activities.c.kind == "aid").group_by(activities.c.currency)
        )
    }
    partners = Counter(
        country
        for (country,) in await conn.execute(
            select(activities.c.partner_country).where(
                in_period, activities.c.kind.in_(["delegation_in", "delegation_out"]),
                activities.c.partner_country.is_not(None),
            )
        )
    )
    task_rows = (await conn.execute(select(tasks).where(tasks.c.province == province))).all()
    recorded = await recorded_plans(conn, province)
    diffs = Counter(
        s for (s,) in await conn.execute(select(difficulties.c.status).where(difficulties.c.province == province))
    )
    info_rows = (await conn.execute(
        select(information.c.recipients, information.c.acknowledged).where(information.c.province == province)
    )).all()
    report_period = report_period_of(period)
    owed = units_periodic(await compliance(conn, province, report_period, today), province)
    periodic, counts = Counter(c.status for c in owed), tally(owed)
    return {
        "province": province,
        "period": period,
        "window": {"from": start.isoformat(), "to": end.isoformat()},
        "headline": {
            "activities_held": by_kind.get(("activity", "held"), 0),
            "activities_planned": by_kind.get(("activity", "planned"), 0),
            "activities_cancelled": by_kind.get(("activity", "cancelled"), 0),
            "delegations_in": sum(n for (k, _), n in by_kind.items() if k == "delegation_in"),
            "delegations_out": sum(n for (k, _), n in by_kind.items() if k == "delegation_out"),
            "conferences": sum(n for (k, _), n in by_kind.items() if k == "conference"),
            "agreements": sum(n for (k, _), n in by_kind.items() if k == "agreement"),
            "aid_projects": sum(n for (k, _), n in by_kind.items() if k == "aid"),
            "aid_committed": aid,
        },
        "delegations_by_country": dict(partners.most_common()),
        "tasks": dict(Counter(task_state(r, today, recorded).status for r in task_rows)),
        "reports": {"period": report_period, **periodic, "expected": sum(counts.values()),
                    "submitted": counts["on_time"] + counts["late"]},
        "difficulties": dict(diffs),
        "information": {
            "shared": len(info_rows),
            "awaiting_acknowledgement": sum(len(set(r.recipients) - set(r.acknowledged)) for r in info_rows),
        },
    }
