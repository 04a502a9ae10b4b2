"""`doingoai keys ...`: agencies' public keys that verify their signed events (add, list, revoke) and the
provinces' requirement that an agency sign (require)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from services.cli.credentials import AGENCY, PROVINCE, _with_engine
from services.cli.users import _fail

keys_app = typer.Typer(help="Agencies' signing keys (CloudEvents verifiability extension).", no_args_is_help=True)
COLUMNS = ("key_id", "province", "agency", "algorithm", "added_at", "revoked_at")


@keys_app.command("add")
def keys_add(
    province: str = PROVINCE,
    agency: str = AGENCY,
    public_key: Path = typer.Option(..., "--public-key", help="PEM public key (Ed25519 or ECDSA P-256)"),
) -> None:
    """Register the agency's public key: its signed events verify with it from now on. Prints the key,
    with its id (hex SHA-256 of the key's DER form), which the agency puts in its signatures' keyid."""
    from schemas.signatures import BadKey
    from schemas.signatures import public_key as parse
    from services.agency_keys import KeyRefused, add_key, check_agency

    try:  # refused before anything is started
        check_agency(province, agency)
        pem = public_key.read_bytes()
        parse(pem)
    except OSError as exc:
        raise _fail(ValueError(f"cannot read {public_key}: {exc.strerror}")) from None
    except ValueError as exc:
        raise _fail(exc) from None

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        return (await add_key(engine, province, agency, pem)).as_dict()

    try:
        print(json.dumps(_with_engine(action, reload_nats=False), indent=2))
    except (KeyRefused, BadKey) as exc:
        raise _fail(exc, 1) from None


@keys_app.command("list")
def keys_list(
    province: str | None = typer.Option(None, "--province", help="Only this province"),
    agency: str | None = typer.Option(None, "--agency", help="Only this agency"),
    format: str = typer.Option("table", "--format", help="table, or json: the keys (PEM included) and the "
                               "requirements, as an auditor checks signatures with them"),
) -> None:
    """List the registered keys (revoked ones too) and the signature requirements."""
    from services.agency_keys import export, list_keys, list_requirements

    if format not in ("table", "json"):
        raise _fail(ValueError("--format is table or json"))

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        return export(await list_keys(engine, province, agency), await list_requirements(engine, province, agency))

    found = _with_engine(action, reload_nats=False)
    if format == "json":
        print(json.dumps(found, indent=2))
        return
    cells = [[str(k[c] or "") for c in COLUMNS] for k in found["keys"]]
    widths = [max([len(c), *(len(line[n]) for line in cells)]) for n, c in enumerate(COLUMNS)]
    for line in [list(COLUMNS), *cells]:
        print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())
    current: dict[tuple[str, str], dict[str, Any]] = {}
    for r in found["requirements"]:
        current[(r["province"], r["agency"])] = r
    for (p, a), r in sorted(current.items()):
        state = "required" if r["required"] else "not required"
        print(f"signatures of {p}/{a}: {state} since {r['since']}")


@keys_app.command("revoke")
def keys_revoke(key_id: str = typer.Argument(..., help="The key's id (see `keys list`)")) -> None:
    """Revoke a key: events recorded from now on are not verified with it (those recorded before still are).
    To rotate, add the new key first, then revoke the old one."""
    from services.agency_keys import KeyRefused, revoke_key

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        return (await revoke_key(engine, key_id)).as_dict()

    try:
        print(json.dumps(_with_engine(action, reload_nats=False), indent=2))
    except KeyRefused as exc:
        raise _fail(exc, 1) from None


@keys_app.command("require")
def keys_require(
    province: str = PROVINCE,
    agency: str = AGENCY,
    off: bool = typer.Option(False, "--off", help="No longer require it"),
) -> None:
    """Require the agency's events to be signed from now on (or, with --off, no longer): an unsigned one is
    refused as `bad_signature` ("chữ ký bắt buộc"), on both paths and in the dashboard alike."""
    from services.agency_keys import check_agency, list_keys, require

    try:
        check_agency(province, agency)
    except ValueError as exc:
        raise _fail(exc) from None

    async def action(rt: Any, engine: Any) -> tuple[dict[str, Any], int]:
        active = [k for k in await list_keys(engine, province, agency) if k.revoked_at is None]
        return (await require(engine, province, agency, not off)).as_dict(), len(active)

    done, active = _with_engine(action, reload_nats=False)
    print(json.dumps(done, indent=2))
    if not off and not active:
        typer.echo(f"note: {province}/{agency} has no active key: its events are refused until one is added "
                   "(doingoai keys add)", err=True)
