"""Cuts a YAML stream into pieces small enough to parse one at a time, without parsing it.

`kubectl get -o yaml` prints one document, a `List` whose `items:` is a block sequence
holding the whole cluster: parsed at once, a 140 MB dump takes about 5 GB and 45 s. Here
each entry of a top-level `items:` block sequence becomes a piece of its own (a one-entry
sequence, so it parses as written), and the rest of the document (`apiVersion`, `kind`,
`metadata`) another. It works on lines and indentation alone, which is enough for a block
sequence: an entry starts at a `- ` line at the sequence's indentation and runs until the
next line at that indentation or less. Anything else (flow style, a document without
`items:`) is left whole. An alias from one entry to an anchor in another no longer
resolves, which loses nothing: Kubernetes objects never use them, and `manifests` refuses
every alias. Imports only the stdlib.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

DOCUMENT_MARKERS = (b"---", b"...")


@dataclass(slots=True)
class Piece:
    """A YAML text to parse on its own, and where it starts in the file (0-based line)."""

    text: bytes
    line: int
    indent: int = 0  # columns removed from every line of an item
    is_item: bool = False
    had_items: bool = False  # a document whose items were given as pieces before it


@dataclass(slots=True)
class _Document:
    head: list[bytes] = field(default_factory=list)
    head_line: int = -1
    item: list[bytes] = field(default_factory=list)
    item_line: int = 0
    had_items: bool = False


def pieces(lines: Iterable[bytes]) -> Iterator[Piece]:
    """The pieces of a YAML stream given line by line (line ends kept)."""
    document = _Document()
    items_indent = -1  # the indentation of the `items:` entries, once inside them
    in_items = False
    for number, line in enumerate(lines):
        stripped = line.rstrip(b"\r\n")
        if _is_marker(stripped):
            yield from _item(document)
            directives_only = all(head.startswith(b"%") for head in document.head)
            if not (directives_only and stripped.startswith(b"---")):
                yield from _finish(document)
                document = _Document()
            in_items, items_indent = False, -1
            if stripped.startswith(b"---") and stripped[3:].strip():
                _add_head(document, line[3:].lstrip(), number)  # `--- {...}` on one line
            elif stripped.startswith(b"---"):
                _add_head(document, line, number)
            continue
        if in_items:
            indent = len(stripped) - len(stripped.lstrip(b" "))
            content = stripped[indent:]
            if not content or content.startswith(b"#"):
                if document.item:
                    document.item.append(line)
                continue
            if items_indent < 0:
                items_indent = indent  # the first entry fixes the sequence's indentation
            if indent == items_indent and (content == b"-" or content.startswith(b"- ")):
                yield from _item(document)
                document.item, document.item_line = [line], number
                continue
            if indent > items_indent and document.item:
                document.item.append(line)
                continue
            # Back at the document's own level (or not a sequence at all): hand it on whole.
            yield from _item(document)
            in_items = False
        if stripped.rstrip() == b"items:":
            in_items, items_indent = True, -1
            document.had_items = True
        _add_head(document, line, number)
    yield from _finish(document)


def _is_marker(stripped: bytes) -> bool:
    return stripped[:3] in DOCUMENT_MARKERS and stripped[3:4] in (b"", b" ", b"\t")


def _add_head(document: _Document, line: bytes, number: int) -> None:
    if document.head_line < 0:
        document.head_line = number
    document.head.append(line)


def _item(document: _Document) -> Iterator[Piece]:
    if not document.item:
        return
    first = document.item[0]
    indent = len(first) - len(first.lstrip(b" "))
    text = b"".join(line[indent:] if line[:indent].isspace() else line for line in document.item)
    document.item = []
    yield Piece(text, document.item_line, indent=indent, is_item=True)


def _finish(document: _Document) -> Iterator[Piece]:
    yield from _item(document)
    if document.head or document.had_items:
        line = max(document.head_line, 0)
        yield Piece(b"".join(document.head), line, had_items=document.had_items)
