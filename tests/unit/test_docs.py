"""The README stays a newcomer's page and the docs stay true: the README is at most 200 lines and links
every page of docs/; every relative link of the README and docs/ names a file that exists (no anchors,
which break silently); the README's two commands are the scripts CI runs; the integration guide quotes
its examples from the files the integration tests run, and lists exactly the event types there are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from schemas.base import registry

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
GUIDE = DOCS / "huong-dan-tich-hop.md"
PAGES = sorted([README, ROOT / "deploy" / "README.md", *DOCS.glob("**/*.md")])
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```$", re.M | re.S)


def prose(text: str) -> str:
    """The text without its fenced code blocks (code may hold brackets and parentheses)."""
    return FENCE.sub("", text)


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(prose(page.read_text(encoding="utf-8")))
            if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]  # http:, https:, mailto: are not files


def code_blocks(page: Path) -> list[str]:
    return FENCE.findall(page.read_text(encoding="utf-8"))


def test_the_readme_is_a_newcomers_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move the depth to docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_names_an_existing_file_without_an_anchor(page: Path):
    for target in relative_links(page):
        assert "#" not in target, f"{page.relative_to(ROOT)}: {target}: link to the page, not an anchor"
        resolved = (page.parent / target).resolve()
        assert resolved.is_file(), f"{page.relative_to(ROOT)}: {target} does not exist"


def test_the_link_checker_sees_links_and_leaves_code_alone(tmp_path: Path):
    page = tmp_path / "p.md"
    page.write_text("See [a](a.md), [b](https://x.y/b), ![img](i.png) and [c](c.md#part).\n"
                    "```python\nx = d[0](1)  # [not](a link)\n```\n")
    assert relative_links(page) == ["a.md", "c.md#part"]


def test_the_readme_links_every_docs_page():
    linked = {(ROOT / t).resolve() for t in relative_links(README)}
    missing = [p.relative_to(ROOT) for p in DOCS.glob("*.md") if p.resolve() not in linked]
    assert not missing, f"README.md does not link {missing}"


def test_the_two_commands_are_the_scripts_ci_and_a_user_run():
    commands = next(block for block in code_blocks(README)
                    if any(line.startswith("./scripts/") for line in block.splitlines()))
    assert [line.split("#")[0].strip() for line in commands.splitlines()] == ["./scripts/up", "./scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^exec \./scripts/test\b", ci, re.M), ".ci/run must run the README's test command"
    up = (ROOT / "scripts" / "up").read_text()
    assert re.search(r"^exec \.venv/bin/doingoai up\b", up, re.M)
    test = (ROOT / "scripts" / "test").read_text()
    assert re.search(r"^exec \.venv/bin/pytest\b", test, re.M)
    for script in ("up", "test"):
        assert (ROOT / "scripts" / script).stat().st_mode & 0o111, f"scripts/{script} is not executable"


def test_the_guide_quotes_its_examples_from_the_files_the_tests_run():
    quoted = set()
    for block in code_blocks(GUIDE):
        first, _, body = block.partition("\n")
        found = re.fullmatch(r"(?:#|//) examples/(\S+)", first.strip())
        if not found:
            continue
        source = (DOCS / "examples" / found[1]).read_text(encoding="utf-8")
        assert body in source, f"the guide's excerpt of examples/{found[1]} is not in that file"
        quoted.add(found[1])
    assert quoted == {p.name for p in (DOCS / "examples").iterdir() if p.suffix in (".py", ".sh", ".mjs")}


def test_the_guide_lists_exactly_the_event_types_there_are():
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d+)[^|]* \| `([a-z_]+)/…` \|", GUIDE.read_text(encoding="utf-8"), re.M)
    listed = {name: (int(version), aggregate) for name, version, aggregate in rows}
    latest: dict[str, tuple[int, str]] = {}
    for (name, version), et in registry().items():
        if version >= latest.get(name, (0, ""))[0]:
            latest[name] = (version, et.aggregate)
    assert listed == latest
