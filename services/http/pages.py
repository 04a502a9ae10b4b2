"""The web dashboard: static assets shipped in the package (no external CDN)."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def home_page() -> str:
    return (STATIC / "index.html").read_text(encoding="utf-8")


def login_page() -> str:
    return (STATIC / "login.html").read_text(encoding="utf-8")
