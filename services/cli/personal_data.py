"""`doingoai personal-data ...`: erase a person's data (by name, or everyone an aggregate's events
name), and export everything held about a person (docs/personal-data.md)."""

from __future__ import annotations

import json
from typing import Any

import typer

from services.cli.credentials import PROVINCE, _with_engine
from services.cli.users import _fail

personal_app = typer.Typer(help="People's personal data: erasure and access requests.", no_args_is_help=True)


@personal_app.command("erase")
def personal_erase(
    province: str = PROVINCE,
    name: str | None = typer.Option(None, "--name", help="The person's full name (case and spacing do not matter)"),
    subject: str | None = typer.Option(None, "--subject", help="Instead: everyone the payloads of this "
                                       "aggregate's events name, e.g. delegation/dl-2025-07"),
) -> None:
    """Erase a person's data: their key is destroyed, so every read model, answer, export, report and
    replay shows "[đã xóa]" where they were named; the stream and the audit chain are unchanged and
    still verify. Prints what was erased."""
    from services.personal_data import erase

    if (name is None) == (subject is None):
        raise _fail(ValueError("give --name or --subject"))

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        return (await erase(engine, province, name=name, subject=subject)).as_dict()

    done = _with_engine(action, reload_nats=False)
    print(json.dumps(done, indent=2, ensure_ascii=False))
    if not done["keys_erased"]:
        typer.echo("note: nobody of that name (or in that aggregate) has data here, or it was erased before",
                   err=True)
    elif done["stored_in_clear"]:
        typer.echo(f"note: {done['stored_in_clear']} of the events were stored as their publisher wrote them "
                   "(over NATS, or signed): the stream itself still holds the name there (docs/personal-data.md)",
                   err=True)


@personal_app.command("export")
def personal_export(
    province: str = PROVINCE,
    name: str = typer.Option(..., "--name", help="The person's full name"),
) -> None:
    """Everything held about a person, as JSON: their keys, every event that names them, their account."""
    from services.personal_data import export

    async def action(rt: Any, engine: Any) -> dict[str, Any]:
        return await export(engine, province, name)

    print(json.dumps(_with_engine(action, reload_nats=False), indent=2, ensure_ascii=False))
