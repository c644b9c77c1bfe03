"""The manifests source: a file or folder of YAML/JSON dumps, re-read when it changes.

The only module importing yaml and ijson. Reads what `kubectl get ns,svc,endpointslices,pods
-A -o yaml|json` prints (`kind: List`), typed API lists (`ServiceList`, whose items carry no
kind) and plain multi-document YAML. Streaming: a JSON list is read item by item (ijson) and
YAML document by document, each converted to its slim object at once, so a 100 MB dump is
never held parsed. A broken file raises `ManifestError` (one line naming the file); an
object DNS cannot use is skipped with a warning.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
from collections.abc import Iterable, Iterator, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO

import ijson
import yaml

from svcdns.core.convert import ConversionError, describe, from_dict
from svcdns.core.model import Event, KubeObject, ObjectKey, Upsert, diff, key_of
from svcdns.sources.yamlsplit import Piece, pieces

log = logging.getLogger("svcdns.manifests")

SUFFIXES = (".yaml", ".yml", ".json")
BATCH_SIZE = 500  # objects a batch: small enough to overlap, big enough to amortise a pickle
Objects = dict[ObjectKey, KubeObject]
Signature = tuple[tuple[str, int, int], ...]


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


def _json_items(file: Path) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(object, kind) pairs of a JSON file, a list read item by item."""
    with file.open("rb") as stream:
        streamed = 0
        kindless = False
        for item in ijson.items(stream, "items.item", use_float=True):
            streamed += 1
            if isinstance(item, Mapping) and not item.get("kind"):
                kindless = True  # a typed list: its kind comes after the items
                continue
            yield from _items_of_list(item, "", file)
        if kindless:
            item_kind = _list_item_kind(_top_level_kind(stream))
            stream.seek(0)
            for item in ijson.items(stream, "items.item", use_float=True):
                if isinstance(item, Mapping) and not item.get("kind"):
                    yield item, item_kind
        if streamed:
            return
        stream.seek(0)
        document = json.loads(stream.read())  # not a list: one object (or an empty list)
    yield from _items(document, file)


def _top_level_kind(stream: BinaryIO) -> str:
    stream.seek(0)
    return str(next(ijson.items(stream, "kind"), ""))


def _list_item_kind(kind: str) -> str:
    return kind[: -len("List")] if kind.endswith("List") else ""


def _yaml_items(file: Path) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(object, kind) pairs of a YAML file, a top-level `items:` list entry by entry
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
                        yield from _items_of_list(item, "", file)
                continue
            if piece.had_items and isinstance(parsed, Mapping) and parsed.get("items") is None:
                item_kind = _list_item_kind(str(parsed.get("kind", "")))
                yield from ((item, item_kind) for item in kindless)
                kindless = []
            else:
                yield from _items(parsed, file)


def _parse_piece(piece: Piece, file: Path) -> Any:
    try:
        return yaml.load(piece.text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as error:
        mark, where = error.problem_mark, ""
        if mark is not None:  # the place in the file, not in the piece
            where = f"line {piece.line + mark.line + 1} column {mark.column + piece.indent + 1}: "
        raise ManifestError(f"{file}: invalid YAML: {where}{error.problem}") from None


def _file_items(file: Path) -> Iterator[tuple[Mapping[str, Any], str]]:
    """Every (object, kind) of one file; parser failures become one ManifestError line."""
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


def _items(document: Any, file: Path) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(object, kind) pairs; list items inherit the kind their list names."""
    if document is None:
        return
    if not isinstance(document, Mapping):
        raise ManifestError(f"{file}: a document is a {type(document).__name__}, not an object")
    kind = str(document.get("kind", ""))
    if kind.endswith("List") and isinstance(document.get("items"), list):
        item_kind = kind[: -len("List")]
        for item in document["items"]:
            yield from _items_of_list(item, item_kind, file)
    else:
        yield document, kind


def _items_of_list(
    item: Any, item_kind: str, file: Path
) -> Iterator[tuple[Mapping[str, Any], str]]:
    if not isinstance(item, Mapping):
        raise ManifestError(f"{file}: a list item is a {type(item).__name__}, not an object")
    if item.get("kind"):
        yield from _items(item, file)
    else:
        yield item, item_kind  # items of a typed list (ServiceList) carry no kind


def _converted(path: Path, *, pods: bool = True) -> Iterator[KubeObject]:
    """Every DNS-relevant object under `path`, in file order; raises ManifestError. Pods
    only with `pods` (`--pods verified`: no other answer depends on them)."""
    for file in files(path):
        for raw, kind in _file_items(file):
            if not pods and (kind or raw.get("kind")) == "Pod":
                continue
            try:
                obj = from_dict(raw, kind)
            except ConversionError as error:
                log.warning("%s: %s skipped: %s", file, describe({**raw, "kind": kind}), error)
                continue
            if obj is not None:
                yield obj


def load(path: Path, *, pods: bool = True) -> Objects:
    """Every DNS-relevant object under `path`; raises ManifestError for a broken file."""
    return {key_of(obj): obj for obj in _converted(path, pods=pods)}


def load_in_batches(path: Path, *, pods: bool = True) -> Iterator[list[KubeObject]]:
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


def _batches(objects: Iterable[KubeObject]) -> Iterator[list[KubeObject]]:
    batch: list[KubeObject] = []
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

    def initial(self) -> list[Event]:
        """The first load; raises ManifestError so the caller can exit with its line."""
        return [event for events in self.initial_batches() for event in events]

    def initial_batches(self) -> Iterator[list[Event]]:
        """The first load as it is parsed, batch by batch (`load_in_batches`); a broken file
        raises ManifestError after the batches before it."""
        self._signature = signature(self.path)
        self.objects = {}
        for batch in load_in_batches(self.path, pods=self.pods):
            events: list[Event] = []
            for obj in batch:
                key = key_of(obj)
                if self.objects.get(key) != obj:  # a later duplicate replaces an earlier one
                    self.objects[key] = obj
                    events.append(Upsert(obj))
            yield events

    def poll(self) -> list[Event]:
        """Events since the last good load; none when unchanged or broken (logged once)."""
        current = signature(self.path)
        if current == self._signature:
            return []
        # Remembered before reading: a write during the read shows up at the next poll.
        self._signature = current
        try:
            objects = load(self.path, pods=self.pods)
        except ManifestError as error:
            log.error("keeping the last good state: %s", error)
            return []
        events = diff(self.objects, objects)
        self.objects = objects
        log.info("reloaded %s: %d objects, %d changed", self.path, len(objects), len(events))
        return events
