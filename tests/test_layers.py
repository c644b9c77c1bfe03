"""The package's parts import one way (STYLE.md): wire <- core, dns, net; core <- dns,
sources, ops.

Walks every module's imports with `ast`, so a new import across a layer fails here, and
checks that each outside library has its one owner module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "svcdns"

# Which parts of svcdns each part may import (itself always allowed). The face (cli,
# config, serve, __main__ and the package root) wires everything and may import anything.
ALLOWED: dict[str, set[str]] = {
    # Wire format (header, flags, names, OPT, limits, the blob layout): a leaf below all.
    "wire": set(),
    "core": {"wire"},  # the blob layout
    "dns": {"core", "wire"},
    "net": {"wire"},
    "sources": {"core"},
    # The HTTP listener reuses net's listen address and bind error: one way to bind.
    "ops": {"core", "net"},
}
# Outside libraries with a single owner: module path (relative to svcdns/) -> library.
OWNERS = {
    "dnslib": {"dns/codec.py"},
    "yaml": {"sources/manifestfiles.py", "config.py"},  # manifests, and the --config file
    "kubernetes": {"sources/kube.py"},
    "prometheus_client": {"ops/metrics.py"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _part_of(module: str) -> str | None:
    """`svcdns.core.answer` -> `core`; the package root and the face -> None."""
    parts = module.split(".")
    if parts[0] != "svcdns" or len(parts) < 2 or parts[1] not in ALLOWED:
        return None
    return parts[1]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_the_parts_below_it(path: Path) -> None:
    part = path.relative_to(PACKAGE).parts[0]
    allowed = ALLOWED[part] | {part}
    crossing = {
        module
        for module in _imports(path)
        if (target := _part_of(module)) is not None and target not in allowed
    }
    assert not crossing, f"{path.relative_to(PACKAGE)} imports {sorted(crossing)}"


@pytest.mark.parametrize("library", sorted(OWNERS))
def test_each_outside_library_has_one_owner(library: str) -> None:
    importers = {
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if any(m == library or m.startswith(library + ".") for m in _imports(path))
    }
    assert importers == OWNERS[library]
