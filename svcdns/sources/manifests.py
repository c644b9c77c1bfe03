"""The manifests source: a file or folder of YAML/JSON dumps, re-read when it changes.

Reading one file is `manifestfiles`' (the only module importing yaml and ijson); here the
files of a folder, the objects converted (`convert`), objects defined by several files, the
child process that parses while the server indexes, and the polling source. An object DNS
cannot use is skipped with a warning; a kind at another group/version (a Knative Service)
is not ours and is ignored (`convert`). Two files of a folder defining one object: the
later file in sorted order wins, with a warning naming both.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from svcdns.core.convert import ConversionError, describe, from_dict
from svcdns.core.model import Event, KubeObject, ObjectKey, Upsert, diff, key_of
from svcdns.sources.manifestfiles import ManifestError as ManifestError  # the source's error
from svcdns.sources.manifestfiles import file_items, shown

log = logging.getLogger("svcdns.manifests")

SUFFIXES = (".yaml", ".yml", ".json")
BATCH_SIZE = 500  # objects a batch: small enough to overlap, big enough to amortise a pickle
Objects = dict[ObjectKey, KubeObject]
Signature = tuple[tuple[str, int, int], ...]


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


def _converted(path: Path, *, pods: bool = True) -> Iterator[Item]:
    """Every DNS-relevant object under `path`, in file order, then the objects that more
    than one file defines; raises ManifestError. Pods only with `pods` (`--pods verified`:
    no other answer depends on them)."""
    found = files(path)
    # key -> the last file (its number) defining it; only for a folder of several files.
    defined: dict[ObjectKey, int] | None = {} if len(found) > 1 else None
    duplicated: dict[ObjectKey, list[int]] = {}  # key -> every file defining it, in order
    for number, file in enumerate(found):
        for raw, kind, list_version in file_items(file):
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
