"""The files events carry (a report, a difficulty's documents, SNgV's submission to the UBND), kept in the
JetStream object store DOINGOAI_ATTACHMENTS, which the services' own NATS user alone reads and writes.

A file is accepted as PDF or Word (.docx) by its content (its magic bytes, as `filetype` reads them),
whatever its name says, up to `DOINGOAI_ATTACHMENT_MAX_MB`. It is stored once per agency under
`<province>/<agency>/<sha256>`; the event names it with its SHA-256 (`schemas.common.Attachment`). An
event over HTTP that names a file its agency did not upload, or with another size or hash, is refused
(`bad_attachment`); `doingoai audit verify` reads every file the trail names again and checks its hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import filetype
from nats.aio.client import Client
from nats.js import api
from nats.js.errors import BucketNotFoundError, DigestMismatchError, NotFoundError
from nats.js.object_store import ObjectStore
from sqlalchemy import LargeBinary, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.models.audit_tables import audit_trail
from schemas.codec import Event, InvalidEvent, Problem
from schemas.common import Attachment, MediaType

BUCKET = "DOINGOAI_ATTACHMENTS"
"""The object store (its stream is OBJ_DOINGOAI_ATTACHMENTS)."""
BAD_ATTACHMENT = "bad_attachment"
"""The rejection kind of an event naming a file that is not stored as it says (HTTP 422)."""
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


class UnsupportedFile(ValueError):
    """The content is neither PDF nor Word (.docx)."""


class FileUnavailable(Exception):
    """A stored file cannot be read back as its event recorded it: missing, or altered."""


def object_name(province: str, agency: str, sha256: str) -> str:
    return f"{province}/{agency}/{sha256}"


def digest_of(sha256_hex: str) -> str:
    """The object store's digest form of a SHA-256 (`SHA-256=<base64url>`)."""
    return "SHA-256=" + base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).decode()


def media_type(data: bytes) -> MediaType:
    """PDF or .docx as the content shows (UnsupportedFile otherwise)."""
    found = filetype.guess_mime(data)
    try:
        return MediaType(found)
    except ValueError:
        what = f"it looks like {found}" if found else "its content is of no known kind"
        raise UnsupportedFile(f"only PDF or Word (.docx) files are accepted: {what}") from None


def attachments_of(event: Event) -> list[Attachment]:
    """The files a typed event names (`data.attachments` of file references; none where its type has
    no such field)."""
    if "attachments" not in type(event.data).model_fields:
        return []
    found = event.data.attachments or []  # type: ignore[attr-defined]
    return [a for a in found if isinstance(a, Attachment)]


def named_in(data: Any) -> Iterator[dict[str, Any]]:
    """The file references in an event's JSON `data` (the `attachments` lists' items with `sha256` and
    `object`), of any event type, as stored."""
    if not isinstance(data, dict):
        return
    for item in data.get("attachments") or []:
        if isinstance(item, dict) and isinstance(item.get("sha256"), str) and isinstance(item.get("object"), str):
            yield item


class AttachmentStore:
    """The object store through the services' connection, bound (or created) on first use."""

    def __init__(self, nc: Client, *, replicas: int = 1):
        self.nc, self.replicas = nc, replicas
        self._store: ObjectStore | None = None

    async def store(self) -> ObjectStore:
        if self._store is None:
            self._store = await ensure_bucket(self.nc, self.replicas)
        return self._store

    async def put(self, province: str, agency: str, name: str, data: bytes) -> Attachment:
        """Store the file (once: the same bytes from the same agency are the same object)."""
        kind = media_type(data)
        sha = hashlib.sha256(data).hexdigest()
        obj = object_name(province, agency, sha)
        store = await self.store()
        try:
            info = await store.get_info(obj)
            stored = info.size == len(data) and info.digest == digest_of(sha)
        except NotFoundError:
            stored = False
        if not stored:
            await store.put(obj, data, meta=api.ObjectMeta(name=obj, description=name[:255]))
        return Attachment(name=name, media_type=kind, size=len(data), sha256=sha, object=obj)

    async def problems(self, province: str, agency: str, files: Sequence[Attachment]) -> list[Problem]:
        """Why the files an event of `agency` names are not stored as it says (empty: they are)."""
        out: list[Problem] = []
        for n, file in enumerate(files):
            at = f"data.attachments.{n}"
            if file.object != object_name(province, agency, file.sha256):
                out.append(Problem(f"{at}.object", f"{file.object} is not {province}/{agency}'s upload of "
                                                   f"{file.sha256}: upload the file first (POST /api/attachments)"))
                continue
            try:
                info = await (await self.store()).get_info(file.object)
            except NotFoundError:
                out.append(Problem(f"{at}.sha256", f"no file {file.sha256} was uploaded by {province}/{agency}: "
                                                   "upload it first (POST /api/attachments)"))
                continue
            if info.digest != digest_of(file.sha256):
                out.append(Problem(f"{at}.sha256", f"the stored file {file.object} has another SHA-256"))
            elif info.size != file.size:
                out.append(Problem(f"{at}.size", f"the stored file is {info.size} bytes, not {file.size}"))
        return out

    async def refusals(self, province: str, agency: str, events: Iterable[Event]) -> list[InvalidEvent | None]:
        """For each event, `bad_attachment` naming what is wrong with the files it names, or None."""
        out: list[InvalidEvent | None] = []
        for event in events:
            files = attachments_of(event)
            found = await self.problems(province, agency, files) if files else []
            out.append(InvalidEvent(BAD_ATTACHMENT, found) if found else None)
        return out

    async def read(self, obj: str, sha256: str) -> bytes:
        """The file's bytes, checked against the SHA-256 its event recorded (FileUnavailable if not)."""
        try:
            data = (await (await self.store()).get(obj)).data
        except NotFoundError:
            raise FileUnavailable(f"{obj} is missing from the attachments store") from None
        except DigestMismatchError:
            raise FileUnavailable(f"{obj} was altered: its chunks do not match the store's digest") from None
        if hashlib.sha256(data or b"").hexdigest() != sha256:
            raise FileUnavailable(f"{obj} was altered: its SHA-256 is not the one its event recorded")
        return data or b""


async def ensure_bucket(nc: Client, replicas: int = 1) -> ObjectStore:
    """The object store, created (file storage) if missing."""
    js = nc.jetstream()
    try:
        return await js.object_store(BUCKET)
    except BucketNotFoundError:
        config = api.ObjectStoreConfig(description="Files the events carry, named <province>/<agency>/<sha256>",
                                       storage=api.StorageType.FILE, replicas=replicas)
        return await js.create_object_store(BUCKET, config=config)


@dataclass(frozen=True)
class FileFinding:
    """A file named by a stored event that cannot be read back as recorded."""

    seq: int
    event_id: str
    object: str
    problem: str

    def __str__(self) -> str:
        return f"sequence {self.seq} (event {self.event_id}): attachment {self.object}: {self.problem}"


async def verify_files(
    store: AttachmentStore, named: AsyncIterable[tuple[int, str, bytes]],
) -> tuple[int, list[FileFinding]]:
    """Read again every file the events (seq, event id, stored bytes) name and re-hash it: how many
    files were checked, and the findings (missing, altered) of each event naming a bad file, in order."""
    checked: dict[str, str | None] = {}
    findings: list[FileFinding] = []
    async for seq, event_id, raw in named:
        try:
            data = json.loads(raw).get("data")
        except (ValueError, AttributeError):
            continue  # not an event: the chain check speaks of it
        for ref in named_in(data):
            key = f"{ref['object']} {ref['sha256']}"
            if key not in checked:
                try:
                    await store.read(ref["object"], ref["sha256"])
                    checked[key] = None
                except FileUnavailable as exc:
                    checked[key] = str(exc)
                except ValueError as exc:  # a name the object store refuses
                    checked[key] = f"cannot be read: {exc}"
            if checked[key] is not None:
                findings.append(FileFinding(seq, event_id, ref["object"], checked[key] or ""))
    return len(checked), findings



async def trail_files(engine: AsyncEngine, through: int, page: int = 1000) -> AsyncIterator[tuple[int, str, bytes]]:
    """(seq, event id, stored bytes) of the audit trail's events up to `through` that may name a file (their
    bytes hold `"sha256"`: PostgreSQL looks, only those rows are read), in sequence order. Read after the
    chain was verified, the trail's bytes are the stream's."""
    after = 0
    naming = text("position(:needle in data) > 0").bindparams(bindparam("needle", b'"sha256"', type_=LargeBinary))
    while True:
        query = (select(audit_trail.c.seq, audit_trail.c.event_id, audit_trail.c.data)
                 .where(audit_trail.c.seq > after, audit_trail.c.seq <= through, naming)
                 .order_by(audit_trail.c.seq).limit(page))
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        for seq, event_id, data in rows:
            yield int(seq), str(event_id or ""), bytes(data)
        if len(rows) < page:
            return
        after = int(rows[-1][0])


async def verify_trail_files(nc: Client, engine: AsyncEngine, through: int) -> tuple[int, list[FileFinding]]:
    """`audit verify`'s check of the files: every file the trail's events up to `through` name, re-hashed."""
    return await verify_files(AttachmentStore(nc), trail_files(engine, through))
