"""POST /api/attachments (upload a file an event will carry) and GET /api/attachments/{sha256} (download it,
for those who read an event naming it). See `services.attachments`."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from projections.tables import events
from services.attachments import AttachmentStore, FileUnavailable, UnsupportedFile, named_in
from services.http.deps import state
from services.http.ingest import publisher_identity
from services.http.params import declared_length
from services.http.scope import Reader, reader

router = APIRouter(prefix="/api/attachments", tags=["attachments"])
MULTIPART_SLACK = 64 * 1024
"""Bytes a multipart body may hold besides the file (boundaries, part headers, the file's name)."""


def _problem(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "problems": [{"path": "file", "message": message}], **extra}, status)


def store_of(request: Request) -> AttachmentStore:
    return state(request).attachments


@router.post("", status_code=201)
async def upload(request: Request) -> JSONResponse:
    """Upload one file (multipart form field `file`): a PDF or Word (.docx) document by its content, at
    most `DOINGOAI_ATTACHMENT_MAX_MB`. With the agency's token, or a signed-in session and its
    `X-CSRF-Token`. 201 with `{name, media_type, size, sha256, object}`: put it in the event's
    `data.attachments`. 413 `too_large`, 415 `unsupported_media_type`, 400 `bad_request` otherwise."""
    who = await publisher_identity(request)
    limit = state(request).attachment_max_bytes
    declared = declared_length(request.headers.get("content-length"))
    if declared is None:
        return _problem(411, "length_required", "send the file with a Content-Length")
    if declared > limit + MULTIPART_SLACK:
        return _problem(413, "too_large", f"the request is {declared} bytes; a file is at most {limit} bytes",
                        max_bytes=limit)
    async with state(request).limits.bodies.hold(f"{who.province}.{who.agency}", declared):
        try:
            async with request.form(max_files=1, max_fields=5) as form:
                file = form.get("file")
                if not isinstance(file, UploadFile):
                    return _problem(400, "bad_request", "send the file as the multipart form field `file`")
                data = await file.read(limit + 1)
                name = (file.filename or "tep-dinh-kem").replace("\\", "/").rsplit("/", 1)[-1][:255] or "tep"
        except (MultiPartException, ValueError) as exc:  # not multipart, or a malformed body
            return _problem(400, "bad_request", f"a multipart/form-data body with field `file` is needed: {exc}")
    if len(data) > limit:
        return _problem(413, "too_large", f"the file is more than {limit} bytes", max_bytes=limit)
    if not data:
        return _problem(400, "bad_request", "the file is empty")
    try:
        stored = await store_of(request).put(who.province, who.agency, name, data)
    except UnsupportedFile as exc:
        return _problem(415, "unsupported_media_type", str(exc))
    return JSONResponse(stored.model_dump(mode="json"), 201)


@router.get("/{sha256}", responses={200: {"content": {"application/pdf": {}}}})
async def download(
    request: Request,
    sha256: str,
    event: str | None = Query(None, max_length=128, description="The id of an event naming the file"),
    who: Reader = Depends(reader),
) -> Response:
    """The file, for a reader of an event naming it (its province; an agency: its own events; SNgV, the
    UBND tỉnh and auditors: the whole province). 404 when no event the reader reads names it; 503 when
    the stored file is missing or altered (`doingoai audit verify` names it)."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return JSONResponse({"error": "bad_request", "problems": [{"path": "sha256", "message":
                             "a SHA-256 as 64 lowercase hexadecimal digits"}]}, 400)
    q = (select(events.c.envelope).where(events.c.province == who.who.province,
                                         events.c.envelope.contains({"data": {"attachments": [{"sha256": sha256}]}}))
         .order_by(events.c.seq).limit(1))
    if not who.whole_province:
        q = q.where(events.c.source == who.who.source)
    if event is not None:
        q = q.where(events.c.id == event)
    async with state(request).engine.connect() as conn:
        envelope = await conn.scalar(q)
    ref = next((r for r in named_in((envelope or {}).get("data")) if r["sha256"] == sha256), None)
    if ref is None:
        return JSONResponse({"error": "not_found", "message": f"no event {who.who.province}.{who.who.agency} "
                                                              f"reads names the file {sha256}"}, 404)
    try:
        data = await store_of(request).read(ref["object"], sha256)
    except FileUnavailable as exc:
        return JSONResponse({"error": "attachment_unavailable", "message": str(exc)}, 503)
    name = str(ref.get("name") or sha256)
    return Response(data, media_type=str(ref.get("media_type") or "application/octet-stream"), headers={
        "Content-Disposition": f"attachment; filename=\"{sha256[:16]}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "private, no-store",
    })
