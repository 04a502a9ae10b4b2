"""Structured logs: readable on a terminal, JSON when asked for (`--log-format json`) or, for the
long-running processes (`up`, the workers), when not on a terminal. A one-off command logs only its
warnings and errors."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

FORMAT = {"value": "auto"}
"""`auto`, `json` or `console`: the CLI's `--log-format`."""


class Lossy:
    """A stream that drops what it cannot write (a log redirected to a disk that is full) instead of
    raising into the code that logs: a supervisor, a request, a projection."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError:
            return 0

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError:
            pass


def configure(level: str = "INFO", *, service: bool = True) -> None:
    """`service`: a long-running process (INFO, JSON off a terminal); else a one-off command
    (WARNING, readable unless JSON is asked for)."""
    wanted = FORMAT["value"]
    as_json = wanted == "json" or (wanted == "auto" and service and not sys.stderr.isatty())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    level = level if service else "WARNING"
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=Lossy(sys.stderr)),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
