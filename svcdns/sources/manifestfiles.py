"""One manifests file read into raw objects: the only module importing yaml and ijson.

Reads what `kubectl get ns,svc,endpointslices,pods -A -o yaml|json` prints (`kind: List`),
typed API lists (`ServiceList`, whose items carry no kind) and plain multi-document YAML.
Streaming: a JSON list is read item by item (ijson) and YAML document by document (each
entry of a top-level `items:` list on its own, `yamlsplit`), so a 100 MB dump is never held
parsed. A broken file raises `ManifestError` (one line naming the file), and so does a
YAML document holding an alias: a file is read whole or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from svcdns.core.convert import QUOTE_LIMIT
from svcdns.sources.yamlsplit import Piece, pieces

# An object as found in a file: the object, its kind, and the apiVersion of the typed list
# (`EndpointSliceList`) it is an item of ("" outside one). Items of a typed list carry
# neither kind nor apiVersion: their list's stand for them.
Found = tuple[Mapping[str, Any], str, str]


class ManifestError(Exception):
    """A manifests file that cannot be read as a whole; the message is one line."""


def shown(file: Path, root: Path | None = None) -> str:
    """A file for a log line: relative to `root`, escaped when a name holds a newline or
    another unprintable character, and cut to its last QUOTE_LIMIT characters (the end of
    a path says most): a folder can hold any file name."""
    name = str(file.relative_to(root) if root and file.is_relative_to(root) else file)
    if not name.isprintable():
        name = repr(name)[1:-1]
    return name if len(name) <= QUOTE_LIMIT else f"...{name[-QUOTE_LIMIT:]}"


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _json_items(file: Path) -> Iterator[Found]:
    """The objects of a JSON file, a list read item by item."""
    # ijson is imported where a JSON file is read: the server's first load reads in a child
    # process, and the server itself then never holds the parser (1.6 MB).
    import ijson

    try:
        yield from _json_stream(file, ijson)
    except (json.JSONDecodeError, ijson.JSONError) as error:
        text = " ".join(str(error).split())[:200]
        raise ManifestError(f"{shown(file)}: invalid JSON: {text}") from None


def _json_stream(file: Path, ijson: Any) -> Iterator[Found]:
    with file.open("rb") as stream:
        streamed = 0
        kindless = False
        for item in ijson.items(stream, "items.item", use_float=True):
            streamed += 1
            if isinstance(item, Mapping) and not item.get("kind"):
                kindless = True  # a typed list: its kind comes after the items
                continue
            yield from _items_of_list(item, "", "", file)
        if kindless:
            item_kind = _list_item_kind(_top_level(stream, "kind", ijson))
            list_version = _top_level(stream, "apiVersion", ijson)
            stream.seek(0)
            for item in ijson.items(stream, "items.item", use_float=True):
                if isinstance(item, Mapping) and not item.get("kind"):
                    yield item, item_kind, list_version
        if streamed:
            return
        stream.seek(0)
        document = json.loads(stream.read())  # not a list: one object (or an empty list)
    yield from _items(document, file)


def _top_level(stream: BinaryIO, key: str, ijson: Any) -> str:
    stream.seek(0)
    return str(next(ijson.items(stream, key), "") or "")


def _list_item_kind(kind: str) -> str:
    return kind[: -len("List")] if kind.endswith("List") else ""


def _yaml_items(file: Path) -> Iterator[Found]:
    """The objects of a YAML file, a top-level `items:` list entry by entry
    (`yamlsplit`), so a `kubectl get -o yaml` dump is never parsed whole."""
    kindless: list[Mapping[str, Any]] = []  # typed-list items: their kind comes last
    with file.open("rb") as stream:
        for piece in pieces(stream):
            parsed = _parse_piece(piece, file)
            if piece.is_item:
                for item in parsed or ():
                    if isinstance(item, Mapping) and not item.get("kind"):
                        kindless.append(item)
                    else:
                        yield from _items_of_list(item, "", "", file)
                continue
            if piece.had_items and isinstance(parsed, Mapping) and parsed.get("items") is None:
                item_kind = _list_item_kind(str(parsed.get("kind", "")))
                list_version = str(parsed.get("apiVersion") or "")
                yield from ((item, item_kind, list_version) for item in kindless)
                kindless = []
            else:
                yield from _items(parsed, file)


def _parse_piece(piece: Piece, file: Path) -> Any:
    """The piece parsed; a piece holding an alias is refused like a syntax error, so the
    file it is in keeps its last good content instead of losing that piece's objects."""
    try:
        alias = _alias_line(piece.text)
        if alias is not None:
            line = piece.line + alias + 1
            raise ManifestError(
                f"{shown(file)}: line {line}: YAML alias refused (Kubernetes objects never use one)"
            )
        return yaml.load(piece.text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as error:
        mark, where = error.problem_mark, ""
        if mark is not None:  # the place in the file, not in the piece
            where = f"line {piece.line + mark.line + 1} column {mark.column + piece.indent + 1}: "
        raise ManifestError(f"{shown(file)}: invalid YAML: {where}{error.problem}") from None


def _alias_line(text: bytes) -> int | None:
    """The line (0-based) of the first alias in a YAML text; None when it has none.

    Aliases are refused, not expanded: Kubernetes objects never need one, and seven levels
    of anchors naming the one before, ten times each, are a few KB that stand for 10**7
    values (a billion laughs) to whatever walks them. The C loader composes nodes in C,
    where no subclass can see an alias, so its own parser's events are read first; only a
    text holding a `*` can hold an alias, and few pieces do, so the common case costs a
    byte search.
    """
    if b"*" not in text:
        return None
    parser = _YAML_LOADER(text)
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.AliasEvent):
                return event.start_mark.line if event.start_mark is not None else 0
    finally:
        parser.dispose()
    return None


def file_items(file: Path) -> Iterator[Found]:
    """Every object of one file; parser failures become one ManifestError line."""
    try:
        if file.suffix == ".json":
            yield from _json_items(file)
        else:
            yield from _yaml_items(file)
    except ManifestError:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        raise ManifestError(f"{shown(file)}: invalid YAML: {where}{error.problem}") from None
    except Exception as error:  # anything a parser raises (a bad date, deep nesting...)
        text = " ".join(str(error).split())[:300]
        raise ManifestError(f"{shown(file)}: {type(error).__name__}: {text}") from None


def _items(document: Any, file: Path) -> Iterator[Found]:
    """The objects of a document; items of a typed list take its kind and apiVersion."""
    if document is None:
        return
    if not isinstance(document, Mapping):
        raise ManifestError(
            f"{shown(file)}: a document is a {type(document).__name__}, not an object"
        )
    kind = str(document.get("kind", ""))
    if kind.endswith("List") and isinstance(document.get("items"), list):
        item_kind = kind[: -len("List")]
        list_version = str(document.get("apiVersion") or "")
        for item in document["items"]:
            yield from _items_of_list(item, item_kind, list_version, file)
    else:
        yield document, kind, ""


def _items_of_list(item: Any, item_kind: str, list_version: str, file: Path) -> Iterator[Found]:
    if not isinstance(item, Mapping):
        raise ManifestError(f"{shown(file)}: a list item is a {type(item).__name__}, not an object")
    if item.get("kind"):
        # An item naming its kind stands on its own, with its own apiVersion (`kind: List`
        # holds objects of any group).
        yield from _items(item, file)
    else:
        yield item, item_kind, list_version  # items of a typed list (ServiceList)
