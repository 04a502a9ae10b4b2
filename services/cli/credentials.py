"""`doingoai credentials ...`: issue, list, revoke and rotate agencies' HTTP tokens and NATS users."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import typer

credentials_app = typer.Typer(help="Agency credentials (HTTP token and NATS user).", no_args_is_help=True)
T = TypeVar("T")
EXTERNAL_NATS = ("NATS is external: render its users with deploy/nats/render_auth.py and reload every node "
                 "(until then the NATS users keep working)")

PROVINCE = typer.Option(..., "--province", help="Province slug, e.g. ha-tinh")
AGENCY = typer.Option(..., "--agency", help="Agency slug, e.g. so-ngoai-vu")


def _with_engine(action: Callable[[Any, Any], Awaitable[T]], *, reload_nats: bool) -> T:
    """Run `action(runtime, engine)` against the running system; then, if asked, regenerate the NATS
    users and reload the embedded server (which disconnects a user it no longer lists)."""
    from services.cli.main import run, runtime
    from services.db import make_engine

    async def main() -> T:
        async with runtime() as rt:
            engine = make_engine(rt.database_url, pool_size=1)
            try:
                result = await action(rt, engine)
            finally:
                await engine.dispose()
            if reload_nats and not await rt.refresh_auth():
                typer.echo(f"note: {EXTERNAL_NATS}", err=True)
            return result

    return run(main)


@credentials_app.command("issue")
def credentials_issue(
    province: str = PROVINCE,
    agency: str = AGENCY,
    role: str = typer.Option("agency", "--role", help="agency or auditor"),
) -> None:
    """Print JSON with the agency's HTTP token, NATS user and password and its NATS inbox prefix."""
    from services.credentials import ReservedIdentity, check_not_reserved, issue

    try:
        check_not_reserved(agency)
    except ReservedIdentity as exc:  # refused before anything is started
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def action(rt: Any, engine: Any) -> dict[str, str]:
        issued = await issue(engine, province, agency, role)
        return {**issued, "nats_url": rt.nats_url, "http": rt.settings.http}

    try:
        print(json.dumps(_with_engine(action, reload_nats=True), indent=2))
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@credentials_app.command("list")
def credentials_list(
    province: str | None = typer.Option(None, "--province", help="Only this province"),
    agency: str | None = typer.Option(None, "--agency", help="Only this agency"),
    as_json: bool = typer.Option(False, "--json", help="A JSON array instead of a table"),
) -> None:
    """List the credentials (province, agency, role, NATS user, revoked, created at); never a secret."""
    from services.credentials import list_credentials

    async def action(rt: Any, engine: Any) -> list[dict[str, object]]:
        return await list_credentials(engine, province, agency)

    rows = _with_engine(action, reload_nats=False)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    columns = ("province", "agency", "role", "nats_user", "revoked", "created_at")
    cells = [[str(row[c]).lower() if c == "revoked" else str(row[c]) for c in columns] for row in rows]
    widths = [max([len(c), *(len(line[n]) for line in cells)]) for n, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


@credentials_app.command("revoke")
def credentials_revoke(province: str = PROVINCE, agency: str = AGENCY) -> None:
    """Revoke every credential of the agency: its NATS users are removed and disconnected at once
    (embedded server), its tokens refused over HTTP within 10 s."""
    from services.credentials import list_credentials, revoke

    async def action(rt: Any, engine: Any) -> list[str] | None:
        if not await list_credentials(engine, province, agency):
            return None
        return await revoke(engine, province, agency)

    revoked = _with_engine(action, reload_nats=True)
    if revoked is None:
        typer.echo(f"error: no credentials for {province}/{agency}", err=True)
        raise typer.Exit(1)
    print(json.dumps({"province": province, "agency": agency, "revoked_nats_users": revoked}, indent=2))


@credentials_app.command("rotate")
def credentials_rotate(province: str = PROVINCE, agency: str = AGENCY) -> None:
    """Issue new credentials (as `issue` prints them) and revoke the agency's previous ones."""
    from services.credentials import NoActiveCredentials, ReservedIdentity, check_not_reserved, rotate

    try:
        check_not_reserved(agency)  # credentials stored for it can be revoked, never renewed
    except ReservedIdentity as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        issued, revoked = await rotate(engine, province, agency)
        return {**issued, "nats_url": rt.nats_url, "http": rt.settings.http, "revoked_nats_users": revoked}

    try:
        print(json.dumps(_with_engine(action, reload_nats=True), indent=2))
    except NoActiveCredentials as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
