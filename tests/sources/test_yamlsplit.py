"""Streaming YAML: a `kind: List` dump is cut into pieces that parse one at a time, and what
the manifests source reads from them is exactly what parsing the whole file gives."""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from svcdns.sources.manifestfiles import ManifestError, file_items
from svcdns.sources.yamlsplit import pieces

KUBECTL_LIST = """\
apiVersion: v1
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: web
    namespace: shop
  spec:
    clusterIP: 10.96.0.10
    ports:
    - name: http
      port: 80
- apiVersion: v1
  kind: Service
  metadata:
    annotations:
      note: |
        - not an entry
        items:
        ---
    name: db
    namespace: shop
  spec:
    clusterIP: None

# a comment between entries
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
kind: List
metadata:
  resourceVersion: ""
"""

INDENTED_LIST = """\
kind: List
items:
  - kind: Namespace
    metadata: {name: a}
  - kind: Namespace
    metadata:
      name: b
"""

TYPED_LIST = """\
apiVersion: v1
items:
- metadata: {name: web, namespace: shop}
  spec: {clusterIP: 10.96.0.10}
kind: ServiceList
"""

MULTI_DOCUMENT = """\
kind: Namespace
metadata: {name: a}
---
kind: List
items:
- kind: Namespace
  metadata: {name: b}
--- {kind: Namespace, metadata: {name: c}}
...
---
# only a comment
"""

FLOW_ITEMS = """\
kind: List
items: [{kind: Namespace, metadata: {name: a}}]
"""


def whole(text: str) -> list[tuple[Any, str]]:
    """What reading the file as whole documents gives (the old way)."""
    found: list[tuple[Any, str]] = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        kind = str(document.get("kind", ""))
        if kind.endswith("List") and isinstance(document.get("items"), list):
            found += [(item, item.get("kind") or kind[:-4]) for item in document["items"]]
        else:
            found.append((document, kind))
    return found


def streamed(tmp_path: Path, text: str) -> list[tuple[Any, str]]:
    path = tmp_path / "dump.yaml"
    path.write_text(text, encoding="utf-8")
    return [(dict(raw), kind) for raw, kind, _ in file_items(path)]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(KUBECTL_LIST, id="kubectl-list"),
        pytest.param(INDENTED_LIST, id="indented-sequence"),
        pytest.param(TYPED_LIST, id="typed-list-kind-after-items"),
        pytest.param(MULTI_DOCUMENT, id="multi-document"),
        pytest.param(FLOW_ITEMS, id="flow-items-left-whole"),
    ],
)
def test_streamed_items_are_what_the_whole_file_gives(tmp_path: Path, text: str) -> None:
    assert sorted(map(repr, streamed(tmp_path, text))) == sorted(map(repr, whole(text)))


def test_a_kubectl_list_is_cut_entry_by_entry() -> None:
    cut = list(pieces(io.BytesIO(KUBECTL_LIST.encode())))
    items = [piece for piece in cut if piece.is_item]
    assert len(items) == 3
    # The block scalar holding `- `, `items:` and `---` stays inside its entry.
    assert b"- not an entry" in items[1].text
    starts = [n for n, line in enumerate(KUBECTL_LIST.splitlines()) if line.startswith("- ")]
    assert [piece.line for piece in items] == starts == [2, 12, 26]
    (head,) = [piece for piece in cut if not piece.is_item]
    assert head.had_items
    assert yaml.safe_load(head.text) == {
        "apiVersion": "v1",
        "items": None,
        "kind": "List",
        "metadata": {"resourceVersion": ""},
    }


def test_an_error_inside_an_entry_names_its_line_in_the_file(tmp_path: Path) -> None:
    broken = KUBECTL_LIST.replace("    clusterIP: None", "    clusterIP: [None")
    path = tmp_path / "broken.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        list(file_items(path))
    # PyYAML marks an unclosed flow sequence where the next token stands: the line after.
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "[None" in text)
    whole_file_error = pytest.raises(yaml.YAMLError)
    with whole_file_error as expected:
        yaml.safe_load(broken)
    mark = expected.value.problem_mark  # type: ignore[attr-defined]
    assert mark.line + 1 >= line
    assert f"invalid YAML: line {mark.line + 1} column {mark.column + 1}: " in str(caught.value)


def test_a_big_list_is_parsed_one_entry_at_a_time(tmp_path: Path) -> None:
    entry = textwrap.dedent(
        """\
        - kind: Namespace
          metadata:
            name: ns-{n}
        """
    )
    text = "kind: List\nitems:\n" + "".join(entry.format(n=n) for n in range(2000))
    cut = list(pieces(io.BytesIO(text.encode())))
    assert sum(piece.is_item for piece in cut) == 2000
    assert max(len(piece.text) for piece in cut) < 100
    assert len(streamed(tmp_path, text)) == 2000
