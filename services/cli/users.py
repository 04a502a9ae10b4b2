"""`doingoai users ...`: the officials who sign in to the dashboard (add, list, disable, enable,
reset-password). Passwords come on standard input (`--password-stdin`) or from a hidden prompt."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer

from services.cli.credentials import AGENCY, PROVINCE, _with_engine

users_app = typer.Typer(help="People who sign in to the dashboard.", no_args_is_help=True)
USERNAME = typer.Option(..., "--username", help="Sign-in name, e.g. nguyen.van.an (lowercase)")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the password from the first line of stdin")
COLUMNS = ("username", "province", "agency", "role", "name", "title", "disabled", "created_at")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        typer.echo("error: give the password on stdin with --password-stdin", err=True)
        raise typer.Exit(2)
    return str(typer.prompt("Mật khẩu (password)", hide_input=True, confirmation_prompt=True))


def _fail(exc: Exception, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code)


@users_app.command("add")
def users_add(
    province: str = PROVINCE,
    agency: str = AGENCY,
    username: str = USERNAME,
    name: str = typer.Option(..., "--name", help="Full name, e.g. 'Nguyễn Văn An'"),
    title: str = typer.Option(..., "--title", help="Position, e.g. 'Chuyên viên Phòng Hợp tác quốc tế'"),
    role: str = typer.Option(..., "--role", help="specialist, leader, auditor or admin"),
    password_stdin: bool = PASSWORD_STDIN,
) -> None:
    """Add an official who signs in to the dashboard; prints the account (never the password)."""
    from services.credentials import ReservedIdentity
    from services.people import BadAccount, UserExists, add_user, check_account, check_password

    try:  # refused before anything is started
        check_account(province, agency, username, name.strip(), title.strip(), role)
        password = check_password(_password(password_stdin))
    except (BadAccount, ReservedIdentity) as exc:
        raise _fail(exc) from None

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        return await add_user(engine, province=province, agency=agency, username=username, name=name, title=title,
                              role=role, password=password)

    try:
        print(json.dumps(_with_engine(action, reload_nats=False), indent=2, ensure_ascii=False))
    except UserExists as exc:
        raise _fail(exc, 1) from None


@users_app.command("list")
def users_list(
    province: str | None = typer.Option(None, "--province", help="Only this province"),
    agency: str | None = typer.Option(None, "--agency", help="Only this agency"),
    as_json: bool = typer.Option(False, "--json", help="A JSON array instead of a table"),
) -> None:
    """List the accounts (username, province, agency, role, name, title, disabled, created at); never a hash."""
    from services.people import list_users

    async def action(rt: Any, engine: Any) -> list[dict[str, Any]]:
        return await list_users(engine, province, agency)

    rows = _with_engine(action, reload_nats=False)
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    cells = [[str(row[c]).lower() if c == "disabled" else str(row[c]) for c in COLUMNS] for row in rows]
    widths = [max([len(c), *(len(line[n]) for line in cells)]) for n, c in enumerate(COLUMNS)]
    for line in [list(COLUMNS), *cells]:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def _change(username: str, act: Any) -> None:
    from services.people import BadAccount, NoSuchUser

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        return await act(engine)  # type: ignore[no-any-return]

    try:
        print(json.dumps(_with_engine(action, reload_nats=False), indent=2, ensure_ascii=False))
    except NoSuchUser as exc:
        raise _fail(exc, 1) from None
    except BadAccount as exc:
        raise _fail(exc) from None


@users_app.command("disable")
def users_disable(username: str = USERNAME) -> None:
    """The account signs in no more; its sessions end (a running service stops trusting them within 10 s)."""
    from services.people import set_disabled

    _change(username, lambda engine: set_disabled(engine, username, True))


@users_app.command("enable")
def users_enable(username: str = USERNAME) -> None:
    """A disabled account may sign in again."""
    from services.people import set_disabled

    _change(username, lambda engine: set_disabled(engine, username, False))


@users_app.command("reset-password")
def users_reset_password(username: str = USERNAME, password_stdin: bool = PASSWORD_STDIN) -> None:
    """Give the account a new password (an administrator's act); its sessions end."""
    from services.people import BadAccount, check_password, reset_password

    try:
        password = check_password(_password(password_stdin))
    except BadAccount as exc:
        raise _fail(exc) from None
    _change(username, lambda engine: reset_password(engine, username, password))
