"""`doingoai audit ...`: verify the hash-chained audit trail, export and check signed heads."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import typer

audit_app = typer.Typer(help="The tamper-evident audit trail: verify it, export signed heads.",
                        no_args_is_help=True)


def _projector() -> str:
    from projections.engine.partitions import PROJECTION_VERSION

    return f"projector_{PROJECTION_VERSION}"


@asynccontextmanager
async def _attached(schema: str) -> AsyncIterator[tuple[Any, Any, Any]]:
    """(runtime, NATS connection, engine on `schema`) for one command."""
    from services.cli.main import runtime
    from services.db import make_engine

    async with runtime() as rt:
        nc = await rt.connect_nats("doingoai-audit")
        engine = make_engine(rt.database_url, schema, pool_size=2)
        try:
            yield rt, nc, engine
        finally:
            await engine.dispose()
            await nc.close()


def _read_head(path: Path) -> Any:
    from schemas.signed_heads import BadSignedHead, check_signed_head

    try:
        return check_signed_head(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        kind = "bad signed head" if isinstance(exc, BadSignedHead) else "cannot read the signed head"
        typer.echo(f"audit: {kind} {path}: {exc}", err=True)
        raise typer.Exit(2) from None


def _report(result: Any, files: tuple[int, list[Any]] | None = None, signatures: Any = None) -> None:
    """Print the result (and the files' check: how many were read again, what is missing or altered; and
    the signatures' check, if asked for)."""
    out = result.as_dict()
    if files is not None:
        out["attachments_checked"] = files[0]
        if files[1]:
            out.update(ok=False, attachment_problems=[str(f) for f in files[1]])
    if signatures is not None:
        out["signatures"] = signatures.as_dict()
        out["ok"] = out["ok"] and signatures.ok
    print(json.dumps(out, indent=2))
    if not result.ok:
        typer.echo(f"audit verify FAILED at {result.finding}", err=True)
        raise typer.Exit(1)
    if files is not None and files[1]:
        typer.echo(f"audit verify FAILED: {len(files[1])} attachment(s) missing or altered; first at {files[1][0]}",
                   err=True)
        raise typer.Exit(1)
    if signatures is not None and not signatures.ok:
        for f in signatures.findings:
            typer.echo(f"audit verify FAILED at sequence {f['sequence']} (event {f['event_id']}): {f['problem']}",
                       err=True)
        raise typer.Exit(1)
    typer.echo(f"audit trail verified: sequences 1..{result.verified_through}, head {result.head_hash}"
               + (f"; {files[0]} attachment(s) re-hashed" if files is not None else ""), err=True)
    if signatures is not None:
        typer.echo(f"signatures verified: {signatures.verified} stored signed events; {signatures.refused} "
                   "refused for their signature", err=True)
        for r in signatures.revoked_since:
            typer.echo(f"note: sequence {r['sequence']} (event {r['event_id']}) is signed by a key revoked since: "
                       f"{r['key_id']}, revoked on {r['revoked_at']}", err=True)


def _keyring(path: Path | None) -> Any:
    """An auditor's export of the keys (`keys list --format json`), if given."""
    if path is None:
        return None
    from services.agency_keys import keyring_of

    try:
        return keyring_of(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        typer.echo(f"audit: cannot read the keys {path}: {exc}", err=True)
        raise typer.Exit(2) from None


@audit_app.command("verify")
def verify_cmd(
    head: Path | None = typer.Option(None, "--head", help="A signed head (from export-head) the chain must extend"),
    wait: float = typer.Option(30.0, "--wait", help="Seconds to wait for the projection to reach the stream"),
    schema: str = typer.Option("doingoai", "--schema", help="Schema of the audit table"),
    signatures: bool = typer.Option(False, "--signatures", help="Also verify every signed event again from the "
                                    "stream and the agencies' registered keys"),
    keys: Path | None = typer.Option(None, "--keys", help="With --signatures: the keys as exported by `keys list "
                                     "--format json`, instead of the system's"),
) -> None:
    """Recompute the chain from the stream and from the audit table and compare them; exit 1 naming
    the first bad sequence if a row was altered, removed, inserted or reordered. With --signatures,
    also exit 1 naming each stored event whose signature does not verify (or that is unsigned where its
    agency had to sign), and list those signed by a key revoked since."""
    from projections.models.audit_verify import verify
    from services.cli.main import run

    held = [_read_head(head)] if head else []
    ring = _keyring(keys)

    async def main() -> Any:
        from services.attachments import verify_trail_files

        async with _attached(schema) as (_, nc, engine):
            result = await verify(nc, engine, held=held, wait=wait, consumer=_projector())
            files = await verify_trail_files(nc, engine, result.verified_through) if result.ok else None
            if not (signatures or keys) or not result.ok:
                return result, files, None
            from schemas.keyring import KeyRing
            from services.agency_keys import list_keys, list_requirements
            from services.audit_signatures import verify_signatures

            found = ring or KeyRing(await list_keys(engine), await list_requirements(engine))
            return result, files, await verify_signatures(nc, engine, found, result.verified_through)

    _report(*run(main))


@audit_app.command("export-head")
def export_head_cmd(
    seq: int | None = typer.Option(None, "--seq", help="Export the signed checkpoint kept at this sequence"),
    out: Path | None = typer.Option(None, "--out", help="Write the JSON here (default: standard output)"),
    wait: float = typer.Option(30.0, "--wait", help="Seconds to wait for the projection to reach the stream"),
) -> None:
    """Print the signed chain head as JSON {seq, hash, signed_at, signature, public_key}. Without
    --seq, the whole trail is verified first and its current head is signed."""
    from sqlalchemy import select

    from projections.models.audit import store_signed_head
    from projections.models.audit_tables import audit_heads
    from projections.models.audit_verify import verify
    from services.audit_keys import signer_from_settings
    from services.cli.main import run

    async def main() -> dict[str, Any]:
        async with _attached("doingoai") as (rt, nc, engine):
            if seq is not None:
                async with engine.connect() as conn:
                    row = (await conn.execute(select(audit_heads).where(audit_heads.c.seq == seq))).mappings().first()
                if row is None:
                    typer.echo(f"audit: no signed head kept at sequence {seq}", err=True)
                    raise typer.Exit(2)
                from schemas.signed_heads import check_signed_head

                return check_signed_head(dict(row)).as_dict()
            result = await verify(nc, engine, wait=wait, consumer=_projector())
            if not result.ok:
                _report(result)
            if result.verified_through == 0:
                typer.echo("audit: the trail is empty; nothing to sign", err=True)
                raise typer.Exit(2)
            signer = signer_from_settings(rt.settings)
            async with engine.begin() as conn:
                return await store_signed_head(conn, signer, result.verified_through, result.head_hash)

    head = json.dumps(run(main), indent=2)
    if out:
        out.write_text(head + "\n")
        typer.echo(f"signed head written to {out}", err=True)
    else:
        print(head)


@audit_app.command("public-key")
def public_key_cmd() -> None:
    """Print the PEM public key that verifies signed heads."""
    from services.audit_keys import signer_from_settings
    from services.settings import load

    sys.stdout.write(signer_from_settings(load()).public_pem())
