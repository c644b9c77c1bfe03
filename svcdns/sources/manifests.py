"""The manifests source: a file or folder of YAML/JSON dumps, re-read when it changes.

Reading one file is `manifestfiles`' (the only module importing yaml and ijson); here the
files of a folder, the objects converted (`convert`), objects defined by several files, the
child process that parses while the server indexes, and the polling source. An object DNS
cannot use is skipped with a warning; a kind at another group/version (a Knative Service)
is not ours and is ignored (`convert`). Two files of a folder defining one object: the
later file in sorted order wins, with a warning naming both.

Each file is read whole or not at all: after the first load, a file that cannot be read (a
syntax error, a refused alias) keeps its last good content, with one line, while the other
files' changes apply; a poll reads again only the files that changed.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from svcdns.core.convert import ConversionError, describe, from_dict
from svcdns.core.model import (
    EndpointSlice,
    Event,
    KubeObject,
    ObjectKey,
    Service,
    Upsert,
    diff,
    key_of,
)
from svcdns.sources.manifestfiles import ManifestError as ManifestError  # the source's error
from svcdns.sources.manifestfiles import file_items, shown

log = logging.getLogger("svcdns.manifests")

SUFFIXES = (".yaml", ".yml", ".json")
BATCH_SIZE = 500  # objects a batch: small enough to overlap, big enough to amortise a pickle
Objects = dict[ObjectKey, KubeObject]
Stamp = tuple[int, int] | None  # a file's mtime (ns) and size; None: it cannot be stat'ed


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


@dataclass(frozen=True, slots=True)
class FileRead:
    """In a read's stream: every object of `file` came before this."""

    file: Path


# What a read yields: each file's objects then its FileRead, then the duplicates found.
Item = KubeObject | FileRead | Duplicate


def files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
    if not path.exists():
        raise ManifestError(f"{path}: no such file or directory")
    return [path]


def stamps(path: Path) -> dict[Path, Stamp]:
    """Each manifests file with what changes when it is written; raises ManifestError when
    `path` is gone."""
    return {file: _stamp(file) for file in files(path)}


def _stamp(file: Path) -> Stamp:
    try:
        stat = file.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


def file_objects(file: Path, *, pods: bool = True) -> Iterator[KubeObject]:
    """The DNS-relevant objects of one file, in order; raises ManifestError. Pods only with
    `pods` (`--pods verified`: no other answer depends on them)."""
    for raw, kind, list_version in file_items(file):
        if not pods and (kind or raw.get("kind")) == "Pod":
            continue
        try:
            obj = from_dict(raw, kind, list_version)
        except ConversionError as error:
            what = describe({**raw, "kind": kind})
            log.warning("%s: %s skipped: %s", shown(file), what, error)
            continue
        if obj is not None:
            yield obj


class _Definitions:
    """Which files of a folder define each object, to name those several files define."""

    def __init__(self, found: Sequence[Path]) -> None:
        self.found = found
        # key -> the last file (its number) defining it; only for a folder of several files.
        self._last: dict[ObjectKey, int] | None = {} if len(found) > 1 else None
        self._several: dict[ObjectKey, list[int]] = {}  # key -> every file defining it

    def add(self, obj: KubeObject, number: int) -> None:
        if self._last is None:
            return
        key = key_of(obj)
        before = self._last.get(key, number)
        if before != number:  # files are read in order: an earlier file had it
            self._several.setdefault(key, [before]).append(number)
        self._last[key] = number

    def duplicates(self) -> list[Duplicate]:
        found = self.found
        return [
            Duplicate(key, found[numbers[0]], found[numbers[-1]], len(numbers))
            for key, numbers in self._several.items()
        ]


def _converted(path: Path, *, pods: bool = True) -> Iterator[Item]:
    """Every DNS-relevant object under `path`, file by file (each followed by its FileRead),
    then the objects that more than one file defines; raises ManifestError."""
    found = files(path)
    definitions = _Definitions(found)
    for number, file in enumerate(found):
        for obj in file_objects(file, pods=pods):
            definitions.add(obj, number)
            yield obj
        yield FileRead(file)
    yield from definitions.duplicates()


def merged(contents: dict[Path, list[KubeObject]]) -> tuple[Objects, list[Duplicate]]:
    """The objects of files read one by one (in sorted order), and those several define:
    the later file's wins."""
    definitions = _Definitions(list(contents))
    objects: Objects = {}
    for number, found in enumerate(contents.values()):
        for obj in found:
            definitions.add(obj, number)
            objects[key_of(obj)] = obj
    return objects, definitions.duplicates()


def read(path: Path, *, pods: bool = True) -> tuple[Objects, list[Duplicate]]:
    """Every DNS-relevant object under `path`, and those several files define (the later
    file's wins); raises ManifestError for a broken file."""
    return merged({file: list(file_objects(file, pods=pods)) for file in files(path)})


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
        self._stamps: dict[Path, Stamp] = {}  # each file as it was when last read
        self._contents: dict[Path, list[KubeObject]] = {}  # each file's last good objects
        self._gone = False  # `path` itself was missing at the last poll (logged)
        self._duplicates: frozenset[Duplicate] = frozenset()  # warned of at the last load

    @property
    def objects(self) -> Objects:
        """Every object as the last good read left it (the later file's where several define
        one): made from each file's objects when asked, not kept beside them."""
        return merged(self._contents)[0]

    def initial(self) -> list[Event]:
        """The first load; raises ManifestError so the caller can exit with its line."""
        return [event for events in self.initial_batches() for event in events]

    def initial_batches(self) -> Iterator[list[Event]]:
        """The first load as it is parsed, batch by batch (`load_in_batches`); a broken or
        refused file raises ManifestError after the batches before it: there is no last
        good content to keep yet, so the caller stops, as for any other error at start.

        A Service comes in the batch of its first EndpointSlice (or Endpoints), or after
        the last batch: a dump lists every Service before any slice, and a Service applied
        alone would have its records computed twice, without its endpoints, then with them.
        Other objects come in the order read; so do two definitions of one object, the
        later file's last."""
        # Taken before reading: a write during the read shows up at the next poll.
        self._stamps = stamps(self.path)
        self._contents = {}
        duplicates: list[Duplicate] = []
        current: list[KubeObject] = []  # the objects of the file being read
        waiting: dict[tuple[str, str], Service] = {}  # Services for their first slice
        for batch in load_in_batches(self.path, pods=self.pods):
            events: list[Event] = []
            for obj in batch:
                if isinstance(obj, FileRead):
                    self._contents[obj.file], current = current, []
                    continue
                if isinstance(obj, Duplicate):
                    duplicates.append(obj)
                    continue
                current.append(obj)
                if isinstance(obj, Service):
                    waiting[obj.namespace, obj.name] = obj  # a later definition replaces it
                    continue
                if isinstance(obj, EndpointSlice):
                    service = waiting.pop((obj.namespace, obj.service), None)
                    if service is not None:
                        events.append(Upsert(service))
                events.append(Upsert(obj))
            yield events
        if waiting:
            yield [Upsert(service) for service in waiting.values()]
        self._warn(duplicates)

    def poll(self) -> list[Event]:
        """Events since the last poll; none when unchanged. A file that changed but cannot
        be read keeps its last good content (nothing, for a new file), logged once."""
        try:
            current = stamps(self.path)
        except ManifestError as error:
            if not self._gone:
                log.error("keeping the last good state: %s", error)
            self._gone = True
            return []
        self._gone = False
        if current == self._stamps:
            return []
        contents: dict[Path, list[KubeObject]] = {}
        read_any = False
        for file, stamp in current.items():
            kept = self._contents.get(file)
            if kept is not None and stamp is not None and self._stamps.get(file) == stamp:
                contents[file] = kept
                continue
            try:
                contents[file] = list(file_objects(file, pods=self.pods))
                read_any = True
            except ManifestError as error:
                log.error("keeping the last good state: %s", error)
                contents[file] = kept or []
        before = self.objects
        self._stamps, self._contents = current, contents
        objects, duplicates = merged(contents)
        self._warn(duplicates)
        events = diff(before, objects)
        if read_any or events:
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
