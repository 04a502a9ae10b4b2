"""Reports submitted, returned and accepted, and ad hoc report requests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from projections.engine.batch import Stored
from projections.models.rows import Reducer, Refused, Row, RowProjection, base_row
from projections.models.tables import report_requests, reports


def submitted(row: Row | None, s: Stored) -> Row:
    """A report sent, or sent again: after a return the new date counts (the report was not there
    until then); a copy sent again unasked keeps the day the report first arrived."""
    d: Any = s.event.data
    day = d.submitted_on
    if row is not None and row.get("status") != "returned" and row.get("submitted_on") is not None:
        day = min(row["submitted_on"], day)
    return {**(row or {}), **base_row(s), "report_kind": d.report_kind.value, "period": d.period, "title": d.title,
            "submitted_on": day, "status": "submitted", "request_id": d.request_id}


def returned(row: Row | None, s: Stored) -> Row:
    if row is None:
        raise Refused("unknown_aggregate", "subject", f"no report {s.event.envelope.subject} was submitted")
    d: Any = s.event.data
    return {**row, "status": "returned", "returned_on": d.returned_on}


def accepted(row: Row | None, s: Stored) -> Row:
    if row is None:
        raise Refused("unknown_aggregate", "subject", f"no report {s.event.envelope.subject} was submitted")
    d: Any = s.event.data
    return {**row, "status": "accepted", "accepted_on": d.accepted_on}


def requested(row: Row | None, s: Stored) -> Row:
    d: Any = s.event.data
    return {"province": s.event.envelope.province, "report_kind": d.report_kind.value, "period": d.period,
            "title": d.title, "deadline": d.deadline, "requested_agencies": list(d.requested_agencies)}


class Reports(RowProjection):
    name = "reports"
    table = reports
    key = "report_id"
    reducers: ClassVar[Mapping[str, Reducer]] = {
        "report_submitted": submitted,
        "report_returned": returned,
        "report_accepted": accepted,
    }


class ReportRequests(RowProjection):
    name = "report_requests"
    table = report_requests
    key = "request_id"
    reducers: ClassVar[Mapping[str, Reducer]] = {"report_requested": requested}
