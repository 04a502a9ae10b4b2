"""Sign-in through the province's single sign-on (OpenID Connect, with Authlib's Starlette client):
`GET /login/oidc` sends the browser to the provider, `GET /login/oidc/callback` takes it back, and
`GET /api/login-options` tells the sign-in page whether to show the button.

The provider's metadata and keys are discovered from its issuer (OpenID Connect Discovery) when the
first person signs in, not at start. The authorization request carries a state, a nonce and a PKCE
challenge (S256); Authlib keeps them in a short-lived signed cookie, `doingoai_oidc`, sent only to
/login/oidc (its key is made at start: a sign-in begun before a restart is begun again). The callback
checks the state against that cookie, exchanges the code (with the client secret and the PKCE
verifier), validates the ID token with the provider's keys (signature, issuer, audience, expiry,
nonce) and, if configured, reads the userinfo endpoint for the same `sub`. The claims then map to an
account (`services.oidc.claims`), linked to the provider (`services.oidc.accounts`), and the person
gets the same session cookie as with a password. A refusal is JSON `{error, message}` with the message
in Vietnamese; a browser goes back to the sign-in page, which says why (`/login?loi=...`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import httpx2
import structlog
from authlib.integrations.base_client import MismatchingStateError
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from joserfc.errors import JoseError
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from services.credentials import ReservedIdentity
from services.http.deps import state
from services.http.signin import NO_STORE, from_browser, local_path, start_session
from services.oidc.accounts import UsernameTaken, sign_in_linked
from services.oidc.claims import ASK_ADMIN, Unmapped, map_claims
from services.oidc.config import OidcProvider
from services.people import AccountDisabled, BadAccount

router = APIRouter(tags=["sign-in"])
log = structlog.get_logger(__name__)
PREFIX = "/login/oidc"
STATE_COOKIE = "doingoai_oidc"
STATE_TTL_S = 600
"""How long a person may take at the provider before the sign-in must be begun again."""


@dataclass(frozen=True)
class SingleSignOn:
    """The configured provider and Authlib's client of it (one per HTTP service)."""

    provider: OidcProvider
    client: StarletteOAuth2App


def single_sign_on(provider: OidcProvider) -> SingleSignOn:
    oauth = OAuth()
    oauth.register("sso", client_id=provider.client_id, client_secret=provider.client_secret,
                   server_metadata_url=provider.metadata_url,
                   client_kwargs={"scope": provider.scopes, "code_challenge_method": "S256", "timeout": 10})
    client = oauth.create_client("sso")
    assert isinstance(client, StarletteOAuth2App)
    return SingleSignOn(provider, client)


class StateCookie:
    """Starlette's SessionMiddleware (where Authlib keeps a sign-in's state, nonce and PKCE verifier),
    for the /login/oidc paths only: no other request reads or carries that cookie."""

    def __init__(self, app: ASGIApp, provider: OidcProvider):
        self.app = app
        self.with_session = SessionMiddleware(
            app, secret_key=secrets.token_urlsafe(32), session_cookie=STATE_COOKIE, max_age=STATE_TTL_S,
            path=PREFIX, same_site="lax", https_only=provider.redirect_uri.startswith("https://"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PREFIX):
            await self.with_session(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class Refused(Exception):
    """A sign-in through the provider that does not open a session: `status`, `error` (and `page`, the
    reason the sign-in page shows), the message in Vietnamese."""

    def __init__(self, status: int, error: str, message: str, page: str | None = None, **detail: Any):
        self.status, self.error, self.page, self.detail = status, error, page or error, detail
        super().__init__(message)


def _answer(request: Request, refused: Refused) -> Response:
    if from_browser(request):
        return RedirectResponse(f"/login?loi={refused.page}", 303, headers=NO_STORE)
    return JSONResponse({"error": refused.error, "message": str(refused), **refused.detail}, refused.status,
                        headers=NO_STORE)


def _sso(request: Request) -> SingleSignOn:
    sso: SingleSignOn | None = state(request).sso
    if sso is None:
        raise Refused(404, "not_found", "Hệ thống chưa được cấu hình đăng nhập một cửa (OpenID Connect).")
    return sso


UNAVAILABLE = "Không kết nối được với hệ thống đăng nhập một cửa. Vui lòng thử lại sau hoặc dùng mật khẩu."


async def _discover(sso: SingleSignOn) -> None:
    """The provider's metadata (fetched once), which must name the configured issuer."""
    try:
        metadata = await sso.client.load_server_metadata()
    except (httpx2.HTTPError, ValueError) as exc:
        log.warning("oidc.discovery_failed", issuer=sso.provider.issuer, error=repr(exc)[:300])
        raise Refused(503, "oidc_unavailable", UNAVAILABLE) from None
    if metadata.get("issuer") != sso.provider.issuer:
        log.error("oidc.issuer_mismatch", configured=sso.provider.issuer, discovered=metadata.get("issuer"))
        raise Refused(503, "oidc_unavailable", UNAVAILABLE)


@router.get("/api/login-options")
async def login_options(request: Request) -> JSONResponse:
    """How people may sign in: with a password, and through the single sign-on if one is configured
    (`oidc`: the button's `label` and the `url` that begins it; null without one)."""
    sso: SingleSignOn | None = state(request).sso
    oidc = {"label": sso.provider.label, "url": PREFIX} if sso is not None else None
    return JSONResponse({"password": True, "oidc": oidc})


@router.get(PREFIX, responses={302: {"description": "To the provider's authorization endpoint"},
                               404: {"description": "No single sign-on is configured"},
                               503: {"description": "The provider cannot be reached"}})
async def begin(request: Request) -> Response:
    """Begin a sign-in through the single sign-on: the browser is sent to the provider; `next` is the
    path to go to once signed in."""
    try:
        sso = _sso(request)
        await _discover(sso)
        request.session["next"] = local_path(request.query_params.get("next"))
        response = await sso.client.authorize_redirect(request, sso.provider.redirect_uri)
    except Refused as refused:
        return _answer(request, refused)
    except httpx2.HTTPError as exc:
        log.warning("oidc.begin_failed", error=repr(exc)[:300])
        return _answer(request, Refused(503, "oidc_unavailable", UNAVAILABLE))
    response.headers.update(NO_STORE)
    return response


async def _claims(request: Request, sso: SingleSignOn) -> dict[str, Any]:
    """The validated claims of the callback's authorization response (ID token, then userinfo)."""
    await _discover(sso)
    try:
        token = await sso.client.authorize_access_token(request)
    except MismatchingStateError:
        raise Refused(400, "oidc_state", "Yêu cầu đăng nhập một cửa không hợp lệ hoặc đã hết hạn. "
                                         "Hãy bắt đầu đăng nhập lại.") from None
    except (OAuthError, JoseError, ValueError) as exc:
        log.info("oidc.refused_by_provider_or_token", error=repr(exc)[:300])
        raise Refused(401, "oidc_failed", "Đăng nhập một cửa không thành công. Hãy thử lại.",
                      reason=str(getattr(exc, "error", None) or type(exc).__name__)) from None
    claims = token.get("userinfo")
    if not claims:
        raise Refused(401, "oidc_failed", "Hệ thống đăng nhập một cửa không trả về thông tin định danh (ID token).",
                      reason="no_id_token")
    claims = dict(claims)
    if sso.provider.userinfo and (await sso.client.load_server_metadata()).get("userinfo_endpoint"):
        extra = dict(await sso.client.userinfo(token=token))
        if extra.get("sub") != claims.get("sub"):
            raise Refused(401, "oidc_failed", "Thông tin định danh từ hệ thống một cửa không khớp nhau.",
                          reason="userinfo_sub_mismatch")
        claims = {**extra, **claims}
    return claims


@router.get(f"{PREFIX}/callback", responses={
    200: {"description": "Signed in (a client): what GET /api/me says; the session cookie is set"},
    303: {"description": "A browser: signed in, to where it was going; else back to /login?loi=<error>"},
    400: {"description": "`oidc_state`: the state is missing, altered or expired"},
    401: {"description": "`oidc_failed`: the provider refused, or its answer did not validate"},
    403: {"description": "`oidc_unmapped`: the claims name no known province, agency or role (`field`); "
                         "`disabled`: the account is disabled"},
    409: {"description": "`username_taken`: the username belongs to another account"},
    503: {"description": "`oidc_unavailable`: the provider cannot be reached"}})
async def callback(request: Request) -> Response:
    """Where the provider sends the browser back: validate, map the claims, open the session."""
    then = local_path(request.session.pop("next", "/")) if "session" in request.scope else "/"
    try:
        sso = _sso(request)
        claims = await _claims(request, sso)
        person = map_claims(sso.provider, claims)
        who = await sign_in_linked(state(request).engine, sso.provider.issuer, person)
    except Refused as refused:
        return _answer(request, refused)
    except httpx2.HTTPError as exc:
        log.warning("oidc.provider_unreachable", error=repr(exc)[:300])
        return _answer(request, Refused(503, "oidc_unavailable", UNAVAILABLE))
    except Unmapped as exc:
        log.info("oidc.unmapped", field=exc.field, subject=claims.get("sub"))
        return _answer(request, Refused(403, "oidc_unmapped", str(exc), f"oidc_{exc.field}", field=exc.field))
    except (BadAccount, ReservedIdentity) as exc:
        log.info("oidc.bad_account", subject=claims.get("sub"), error=str(exc))
        return _answer(request, Refused(403, "oidc_unmapped", f"Tài khoản một cửa không dùng được: {exc}. "
                                        f"{ASK_ADMIN}", "oidc_unmapped", field="account"))
    except AccountDisabled:
        return _answer(request, Refused(403, "disabled", f"Tài khoản đã bị khóa. {ASK_ADMIN}"))
    except UsernameTaken:
        return _answer(request, Refused(409, "username_taken", f"Tên đăng nhập {person.username!r} đã thuộc một "
                                        f"tài khoản khác của hệ thống. {ASK_ADMIN}"))
    log.info("sign_in.oidc", username=who.person and who.person.username, province=who.province,
             agency=who.agency, issuer=sso.provider.issuer)
    return await start_session(request, who, then)
