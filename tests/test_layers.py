"""The package's parts import one way (STYLE.md): wire <- core, dns, net; core <- dns,
sources, ops; net <- ops; and the face, the top-level modules, over them all.

Every module of svcdns/ belongs to exactly one part: a module of a subpackage to that
subpackage's part, a top-level module to the face (listed by name in `FACE`, so a new
top-level module fails here until it is classified), and the package root
(`svcdns/__init__.py`: the version and the spec version) to `root`, a leaf that any module
may import. The face may import every part; no part may import the face (a `dns` module
importing `svcdns.config` fails: see `test_the_layer_check_finds_each_crossing`).

Walks every module's imports with `ast` (relative imports resolved), so a new import across
a layer fails here, and checks that each outside library has its one owner module, that wire
format has one owner too: `svcdns/wire`, and that README LAYOUT names every module.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "svcdns"
README = PACKAGE.parent / "README.md"

# Which parts of svcdns each part may import (itself and the package root always allowed).
ALLOWED: dict[str, set[str]] = {
    # Wire format (header, flags, names, OPT, limits, the blob layout): a leaf below all.
    "wire": set(),
    "core": {"wire"},  # the blob layout, names in messages, the SOA's timers
    "dns": {"core", "wire"},
    "net": {"wire"},
    "sources": {"core"},
    # The HTTP listener reuses net's listen address and bind error: one way to bind.
    "ops": {"core", "net"},
}
SUBPACKAGES = frozenset(ALLOWED)  # each part above is the folder of that name
# The face: flags, settings, wiring, signals, workers. It composes the parts, so it alone
# may import every one of them; nothing outside it imports it. Top-level modules by name.
FACE = frozenset(
    {
        "__main__.py",
        "cli.py",
        "config.py",
        "settings.py",
        "serve.py",
        "workers.py",
        "logs.py",
        "recursion.py",
        "feed.py",
        "corefile.py",
        "corefile_map.py",
        "corefile_plugins.py",
        "import_corefile.py",
    }
)
ALLOWED["face"] = set(SUBPACKAGES)
# The package root holds only `__version__` and `SPEC_VERSION` (which core's SOA and zone
# file quote): a leaf that imports nothing of svcdns and that every part may import.
ROOT = "__init__.py"
ALLOWED["root"] = set()


# Outside libraries with a single owner: module path (relative to svcdns/) -> library.
OWNERS = {
    "dnslib": {"dns/codec.py"},
    "yaml": {"sources/manifestfiles.py", "config.py"},  # manifests, and the --config file
    "kubernetes": {"sources/kube.py"},
    "prometheus_client": {"ops/metrics.py"},
}


def _dotted(path: Path) -> str:
    """svcdns/dns/handler.py -> `svcdns.dns.handler`; svcdns/dns/__init__.py -> `svcdns.dns`."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Every module name `path` imports, and `module.name` for each name imported from one;
    relative imports resolved against `path`'s package."""
    tree = ast.parse(path.read_text(encoding="utf-8") if source is None else source)
    package = _dotted(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                base = node.module
            else:
                base = ".".join(
                    package[: len(package) - node.level + 1]
                    + ([node.module] if node.module else [])
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _part(path: Path) -> list[str]:
    """The parts a module of svcdns/ is in (one, if the tables above are right)."""
    relative = path.relative_to(PACKAGE)
    found: list[str] = []
    if len(relative.parts) > 1 and relative.parts[0] in SUBPACKAGES:
        found.append(relative.parts[0])
    if len(relative.parts) == 1 and relative.name in FACE:
        found.append("face")
    if relative == Path(ROOT):
        found.append("root")
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))
# Dotted module name -> its part; a module in no part or in two is `unclassified`, which no
# part may import (and `test_every_module_is_in_exactly_one_part` fails on it).
PART_OF_MODULE = {
    _dotted(p): parts[0] if len(parts := _part(p)) == 1 else "unclassified" for p in MODULES
}


def _part_of(module: str) -> str | None:
    """The part of the svcdns module an imported name lies in (`svcdns.core.answer.soa` ->
    `core`, `svcdns.config` -> `face`, `svcdns.SPEC_VERSION` -> `root`); None outside svcdns."""
    parts = module.split(".")
    if parts[0] != "svcdns":
        return None
    while ".".join(parts) not in PART_OF_MODULE:
        parts.pop()
    return PART_OF_MODULE[".".join(parts)]


def _crossings(path: Path, source: str | None = None) -> set[str]:
    """What `path` imports (or would, holding `source`) from parts it may not import."""
    (part,) = _part(path)
    allowed = ALLOWED[part] | {part, "root"}
    return {
        module
        for module in _imports(path, source)
        if (target := _part_of(module)) is not None and target not in allowed
    }


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_is_in_exactly_one_part(path: Path) -> None:
    """A new top-level module must be added to `FACE`, a new folder to `ALLOWED`."""
    assert len(_part(path)) == 1, f"{path.relative_to(PACKAGE)} is in parts {_part(path)}"


def test_the_face_lists_only_modules_that_exist() -> None:
    assert {name for name in FACE if not (PACKAGE / name).is_file()} == set()


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_the_parts_below_it(path: Path) -> None:
    if len(_part(path)) != 1:
        pytest.skip("not in one part: test_every_module_is_in_exactly_one_part fails")
    crossing = _crossings(path)
    assert not crossing, f"{path.relative_to(PACKAGE)} imports {sorted(crossing)}"


@pytest.mark.parametrize(
    ("module", "source", "crosses"),
    [
        pytest.param("dns/x.py", "from svcdns.config import Config", True, id="dns-imports-face"),
        pytest.param("dns/x.py", "from ..config import Config", True, id="dns-relative-face"),
        pytest.param("core/x.py", "from svcdns import settings", True, id="core-face-by-from"),
        pytest.param("net/x.py", "import svcdns.recursion", True, id="net-imports-face"),
        pytest.param("ops/x.py", "from svcdns.logs import logged", True, id="ops-imports-face"),
        pytest.param("sources/x.py", "from svcdns.serve import serve", True, id="sources-face"),
        pytest.param("wire/x.py", "from svcdns.core import rr", True, id="wire-imports-core"),
        pytest.param("net/x.py", "from svcdns.dns.codec import Query", True, id="net-imports-dns"),
        pytest.param("core/x.py", "from .. import __version__", False, id="core-root-relative"),
        pytest.param("core/x.py", "from svcdns import SPEC_VERSION", False, id="core-imports-root"),
        pytest.param("dns/x.py", "from svcdns.wire import header", False, id="dns-imports-wire"),
        pytest.param("cli.py", "from svcdns.sources.kube import KubeSource", False, id="face-all"),
        pytest.param("serve.py", "from svcdns.config import Config", False, id="face-imports-face"),
    ],
)
def test_the_layer_check_finds_each_crossing(module: str, source: str, crosses: bool) -> None:
    """The check above on a module that does not exist: a part importing the face fails."""
    assert bool(_crossings(PACKAGE / module, source)) is crosses


def _layout() -> list[str]:
    """The first word of each line of README LAYOUT's code block that starts with svcdns/."""
    section = README.read_text(encoding="utf-8").split("\n## LAYOUT\n", 1)[1].split("\n## ")[0]
    block = re.search(r"^```[^\n]*\n(.*?)^```", section, re.M | re.S)
    assert block, "README LAYOUT has no code block"
    return [line.split()[0] for line in block[1].splitlines() if line.startswith("svcdns/")]


def test_readme_layout_names_every_module_once() -> None:
    """One line each: `svcdns/dns/handler.py  what it is`; a part's `__init__.py` is its
    folder's line (`svcdns/dns/`), the package root's is `svcdns/__init__.py`."""
    expected = {
        f"svcdns/{p.parent.relative_to(PACKAGE)}/"
        if p.name == "__init__.py" and p.parent != PACKAGE
        else f"svcdns/{p.relative_to(PACKAGE)}"
        for p in MODULES
    }
    named = _layout()
    assert sorted(expected - set(named)) == [], "README LAYOUT leaves these out"
    assert sorted(set(named) - expected) == [], "README LAYOUT names what is no module"
    assert sorted({n for n in named if named.count(n) > 1}) == [], "named on two lines"


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_each_outside_library_has_one_owner(library: str) -> None:
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(m == library or m.startswith(library + ".") for m in _imports(path))
    }
    assert importers == OWNERS[library]


# -- wire format has one owner: svcdns/wire ---------------------------------------------------

WIRE = PACKAGE / "wire"
OUTSIDE_WIRE = sorted(p for p in PACKAGE.rglob("*.py") if WIRE not in p.parents)
# Flag bits of the header's 16-bit field (RFC 1035 4.1.1), alone and as the copies combined
# them: QR, opcode, AA, TC, RD, RA, CD, QR|RA, QR|RD|RA, QR|AA.
FLAG_VALUES = {0x8000, 0x7800, 0x0400, 0x0200, 0x0100, 0x0080, 0x0010, 0x8080, 0x8180, 0x8400}
FLAG_NAMES = {"QR", "AA", "TC", "RD", "RA", "CD", "AD", "DO", "OPCODE"}
# Size limits and the SOA's timers: numbers only wire/ writes.
WIRE_NUMBERS = {512, 65507, 65535, 1232, 7200, 1800, 86400}
HEADER_STRUCTS = {"!HHHHHH", "!HHHHH"}  # the header, and a blob's type header
# ops/metrics.py still masks a reply's rcode with 0xF: ops may not import wire (yet).
RCODE_MASK = 0xF


_OPERATORS: dict[type[ast.operator], Callable[[int, int], int]] = {
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.Add: operator.add,
}


def _literal_int(node: ast.expr) -> int | None:
    """The value of an int written as numbers (0x8000, 0x8000 | 0x0080, 0xF << 11), else None."""
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) is int else None
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _literal_int(node.left), _literal_int(node.right)
        if left is not None and right is not None:
            return _OPERATORS[type(node.op)](left, right)
    return None


def _targets(node: ast.AST) -> list[tuple[str, ast.expr | None]]:
    """(name, value) for each name an assignment binds (tuples paired up)."""
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [(node.target.id, node.value)]
    if not isinstance(node, ast.Assign):
        return []
    found: list[tuple[str, ast.expr | None]] = []
    for target in node.targets:
        if isinstance(target, ast.Name):
            found.append((target.id, node.value))
        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            pairs = zip(target.elts, node.value.elts, strict=False)
            found += [(t.id, v) for t, v in pairs if isinstance(t, ast.Name)]
    return found


def _copies(path: Path) -> list[str]:
    """Every piece of wire format `path` writes itself, one line each. Class bodies may
    name numbers (`RRType.OPT = 41` is the type's name, not a copy of wire's constant)."""
    found: list[str] = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    in_classes = {
        id(child) for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for child in c.body
    }
    for node in ast.walk(tree):
        line = f"line {getattr(node, 'lineno', '?')}"
        for name, value in [] if id(node) in in_classes else _targets(node):
            number = None if value is None else _literal_int(value)
            words = set(name.strip("_").split("_"))
            if number == 12 and {"HEADER", "QUESTION", "OFFSET"} & words:
                found.append(f"{line}: a header size, {name} = 12")
            if number is not None and words & FLAG_NAMES:
                found.append(f"{line}: a flag bit, {name} = {number:#x}")
            if number == 41 and "OPT" in words:
                found.append(f"{line}: the OPT type, {name} = 41")
        if isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(
            node.op, ast.BitAnd | ast.BitOr
        ):
            sides = (node.left, node.right) if isinstance(node, ast.BinOp) else (node.target,)
            operands = [*sides, node.value] if isinstance(node, ast.AugAssign) else list(sides)
            numbers = {n for n in map(_literal_int, operands) if n is not None}
            if numbers & FLAG_VALUES:
                found.append(f"{line}: flag bits written as a number {sorted(numbers)}")
            if 0xC0 in numbers:
                found.append(f"{line}: a name walked by hand (a length octet & 0xC0)")
            octets = {
                o.slice.value
                for o in operands
                if isinstance(o, ast.Subscript) and isinstance(o.slice, ast.Constant)
            }
            if numbers and (2 in octets or (3 in octets and numbers != {RCODE_MASK})):
                found.append(f"{line}: a flags octet masked with a number {sorted(numbers)}")
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bytes) and (
                node.value.startswith(b"\x00\x00\x29") or node.value == b"\x00\x29"
            ):
                found.append(f"{line}: OPT bytes {node.value!r}")
            if isinstance(node.value, str) and node.value in HEADER_STRUCTS:
                found.append(f"{line}: a header layout {node.value!r}")
            if type(node.value) is int and node.value in WIRE_NUMBERS:
                found.append(f"{line}: a size limit or SOA timer, {node.value}")
        if isinstance(node, ast.FunctionDef) and (
            "skip_name" in node.name or node.name in {"question_end", "name_end", "read_name"}
        ):
            found.append(f"{line}: a name walker, def {node.name}")
    return found


@pytest.mark.parametrize("path", OUTSIDE_WIRE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_wire_format_is_written_only_in_wire(path: Path) -> None:
    """No module outside svcdns/wire defines the header size, flag bits, our OPT, size
    limits, the SOA timers or a name walker, or writes them as numbers: it imports them."""
    assert _copies(path) == [], f"{path.relative_to(PACKAGE)} copies wire format"


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("HEADER_SIZE = 12", id="header-size"),
        pytest.param("QUESTION_OFFSET = 12", id="question-offset"),
        pytest.param("_QR_RA = 0x8080", id="flags-combined"),
        pytest.param("RD, TC = 0x0100, 0x0200", id="flags-in-a-tuple"),
        pytest.param("_TC = 0x02", id="flag-octet"),
        pytest.param("flags = 0x8000 | rcode", id="flag-in-an-expression"),
        pytest.param("flags |= 0x0080", id="flag-or-assigned"),
        pytest.param("x = data[2] & 0xF8", id="first-flags-octet"),
        pytest.param("x = data[3] & 0x10", id="second-flags-octet"),
        pytest.param('OPT = b"\\x00\\x00\\x29\\x04\\xd0" + bytes(6)', id="opt-bytes"),
        pytest.param("OPT, SOA = 41, 6", id="opt-type"),
        pytest.param('HEADER = struct.Struct("!HHHHHH")', id="header-struct"),
        pytest.param("limit = min(max(512, payload), 65507)", id="udp-limit"),
        pytest.param("refresh = 7200", id="soa-timer"),
        pytest.param("def _skip_name(m, p):\n    return p", id="walker-by-name"),
        pytest.param("def walk(m, p):\n    return m[p] & 0xC0", id="walker-by-pointer-test"),
    ],
)
def test_the_owner_check_finds_each_kind_of_copy(source: str, tmp_path: Path) -> None:
    module = tmp_path / "copy.py"
    module.write_text(source + "\n", encoding="utf-8")
    assert _copies(module)


def test_the_header_size_is_defined_once() -> None:
    """`grep -rn "HEADER_SIZE = 12" svcdns` finds one line: wire/header.py's."""
    lines = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        for line in path.read_text(encoding="utf-8").splitlines()
        if "HEADER_SIZE = 12" in line
    ]
    assert lines == ["wire/header.py"]
