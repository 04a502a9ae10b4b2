"""Sign-in of people (CONTRACT §3): GET /login (the page), POST /login, POST /logout, GET /api/me.

`POST /login` takes `username` and `password` as a form (`application/x-www-form-urlencoded`) or
JSON. A browser's form post (it accepts `text/html`) is answered with a redirect: to the dashboard
(or the form's local `next`) once signed in, back to `/login?loi=...` otherwise; any other client
gets JSON: 200 with what `/api/me` says, 401 for a wrong username or password, 403 `disabled`, 429
after repeated wrong passwords for the username or from the address (`services.http.limits`).
The session cookie is HttpOnly, SameSite=Lax, Secure on https; a POST /login from a page of another
origin is refused (`403 csrf`), so no site can sign a browser in to an account of its choosing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from services.credentials import Identity
from services.http.deps import SESSION_COOKIE, AuthError, identity, session, state
from services.http.limits import TooManyRequests
from services.http.pages import login_page
from services.people import USERNAME_RE, AccountDisabled, WrongPassword, authenticate
from services.sessions import SESSION_TTL, NoSession, Session, close_session, open_session, session_of

router = APIRouter(tags=["sign-in"])
log = structlog.get_logger(__name__)
MAX_FORM_BYTES = 16 * 1024
NO_STORE = {"Cache-Control": "no-store"}


class BadSignIn(Exception):
    """The sign-in request is not a form or JSON object with a username and a password."""


def me(who: Identity, signed_in: Session | None) -> dict[str, Any]:
    """What `/api/me` says: the person (None for a token), the agency, province and role, the CSRF token."""
    person = who.person
    return {"username": person and person.username, "name": person and person.name,
            "title": person and person.title, "role": person.role if person else who.role,
            "agency": who.agency, "province": who.province,
            "csrf_token": signed_in.csrf_token if signed_in else None,
            "expires_at": signed_in.expires_at.isoformat() if signed_in else None}


def _fields(request: Request, body: bytes) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            found = json.loads(body)
        except ValueError:
            raise BadSignIn("the body is not JSON") from None
        if not isinstance(found, dict):
            raise BadSignIn("the body is a JSON object {\"username\": ..., \"password\": ...}")
        return found
    if kind in ("application/x-www-form-urlencoded", ""):
        try:
            form = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=10)
        except (UnicodeDecodeError, ValueError):
            raise BadSignIn("the form is not UTF-8 URL-encoded fields") from None
        return {k: v[0] for k, v in form.items()}
    raise BadSignIn("send the form (application/x-www-form-urlencoded) or JSON")


def _credentials(fields: dict[str, Any]) -> tuple[str, str]:
    username, password = fields.get("username"), fields.get("password")
    if not isinstance(username, str) or not username.strip():
        raise BadSignIn("username is required")
    if not isinstance(password, str) or not password:
        raise BadSignIn("password is required")
    return username.strip().lower(), password


def from_browser(request: Request) -> bool:
    """A form posted by the browser itself (it navigates to the answer), not a script or a client."""
    return "text/html" in request.headers.get("accept", "")


def over_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def _same_origin(request: Request) -> bool:
    """Not a browser's request from another site: `Sec-Fetch-Site` (set by the browser, whatever the
    page) is same-origin or none (typed, bookmarked); a browser that does not send it sends an
    `Origin` of this service's host name, or `null` (our pages' `Referrer-Policy: no-referrer`)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")} - {None}
    return urlsplit(origin).netloc in hosts


def local_path(target: Any) -> str:
    """Where to go after signing in: a path of this site, else the dashboard."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _answer(request: Request, status: int, error: str, message: str, retry_after_s: int | None = None,
            then: str = "/") -> Response:
    if from_browser(request):
        back = f"/login?loi={error}" + (f"&next={quote(then, safe='')}" if then != "/" else "")
        return RedirectResponse(back, 303, headers=NO_STORE)
    body: dict[str, Any] = {"error": error, "message": message}
    headers = dict(NO_STORE)
    if retry_after_s is not None:
        body["retry_after_s"] = retry_after_s
        headers["Retry-After"] = str(retry_after_s)
    return JSONResponse(body, status, headers=headers)


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_form(request: Request) -> Response:
    """The sign-in page (Vietnamese); a browser already signed in goes on to the dashboard."""
    try:
        if await session(request) is not None:
            return RedirectResponse(local_path(request.query_params.get("next")), 303)
    except AuthError:  # an ended session: sign in again
        pass
    return HTMLResponse(login_page(), headers=NO_STORE)


_FIELDS = {"type": "object", "required": ["username", "password"], "properties": {
    "username": {"type": "string", "examples": ["nguyen.van.an"]}, "password": {"type": "string", "format": "password"},
    "next": {"type": "string", "description": "a browser's form: the path to go to once signed in"}}}
LOGIN_DOC: dict[str, Any] = {
    "openapi_extra": {"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": _FIELDS}, "application/json": {"schema": _FIELDS}}}},
    "responses": {
        200: {"description": "Signed in: what GET /api/me says; the session cookie is set (HttpOnly, SameSite=Lax)"},
        303: {"description": "A browser's form: to `next` once signed in, else back to /login?loi=<error>"},
        400: {"description": "No username or password"}, 401: {"description": "Wrong username or password"},
        403: {"description": "`disabled`: the account is disabled; `csrf`: posted from another site"},
        429: {"description": "Too many wrong passwords for the username or from the address (see Retry-After)"},
    },
}


@router.post("/login", **LOGIN_DOC)
async def login(request: Request) -> Response:
    """Sign in with `username` and `password` (form or JSON); sets the session cookie."""
    if not _same_origin(request):
        return _answer(request, 403, "csrf", "sign in from this service's own page")
    body = await request.body()
    try:
        if len(body) > MAX_FORM_BYTES:
            raise BadSignIn(f"the body is over {MAX_FORM_BYTES} bytes")
        fields = _fields(request, body)
        username, password = _credentials(fields)
    except BadSignIn as exc:
        return _answer(request, 400, "bad_request", str(exc))
    st, then = state(request), local_path(fields.get("next"))
    address = request.client.host if request.client else "unknown"
    try:
        st.limits.bad_password_addresses.check(address)
        if not USERNAME_RE.match(username):  # no account has it; not remembered as a username either
            st.limits.bad_password_addresses.failed(address)
            await st.told()
            return _answer(request, 401, "unauthorized", str(WrongPassword("wrong username or password")), then=then)
        st.limits.bad_passwords.check(username)
        who = await authenticate(st.engine, username, password)
    except TooManyRequests as exc:
        log.warning("sign_in.throttled", username=username, address=address)
        return _answer(request, 429, exc.error, str(exc), exc.retry_after_s, then)
    except WrongPassword as exc:
        st.limits.bad_password_addresses.failed(address)
        st.limits.bad_passwords.failed(username)
        await st.told()
        log.info("sign_in.refused", username=username, address=address)
        return _answer(request, 401, "unauthorized", str(exc), then=then)
    except AccountDisabled as exc:
        log.info("sign_in.disabled", username=username, address=address)
        return _answer(request, 403, "disabled", str(exc), then=then)
    st.limits.bad_passwords.succeeded(username)
    await st.told()
    log.info("sign_in", username=username, province=who.province, agency=who.agency, address=address)
    return await start_session(request, who, then)


async def start_session(request: Request, who: Identity, then: str) -> Response:
    """Open a session of the signed-in person (a new id at every sign-in: the browser's previous session
    ends, no fixation) and answer with its cookie: a browser goes on to `then`, a client gets `/api/me`."""
    engine = state(request).engine
    if previous := request.cookies.get(SESSION_COOKIE):
        await end_session(request, previous)
    session_id, signed_in = await open_session(engine, who)
    response: Response = (RedirectResponse(then, 303, headers=NO_STORE) if from_browser(request)
                          else JSONResponse(me(who, signed_in), headers=NO_STORE))
    response.set_cookie(SESSION_COOKIE, session_id, max_age=int(SESSION_TTL.total_seconds()), path="/",
                        secure=over_https(request), httponly=True, samesite="lax")
    return response


async def end_session(request: Request, session_id: str) -> None:
    """The session ends on the server; the other HTTP workers forget what they cached of its person's
    sessions (they read the others again)."""
    st = state(request)
    if st.peers is not None:
        try:
            st.forget_user((await session_of(st.engine, session_id)).person.username)
        except NoSession:
            pass
        await st.told()
    await close_session(st.engine, session_id)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: the session ends on the server (its cookie no longer works) and the cookie is cleared."""
    if session_id := request.cookies.get(SESSION_COOKIE):
        await end_session(request, session_id)
    response = RedirectResponse("/login", 303) if from_browser(request) else Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=over_https(request), httponly=True, samesite="lax")
    return response


@router.get("/api/me")
async def whoami(request: Request) -> JSONResponse:
    """Who is asking: `{username, name, title, role, agency, province, csrf_token, expires_at}` of a
    signed-in person; for a token, its agency, province and role (the person's fields null)."""
    signed_in = None if request.headers.get("authorization") else await session(request)
    who = signed_in.identity if signed_in is not None else await identity(request)
    return JSONResponse(me(who, signed_in), headers=NO_STORE)
