"""The manifests source: a file or folder of YAML/JSON dumps, re-read when it changes.

The only module importing yaml and ijson. Reads what `kubectl get ns,svc,endpointslices,pods
-A -o yaml|json` prints (`kind: List`), typed API lists (`ServiceList`, whose items carry no
kind) and plain multi-document YAML. Streaming: a JSON list is read item by item (ijson) and
YAML document by document, each converted to its slim object at once, so a 100 MB dump is
never held parsed. A broken file raises `ManifestError` (one line naming the file); an
object DNS cannot use, or a YAML document holding an alias, is skipped with a warning; a
kind at another group/version (a Knative Service) is not ours and is ignored (`convert`).
Two files of a folder defining one object: the later file in sorted order wins, with a
warning naming both.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import yaml

from svcdns.core.convert import QUOTE_LIMIT, ConversionError, describe, from_dict
from svcdns.core.model import Event, KubeObject, ObjectKey, Upsert, diff, key_of
from svcdns.sources.yamlsplit import Piece, pieces

log = logging.getLogger("svcdns.manifests")

SUFFIXES = (".yaml", ".yml", ".json")
BATCH_SIZE = 500  # objects a batch: small enough to overlap, big enough to amortise a pickle
Objects = dict[ObjectKey, KubeObject]
Signature = tuple[tuple[str, int, int], ...]
# An object as found in a file: the object, its kind, and the apiVersion of the typed list
# (`EndpointSliceList`) it is an item of ("" outside one). Items of a typed list carry
# neither kind nor apiVersion: their list's stand for them.
Found = tuple[Mapping[str, Any], str, str]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """An object defined in `files` files of a folder, from `first` to `last`, which wins."""

    key: ObjectKey
    first: Path
    last: Path
    files: int = 2

    def describe(self, root: Path) -> str:
        """`Service shop/web is defined in a.yaml and b.yaml; b.yaml wins`, bounded."""
        meta = {"namespace": self.key.namespace, "name": self.key.name}
        what = describe({"kind": self.key.kind, "metadata": meta})
        first, last = shown(self.first, root), shown(self.last, root)
        files = f"{self.files} files, from {first} to" if self.files > 2 else f"{first} and"
        return f"{what} is defined in {files} {last}; {last} wins"


Item = KubeObject | Duplicate  # what a read yields: objects, then the duplicates found


def shown(file: Path, root: Path | None = None) -> str:
    """A file for a log line: relative to `root`, escaped when a name holds a newline or
    another unprintable character, and cut to its last QUOTE_LIMIT characters (the end of
    a path says most): a folder can hold any file name."""
    name = str(file.relative_to(root) if root and file.is_relative_to(root) else file)
    if not name.isprintable():
        name = repr(name)[1:-1]
    return name if len(name) <= QUOTE_LIMIT else f"...{name[-QUOTE_LIMIT:]}"


class ManifestError(Exception):
    """A manifests file that cannot be read as a whole; the message is one line."""


def files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    if not path.exists():
        raise ManifestError(f"{path}: no such file or directory")
    return [path]


def signature(path: Path) -> Signature:
    """What changes when any manifests file is written, added or removed."""
    try:
        found = files(path)
        return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in found)
    except (OSError, ManifestError):
        return ()


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _json_items(file: Path) -> Iterator[Found]:
    """The objects of a JSON file, a list read item by item."""
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
            item_kind = _list_item_kind(_top_level(stream, "kind"))
            list_version = _top_level(stream, "apiVersion")
            stream.seek(0)
            for item in ijson.items(stream, "items.item", use_float=True):
                if isinstance(item, Mapping) and not item.get("kind"):
                    yield item, item_kind, list_version
        if streamed:
            return
        stream.seek(0)
        document = json.loads(stream.read())  # not a list: one object (or an empty list)
    yield from _items(document, file)


def _top_level(stream: BinaryIO, key: str) -> str:
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
    """The piece parsed; None (skipped, with a warning) when it holds an alias."""
    try:
        alias = _alias_line(piece.text)
        if alias is not None:
            what = "list item" if piece.is_item else "document"
            log.warning(
                "%s: line %d: YAML alias refused, %s skipped (Kubernetes objects never use one)",
                shown(file),
                piece.line + alias + 1,
                what,
            )
            return None
        return yaml.load(piece.text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as error:
        mark, where = error.problem_mark, ""
        if mark is not None:  # the place in the file, not in the piece
            where = f"line {piece.line + mark.line + 1} column {mark.column + piece.indent + 1}: "
        raise ManifestError(f"{file}: invalid YAML: {where}{error.problem}") from None


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


def _file_items(file: Path) -> Iterator[Found]:
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
        raise ManifestError(f"{file}: invalid YAML: {where}{error.problem}") from None
    except (json.JSONDecodeError, ijson.JSONError) as error:
        text = " ".join(str(error).split())[:200]
        raise ManifestError(f"{file}: invalid JSON: {text}") from None
    except Exception as error:  # anything a parser raises (a bad date, deep nesting...)
        text = " ".join(str(error).split())[:300]
        raise ManifestError(f"{file}: {type(error).__name__}: {text}") from None


def _items(document: Any, file: Path) -> Iterator[Found]:
    """The objects of a document; items of a typed list take its kind and apiVersion."""
    if document is None:
        return
    if not isinstance(document, Mapping):
        raise ManifestError(f"{file}: a document is a {type(document).__name__}, not an object")
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
        raise ManifestError(f"{file}: a list item is a {type(item).__name__}, not an object")
    if item.get("kind"):
        # An item naming its kind stands on its own, with its own apiVersion (`kind: List`
        # holds objects of any group).
        yield from _items(item, file)
    else:
        yield item, item_kind, list_version  # items of a typed list (ServiceList)


def _converted(path: Path, *, pods: bool = True) -> Iterator[Item]:
    """Every DNS-relevant object under `path`, in file order, then the objects that more
    than one file defines; raises ManifestError. Pods only with `pods` (`--pods verified`:
    no other answer depends on them)."""
    found = files(path)
    # key -> the last file (its number) defining it; only for a folder of several files.
    defined: dict[ObjectKey, int] | None = {} if len(found) > 1 else None
    duplicated: dict[ObjectKey, list[int]] = {}  # key -> every file defining it, in order
    for number, file in enumerate(found):
        for raw, kind, list_version in _file_items(file):
            if not pods and (kind or raw.get("kind")) == "Pod":
                continue
            try:
                obj = from_dict(raw, kind, list_version)
            except ConversionError as error:
                log.warning("%s: %s skipped: %s", file, describe({**raw, "kind": kind}), error)
                continue
            if obj is None:
                continue
            if defined is not None:
                key = key_of(obj)
                before = defined.get(key, number)
                if before != number:  # files are read in order: an earlier file had it
                    duplicated.setdefault(key, [before]).append(number)
                defined[key] = number
            yield obj
    for key, numbers in duplicated.items():
        yield Duplicate(key, found[numbers[0]], found[numbers[-1]], len(numbers))


def read(path: Path, *, pods: bool = True) -> tuple[Objects, list[Duplicate]]:
    """Every DNS-relevant object under `path`, and those several files define (the later
    file's wins); raises ManifestError for a broken file."""
    objects: Objects = {}
    duplicates: list[Duplicate] = []
    for item in _converted(path, pods=pods):
        if isinstance(item, Duplicate):
            duplicates.append(item)
        else:
            objects[key_of(item)] = item
    return objects, duplicates


def load(path: Path, *, pods: bool = True) -> Objects:
    """Every DNS-relevant object under `path`; raises ManifestError for a broken file."""
    return read(path, pods=pods)[0]


def load_in_batches(path: Path, *, pods: bool = True) -> Iterator[list[Item]]:
    """`_converted`, parsed in a child process and handed over in batches of slim objects.

    The parse (JSON or YAML, then conversion) takes as long as building the index from its
    result; on two cores the two overlap, and the parser's garbage never touches the
    server's memory. Where fork is not available, the parse runs here.
    """
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        yield from _batches(_converted(path, pods=pods))
        return
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_produce, args=(path, sender, pods), daemon=True)
    child.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                raise ManifestError(f"{path}: the parsing process died") from None
            if message is None:
                return
            if isinstance(message, str):
                raise ManifestError(message)
            yield message
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()


def _batches(objects: Iterable[Item]) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for obj in objects:
        batch.append(obj)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    yield batch


def _produce(path: Path, sender: Connection, pods: bool) -> None:
    """In the child: batches, then None; or the ManifestError line, as a str."""
    try:
        for batch in _batches(_converted(path, pods=pods)):
            sender.send(batch)
        sender.send(None)
    except ManifestError as error:
        sender.send(str(error))
    finally:
        sender.close()


class ManifestSource:
    """Loads `path` once, then polls it; each change becomes the events that describe it."""

    def __init__(self, path: Path, *, pods: bool = True) -> None:
        self.path = path
        self.pods = pods  # whether Pods are read at all (`--pods verified`)
        self.objects: Objects = {}
        self._signature: Signature = ()
        self._duplicates: frozenset[Duplicate] = frozenset()  # warned of at the last load

    def initial(self) -> list[Event]:
        """The first load; raises ManifestError so the caller can exit with its line."""
        return [event for events in self.initial_batches() for event in events]

    def initial_batches(self) -> Iterator[list[Event]]:
        """The first load as it is parsed, batch by batch (`load_in_batches`); a broken file
        raises ManifestError after the batches before it."""
        self._signature = signature(self.path)
        self.objects = {}
        duplicates: list[Duplicate] = []
        for batch in load_in_batches(self.path, pods=self.pods):
            events: list[Event] = []
            for obj in batch:
                if isinstance(obj, Duplicate):
                    duplicates.append(obj)
                    continue
                key = key_of(obj)
                if self.objects.get(key) != obj:  # a later duplicate replaces an earlier one
                    self.objects[key] = obj
                    events.append(Upsert(obj))
            yield events
        self._warn(duplicates)

    def poll(self) -> list[Event]:
        """Events since the last good load; none when unchanged or broken (logged once)."""
        current = signature(self.path)
        if current == self._signature:
            return []
        # Remembered before reading: a write during the read shows up at the next poll.
        self._signature = current
        try:
            objects, duplicates = read(self.path, pods=self.pods)
        except ManifestError as error:
            log.error("keeping the last good state: %s", error)
            return []
        self._warn(duplicates)
        events = diff(self.objects, objects)
        self.objects = objects
        log.info("reloaded %s: %d objects, %d changed", self.path, len(objects), len(events))
        return events

    def _warn(self, duplicates: list[Duplicate]) -> None:
        """One warning per object several files define, unless the last good load warned of
        it already: every change re-reads the whole folder, and one duplicate left in place
        must not repeat its line at each of them."""
        for duplicate in duplicates:
            if duplicate not in self._duplicates:
                log.warning("%s", duplicate.describe(self.path))
        self._duplicates = frozenset(duplicates)
