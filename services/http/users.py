"""The accounts of a province, managed by its signed-in administrators (role `admin`): list, add,
disable, enable, reset a password. The same acts as `doingoai users ...` on the command line, which
an operator uses for any province (and for the first administrator)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from services.credentials import Identity, ReservedIdentity
from services.http.deps import AuthError, identity, state, table_response
from services.people import (
    BadAccount,
    NoSuchUser,
    UserExists,
    add_user,
    get_user,
    list_users,
    reset_password,
    set_disabled,
)

router = APIRouter(prefix="/api/users", tags=["users"])


async def admin(request: Request) -> Identity:
    """A signed-in administrator (writes with the session's `X-CSRF-Token`); `403` for anyone else."""
    who = await identity(request)
    if who.role != "admin":
        raise AuthError(403, "accounts are managed by an administrator of the province")
    return who


async def _of_province(request: Request, who: Identity, username: str) -> None:
    """`404` unless the account exists in the administrator's province."""
    try:
        found = await get_user(state(request).engine, username)
    except NoSuchUser:
        found = None
    if found is None or found["province"] != who.province:
        raise HTTPException(404, f"no account {username!r} in {who.province}")


def _text(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str):
        raise BadAccount(f"{field} is required (a string)")
    return value


def _bad(exc: Exception) -> JSONResponse:
    return JSONResponse({"error": "bad_request", "message": str(exc)}, 400)


@router.get("")
async def accounts(request: Request, agency: str | None = None) -> Response:
    """The province's accounts (never a password hash); `agency=` for one agency's."""
    who = await admin(request)
    return table_response(request, await list_users(state(request).engine, who.province, agency), "users")


@router.post("", status_code=201)
async def add(request: Request, body: dict[str, Any] = Body(...)) -> JSONResponse:
    """Add an account in the administrator's province: `{username, agency, name, title, role, password}`."""
    who = await admin(request)
    try:
        made = await add_user(state(request).engine, province=who.province, agency=_text(body, "agency"),
                              username=_text(body, "username"), name=_text(body, "name"),
                              title=_text(body, "title"), role=_text(body, "role"), password=_text(body, "password"))
    except (BadAccount, ReservedIdentity) as exc:
        return _bad(exc)
    except UserExists as exc:
        return JSONResponse({"error": "conflict", "message": str(exc)}, 409)
    return JSONResponse(made, 201)


@router.post("/{username}/disable")
async def disable(request: Request, username: str) -> JSONResponse:
    """The account signs in no more; its sessions end."""
    who = await admin(request)
    await _of_province(request, who, username)
    if who.person is not None and who.person.username == username:
        raise AuthError(403, "an administrator does not disable their own account")
    done = await set_disabled(state(request).engine, username, True)
    state(request).forget_user(username)
    return JSONResponse(done)


@router.post("/{username}/enable")
async def enable(request: Request, username: str) -> JSONResponse:
    who = await admin(request)
    await _of_province(request, who, username)
    return JSONResponse(await set_disabled(state(request).engine, username, False))


@router.post("/{username}/reset-password")
async def new_password(request: Request, username: str, body: dict[str, Any] = Body(...)) -> JSONResponse:
    """`{password}`: the account's new password; its sessions end."""
    who = await admin(request)
    await _of_province(request, who, username)
    try:
        done = await reset_password(state(request).engine, username, _text(body, "password"))
    except BadAccount as exc:
        return _bad(exc)
    state(request).forget_user(username)
    return JSONResponse(done)
