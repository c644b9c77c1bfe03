"""One manifests file read into raw objects: the only module importing yaml and ijson.

Reads what `kubectl get ns,svc,endpointslices,pods -A -o yaml|json` prints (`kind: List`),
typed API lists (`ServiceList`, whose items carry no kind) and plain multi-document YAML.
Streaming: a JSON list is read item by item (`ListText`, the standard library's decoder;
ijson for other shapes) and YAML document by document (each entry of a top-level `items:`
list on its own, `yamlsplit`), so a 100 MB dump is never held parsed. A broken file raises
`ManifestError` (one line naming the file), and so does a YAML document holding an alias:
a file is read whole or not at all.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterator, Mapping
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
    try:
        yield from _json_list(file)
    except NotAList:  # another shape (nothing was given): read by ijson
        yield from _json_other(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _invalid_json(file, error) from None


def _invalid_json(file: Path, error: Exception) -> ManifestError:
    text = " ".join(str(error).split())[:200]
    return ManifestError(f"{shown(file)}: invalid JSON: {text}")


def _json_list(file: Path) -> Iterator[Found]:
    """A JSON object's `items`, by the standard library's decoder (`jsonlist`): what
    `kubectl get -o json` prints."""
    with file.open("rb") as stream:
        texts: list[ListText] = []

        def items() -> Iterator[Any]:
            stream.seek(0)
            texts.append(ListText(stream))
            return texts[-1].items()

        def head(key: str) -> str:  # known once the first pass is done
            return str(texts[0].head.get(key) or "")

        yield from _list_items(file, stream, items, head)


def _json_other(file: Path) -> Iterator[Found]:
    """A JSON file not holding one object (an array, a BOM before it...), as it always was
    read: ijson, imported here only (the server's first load reads in a child process, and
    the server itself never holds it)."""
    import ijson

    def read(stream: BinaryIO) -> Iterator[Found]:
        def items() -> Iterator[Any]:
            stream.seek(0)
            return iter(ijson.items(stream, "items.item", use_float=True))

        return _list_items(file, stream, items, lambda key: _top_level(stream, key, ijson))

    try:
        with file.open("rb") as stream:
            yield from read(stream)
    except ijson.JSONError as error:
        raise _invalid_json(file, error) from None


def _list_items(
    file: Path,
    stream: BinaryIO,
    items: Callable[[], Iterator[Any]],
    head: Callable[[str], str],
) -> Iterator[Found]:
    """A list's items, read by `items()` (from the start of `stream` each call); a typed
    list's items (no kind) in a second pass, once the list's kind, which comes after them,
    is known (`head(key)`). Not a list: the file is one object (or an empty list)."""
    streamed = kindless = 0
    for item in items():
        streamed += 1
        if isinstance(item, Mapping) and not item.get("kind"):
            kindless += 1  # a typed list: its kind comes after the items
            continue
        yield from _items_of_list(item, "", "", file)
    if kindless:
        item_kind, list_version = _list_item_kind(head("kind")), head("apiVersion")
        for item in items():
            if isinstance(item, Mapping) and not item.get("kind"):
                yield item, item_kind, list_version
    if streamed:
        return
    stream.seek(0)
    yield from _items(json.loads(stream.read()), file)


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


# -- a JSON list, item by item --------------------------------------------------------
#
# `kubectl get ... -o json` prints one object whose `items` array holds every object. Its
# items are decoded one at a time (`json.JSONDecoder.raw_decode` over a window of the
# text, read a few MiB at a time), so the dump is never held decoded, and at twice ijson's
# speed: the Pods of a dump a server does not need cost their decoding all the same.

CHUNK = 1 << 20  # bytes read at a time (an item larger than the window: read on)
_DECODER = json.JSONDecoder()
_WHITESPACE = " \t\n\r"
# A value cut by the end of the window fails near that end, or as a string left open.
_NEAR_END = 16


class NotAList(Exception):
    """The text is not one object: read it another way (nothing was given)."""


class ListText:
    """The text of a stream, a window at a time, with the place the decoder has reached.

    `items()` gives each item of the top-level object's `items` arrays, in order; then
    `head` holds the object's other members (its kind and apiVersion). A syntax error is a
    json.JSONDecodeError whose line and column are the file's."""

    def __init__(self, stream: BinaryIO, chunk: int = CHUNK) -> None:
        self._stream = stream
        self._chunk = chunk
        self._decode = codecs.getincrementaldecoder("utf-8")().decode
        self._text = ""
        self._at = 0  # where the decoder is in the window
        self._eof = False
        self._before = 0  # characters of the text before the window
        self.head: dict[str, Any] = {}
        self.lists = 0  # `items` arrays found

    def items(self) -> Iterator[Any]:
        if self._char() != "{":
            raise NotAList
        self._at += 1
        if self._char() == "}":
            self._at += 1
            self._end()
            return
        while True:
            if self._char() != '"':
                raise self._error("Expecting property name enclosed in double quotes")
            key = self._value()
            self._expect(":")
            if key == "items" and self._char() == "[":
                self.lists += 1
                yield from self._array()
            else:
                self.head[key] = self._value()
            if self._separator("}"):
                self._end()
                return

    def _array(self) -> Iterator[Any]:
        self._at += 1  # the "["
        if self._char() == "]":
            self._at += 1
            return
        while True:
            yield self._value()
            if self._separator("]"):
                return

    def _separator(self, close: str) -> bool:
        """Past a "," (False) or `close` (True)."""
        found = self._char()
        if found == ",":
            self._at += 1
            return False
        if found == close:
            self._at += 1
            return True
        raise self._error("Expecting ',' delimiter")

    def _expect(self, char: str) -> None:
        if self._char() != char:
            raise self._error(f"Expecting '{char}' delimiter")
        self._at += 1

    def _end(self) -> None:
        if self._char() != "":
            raise self._error("Extra data")

    def _char(self) -> str:
        """The next character that is not whitespace ("" at the end of the text)."""
        while True:
            text, at = self._text, self._at
            while at < len(text) and text[at] in _WHITESPACE:
                at += 1
            self._at = at
            if at < len(text) or not self._more():
                return text[at] if at < len(text) else ""

    def _value(self) -> Any:
        more = self._chunk  # doubled at each retry: a big value is not decoded afresh often
        while True:
            self._char()
            try:
                value, end = _DECODER.raw_decode(self._text, self._at)
            except json.JSONDecodeError as error:
                cut = error.pos >= len(self._text) - _NEAR_END or error.msg.startswith(
                    "Unterminated string"
                )
                if cut and self._more(more):
                    more *= 2
                    continue
                raise self._error(error.msg, error.pos) from None
            if end == len(self._text) and self._more(more):
                more *= 2
                continue  # a number may go on past the window
            self._at = end
            return value

    def _more(self, size: int = 0) -> bool:
        """The window moved past what is decoded and grown by `size` bytes (a chunk);
        False at the end of the text."""
        if self._eof:
            return False
        data = self._stream.read(size or self._chunk)
        self._eof = not data
        self._before += self._at
        self._text = self._text[self._at :] + self._decode(data, final=self._eof)
        self._at = 0
        return True

    def _error(self, message: str, at: int | None = None) -> json.JSONDecodeError:
        at = self._at if at is None else at
        line, column = self._place(self._before + at)
        error = json.JSONDecodeError(message, self._text, at)
        error.args = (f"{message}: line {line} column {column} (char {self._before + at})",)
        return error

    def _place(self, offset: int) -> tuple[int, int]:
        """The line and column of the text's `offset`th character, counted from the start
        again (only for an error: lines are not counted as the text is read)."""
        self._stream.seek(0)
        decode = codecs.getincrementaldecoder("utf-8")().decode
        lines, newline, seen = 1, -1, 0  # `newline`: where the last one before is
        while seen < offset:
            data = self._stream.read(self._chunk)
            if not data:
                break
            part = decode(data)[: offset - seen]  # "" while a character is incomplete
            found = part.count("\n")
            if found:
                lines += found
                newline = seen + part.rfind("\n")
            seen += len(part)
        return lines, offset - newline
