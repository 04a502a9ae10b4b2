"""GET /api/reports/consolidated.docx: the consolidated report of a province for a period, as Word."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from schemas.reference import UnknownReference
from services.http.deps import state
from services.http.params import bad_query
from services.http.scope import Reader, reader
from services.queries.periods import BadPeriod
from services.reports.data import BadReportDate, check_report_date, gather, today_vn
from services.reports.docx_report import DOCX_MEDIA_TYPE, filename, to_bytes

router = APIRouter(prefix="/api/reports", tags=["reports"])


@router.get("/consolidated.docx", response_class=Response,
            responses={200: {"content": {DOCX_MEDIA_TYPE: {}}, "description": "The report (.docx)"}})
async def consolidated_docx(
    request: Request,
    period: str = Query(description="2021-H1 (6 tháng đầu năm) or 2021 (cả năm)"),
    province: str | None = Query(None, description="Province slug, e.g. ha-tinh (default: the reader's)"),
    day: date | None = Query(None, alias="date", description="Date of the report (default: today in Việt Nam)"),
    who: Reader = Depends(reader),
) -> Response:
    """The consolidated report SNgV sends the UBND tỉnh (báo cáo kết quả công tác đối ngoại nhân dân),
    built from the read models for the province and the period's data window. A period or date
    outside the years 1900-2100 is a 400 naming the parameter."""
    province = who.province(province)
    try:
        report_day = check_report_date(day) if day is not None else today_vn()
        async with state(request).engine.connect() as conn:
            data = await gather(conn, province, period, report_day)
    except BadPeriod as exc:
        raise bad_query("period", str(exc)) from None
    except BadReportDate as exc:
        raise bad_query("date", str(exc)) from None
    except UnknownReference as exc:
        raise HTTPException(404, str(exc)) from None
    body = await run_in_threadpool(to_bytes, data)
    name = filename(data)
    return Response(body, media_type=DOCX_MEDIA_TYPE, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"})

