"""`doingoai`: run the system, issue credentials, replay, audit, report, list rejections."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer

from services import event_loop, logs
from services.cli.audit import audit_app
from services.cli.backup import backup_cmd, restore_cmd
from services.cli.credentials import credentials_app
from services.cli.keys import keys_app
from services.cli.personal_data import personal_app
from services.cli.users import users_app
from services.gc_tuning import tune_gc
from services.settings import load

app = typer.Typer(help="Đối ngoại nhân dân: event backbone for provincial foreign-affairs coordination.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(credentials_app, name="credentials")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(keys_app, name="keys")
app.add_typer(personal_app, name="personal-data")
app.command("backup")(backup_cmd)
app.command("restore")(restore_cmd)
T = TypeVar("T")


@app.callback()
def options(
    log_format: str = typer.Option("auto", "--log-format", help="auto, json or console: how logs are written"),
) -> None:
    """Đối ngoại nhân dân: event backbone for provincial foreign-affairs coordination."""
    if log_format not in ("auto", "json", "console"):
        raise typer.BadParameter("auto, json or console", param_hint="--log-format")
    logs.FORMAT["value"] = log_format


def run(coro_fn: Callable[[], Awaitable[T]], *, service: bool = False) -> T:
    """Run a command's coroutine on the project's event loop; `service`: `up` or a worker."""
    logs.configure(service=service)
    tune_gc()
    return event_loop.run(coro_fn())  # type: ignore[arg-type]


@asynccontextmanager
async def runtime() -> AsyncIterator[Any]:
    """Attach to the running system (or start its servers for this command)."""
    from services.runtime import Runtime

    rt = await Runtime(load()).start()
    try:
        yield rt
    finally:
        rt.stop()


@app.command()
def up() -> None:
    """Run the whole system; with no URLs configured, NATS and PostgreSQL run embedded."""
    from services.up import up as run_up

    run(lambda: run_up(load()), service=True)


@app.command(hidden=True)
def worker() -> None:
    """Run the projection worker (started by `up`)."""
    from services.runtime import Runtime
    from services.worker import run_worker

    async def main() -> None:
        settings = load()
        rt = Runtime(settings, nats_servers=settings.nats_servers, database_url=settings.database_url or "",
                     nats_user=settings.nats_user, nats_password=settings.nats_password)
        await run_worker(rt)

    run(main, service=True)


@app.command()
def rejected(
    limit: int = typer.Option(100, help="How many, newest first"),
    kind: str | None = typer.Option(None, help="Only this kind, e.g. schema_violation, source_mismatch"),
    status: str | None = typer.Option(None, help="open (no correction stored yet) or resolved"),
    province: str | None = typer.Option(None, help="Only this publisher's province"),
    agency: str | None = typer.Option(None, help="Only this publisher's agency"),
    as_json: bool = typer.Option(False, "--json", help="JSON lines, with the raw event (first 4 KiB)"),
) -> None:
    """List rejected events with their reasons (key, time, publisher, kind, event id, status, reasons)."""
    from services.db import make_engine
    from services.rejections import STATUSES, list_rejections

    if status is not None and status not in STATUSES:
        typer.echo(f"error: --status must be one of {', '.join(STATUSES)}", err=True)
        raise typer.Exit(2)

    async def main() -> list[dict[str, Any]]:
        async with runtime() as rt:
            engine = make_engine(rt.database_url, pool_size=1)
            try:
                async with engine.connect() as conn:
                    return await list_rejections(conn, province=province, agency=agency, kind=kind,
                                                 status=status, limit=limit)
            finally:
                await engine.dispose()

    rows = run(main)
    for row in rows:
        if as_json:
            print(json.dumps(row, ensure_ascii=False))
            continue
        reasons = "; ".join(f"{p['path'] or '<event>'}: {p['message']}" for p in row["problems"])
        state = row["status"] if row["resolved_by"] is None else f"resolved by {row['resolved_by']}"
        print(f"{row['key']}  {row['recorded_at']}  {row['publisher'] or '-'}  {row['kind']}  "
              f"{row['event_id'] or '-'}  {state}  {reasons}")
    print(f"{len(rows)} rejected event(s)", file=sys.stderr)


@app.command()
def demo() -> None:
    """Publish a realistic scenario drawn from the seed plans (needs `doingoai up` running)."""
    from services.demo.run import run_demo

    async def main() -> dict[str, Any]:
        async with runtime() as rt:
            return await run_demo(rt)

    print(json.dumps(run(main), indent=2, ensure_ascii=False))


@app.command()
def report(
    province: str = typer.Option(..., "--province", help="Province slug, e.g. ha-tinh"),
    period: str = typer.Option(..., "--period", help="2021-H1 (6 months) or 2021 (annual)"),
    out: str = typer.Option(..., "--out", help="The .docx file to write"),
    day: str | None = typer.Option(None, "--date", help="Date of the report, YYYY-MM-DD (default: today in Việt Nam)"),
) -> None:
    """Write the consolidated report (báo cáo tổng hợp) SNgV sends the UBND tỉnh, as a Word document."""
    from pathlib import Path

    from services.reports.data import check_request, load_report, report_date
    from services.reports.docx_report import write

    try:
        check_request(province, period)
        report_day = report_date(day)
    except (ValueError, LookupError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None

    async def main() -> Any:
        async with runtime() as rt:
            return await load_report(rt.database_url, province, period, report_day)

    data = run(main)
    try:
        write(data, Path(out))
    except OSError as exc:
        typer.echo(f"error: cannot write {out}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    print(json.dumps({"out": out, **data.summary()}, indent=2, ensure_ascii=False))


@app.command("replay")
def replay_cmd(
    from_seq: int = typer.Option(1, "--from-seq", help="First stream sequence to apply"),
    as_of: str | None = typer.Option(None, "--as-of", help="Only events recorded up to this date/time"),
    schema: str | None = typer.Option(None, "--schema", help="Target schema (default: a new replay_<time>)"),
    database_url: str | None = typer.Option(None, "--database-url", help="Target database (default: the live one)"),
    keep: bool = typer.Option(False, "--keep", help="Keep the new schema (a schema named with --schema is kept)"),
) -> None:
    """Rebuild the read models from the stream into a fresh schema; print its name and checksums.
    The schema is dropped afterwards unless it was named (`--schema`) or `--keep` is given."""
    from datetime import UTC, datetime, time

    from services.db import make_engine
    from services.db.migrate import drop_schema
    from services.replay import replay, table_checksums

    cutoff = None
    if as_of:
        parsed = datetime.fromisoformat(as_of)
        if len(as_of) <= 10:  # a date: the whole day, Asia/Ho_Chi_Minh
            from zoneinfo import ZoneInfo

            parsed = datetime.combine(parsed.date(), time.max, ZoneInfo("Asia/Ho_Chi_Minh"))
        cutoff = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    target = schema or f"replay_{datetime.now(UTC):%Y%m%d_%H%M%S}"

    async def main() -> dict[str, Any]:
        async with runtime() as rt:
            nc = await rt.connect_nats("doingoai-replay")
            try:
                result = await replay(nc, database_url or rt.database_url, target, from_seq=from_seq, as_of=cutoff,
                                      child_env=rt.child_env(), keys_from=rt.database_url)
            finally:
                await nc.close()
            engine = make_engine(database_url or rt.database_url, target, pool_size=1)
            try:
                async with engine.connect() as conn:
                    sums = await table_checksums(conn)
            finally:
                await engine.dispose()
            kept = keep or schema is not None
            if not kept:
                await drop_schema(database_url or rt.database_url, target)
            return {"schema": result.schema, "kept": kept, "events": result.events, "last_seq": result.last_seq,
                    "seconds": round(result.seconds, 3), "events_per_second": round(result.rate),
                    "checksums": sums}

    print(json.dumps(run(main), indent=2))


def main() -> None:
    from services.settings import BadSettings, Unreachable

    try:
        app()
    except BadSettings as exc:  # one clear line, no traceback
        print(f"doingoai: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except Unreachable as exc:  # a server that is not ours, or not there: one line
        print(f"doingoai: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
