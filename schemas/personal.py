"""Personal data in events: which fields hold people, and their sealing with a key per person (pure:
no I/O; the keys live in PostgreSQL, `projections.models.personal`).

Events name people: the head of a delegation, who signed an agreement, the officer in charge of a
difficulty, who acknowledged an escalation or information (every `PersonRef`), and the person who
recorded an event (the envelope's `actor`). Vietnam's personal-data rules (Decree 13/2023/NĐ-CP, the
Law on Personal Data Protection in force from 1/1/2026) give a person the right to have that erased,
while the stream is immutable and the audit chain hashes every byte. So a personal value is stored
sealed: AES-256-GCM under a key of its own person (`province` + the name, normalized), as the text

    pd1.<key id>.<base64url(nonce + ciphertext + tag)>

with `pd1.<province>.<key id>` as associated data (a token copied to another province does not open)
and a nonce derived from the text (`seal`).
Erasure destroys the key: every copy of the token — the stream, the read models, exports, backups —
then reads `ERASED`, and the hash chain, which covers the token, still verifies.

A field is personal when its JSON Schema says `"x-personal": true` (`PersonalText`): a schema marks
new ones without code here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Callable, Iterator
from functools import cache
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

ERASED = "[đã xóa]"
"""What a personal value whose person was erased reads as, everywhere."""
PREFIX = "pd1"
KEY_ID_CHARS = 22
"""A key id: 16 random bytes, base64url without padding."""
TOKEN_RE = re.compile(rf"{PREFIX}\.([A-Za-z0-9_-]{{{KEY_ID_CHARS}}})\.([A-Za-z0-9_-]{{38,}})")
MAX_SEALED = 4096
"""The longest token a personal field may hold (a 200-character name in any script seals to under 1,100)."""
MARK = "x-personal"


def _within(max_length: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > max_length and TOKEN_RE.fullmatch(value) is None:
            raise PydanticCustomError("string_too_long", "String should have at most {max_length} characters",
                                      {"max_length": max_length})
        return value
    return check


PersonalText = Annotated[str, Field(max_length=MAX_SEALED, json_schema_extra={"maxLength": 200, MARK: True}),
                         AfterValidator(_within(200))]
"""A personal string field: at most 200 characters as written, or its sealed token."""


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and TOKEN_RE.fullmatch(value) is not None


def key_id_of(token: str) -> str:
    return token[len(PREFIX) + 1:len(PREFIX) + 1 + KEY_ID_CHARS]


def new_key_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _aad(province: str, key_id: str) -> bytes:
    return f"{PREFIX}.{province}.{key_id}".encode()


def seal(key: bytes, key_id: str, province: str, text: str) -> str:
    """`text` sealed: deterministic (a synthetic nonce, HMAC-SHA256 of the text under a key derived
    from the person's), so a replay writes the read models byte for byte as the live projection did;
    equal texts of one person give equal tokens, and no two texts share a nonce."""
    aad = _aad(province, key_id)
    nonce = hmac.new(hashlib.sha256(b"pd1 nonce\n" + key).digest(), aad + b"\n" + text.encode(),
                     hashlib.sha256).digest()[:12]
    sealed = AESGCM(key).encrypt(nonce, text.encode(), aad)
    return f"{PREFIX}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode()}"


def open_token(key: bytes | None, province: str, token: str) -> str:
    """The text a token seals, or ERASED when its key is gone (or the token is not one of `province`'s)."""
    match = TOKEN_RE.fullmatch(token)
    if key is None or match is None:
        return ERASED
    blob = base64.urlsafe_b64decode(match.group(2) + "=" * (-len(match.group(2)) % 4))
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], _aad(province, match.group(1))).decode()
    except (InvalidTag, ValueError):
        return ERASED


def normalized(name: str) -> str:
    """A person's name as their key is chosen by: NFC, case folded, inner spaces collapsed."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def person_of(text: str) -> str:
    """Whose key seals a personal value: the person named. An `actor` of a signed-in session reads
    `<name> (<username>)`: the person is the name."""
    match = re.fullmatch(r"(.+?) \([^()]+\)", text.strip())
    return match.group(1) if match else text


def digest(secret: bytes, province: str, name: str) -> str:
    """The key's look-up value for a person: HMAC-SHA256 (the secret is the database's, so the
    table of keys names nobody)."""
    return hmac.new(secret, f"{province}\n{normalized(person_of(name))}".encode(), hashlib.sha256).hexdigest()


def value_digest(secret: bytes, province: str, text: str) -> str:
    """The look-up value of one personal value as written (not normalized): HMAC-SHA256, as `digest`."""
    return hmac.new(secret, f"{province}\nvalue\n{text}".encode(), hashlib.sha256).hexdigest()


def strings_in(obj: Any) -> Iterator[str]:
    """Every string of a JSON-like value (dicts, lists, strings; other values skipped)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from strings_in(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from strings_in(v)


Path = tuple[str, ...]
"""Members from the payload (`data`) down to a personal string; `*` for every element of a list."""


@cache
def personal_paths(model: type[BaseModel]) -> tuple[Path, ...]:
    """Where `model`'s JSON holds personal strings."""
    return tuple(_paths(model, ()))


def _paths(annotation: Any, at: Path) -> Iterator[Path]:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *meta = get_args(annotation)
        if any(getattr(m, "json_schema_extra", None) and m.json_schema_extra.get(MARK) for m in meta):
            yield at
        else:
            yield from _paths(inner, at)
    elif origin in (Union, UnionType):
        for arg in get_args(annotation):
            if arg is not NoneType:
                yield from _paths(arg, at)
    elif origin in (list, tuple, frozenset, set):
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                yield from _paths(arg, (*at, "*"))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, info in annotation.model_fields.items():
            extra = info.json_schema_extra
            if isinstance(extra, dict) and extra.get(MARK):
                yield (*at, info.alias or name)
            else:
                yield from _paths(Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation,
                                  (*at, info.alias or name))


def values_at(obj: Any, paths: tuple[Path, ...]) -> Iterator[str]:
    """The personal strings of a payload (its JSON, or its model)."""
    for path in paths:
        yield from _at(obj, path)


def people_at(obj: Any, paths: tuple[Path, ...]) -> Iterator[tuple[str, str]]:
    """(value, person) of each personal string of a payload: the person whose key seals it is the
    `name` beside it (a person's title is sealed with their name's key), else the value itself."""
    for path in paths:
        if path[-1] == "name" or "*" in path:
            for value in _at(obj, path):
                yield value, value
            continue
        names = list(_at(obj, (*path[:-1], "name")))
        for value in _at(obj, path):
            yield value, names[0] if names and not is_sealed(names[0]) else value


def _at(obj: Any, path: Path) -> Iterator[str]:
    if not path:
        if isinstance(obj, str):
            yield obj
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(obj, list | tuple):
            for item in obj:
                yield from _at(item, rest)
    elif isinstance(obj, dict):
        if head in obj:
            yield from _at(obj[head], rest)
    elif isinstance(obj, BaseModel):  # a payload validated straight from its bytes
        yield from _at(getattr(obj, head, None), rest)


def replaced(obj: Any, paths: tuple[Path, ...], new: Callable[[str], str]) -> Any:
    """A copy of a payload's JSON with each personal string `s` written as `new(s)`."""
    for path in paths:
        obj = _replace(obj, path, new)
    return obj


def _replace(obj: Any, path: Path, new: Callable[[str], str]) -> Any:
    if not path:
        return new(obj) if isinstance(obj, str) else obj
    head, rest = path[0], path[1:]
    if head == "*":
        return [_replace(item, rest, new) for item in obj] if isinstance(obj, list) else obj
    if isinstance(obj, dict) and head in obj:
        return {**obj, head: _replace(obj[head], rest, new)}
    return obj


def tokens_in(text: str) -> Iterator[re.Match[str]]:
    """The sealed values inside a text (a whole value, or one a message quotes)."""
    return TOKEN_RE.finditer(text)
