"""The first LIST of every resource, made at start-up by the child process that reads the
API configuration, and handed over page by page as slim objects.

Decoding the lists' JSON and converting it cost as much as indexing what they bring (1.6 s
of CPU for the large bench cluster's 10,000 Services and 10,000 EndpointSlices, against
0.1 s to unpickle the slim objects), and in the server process all of it shares one GIL
with the indexing. In the child, forked before any thread runs, it runs on another core
while the server indexes the pages already in, and the JSON's garbage never touches the
server's memory. A resource whose list fails in the child is listed again by its own watch
loop (`ResourceWatch`), which also makes every later list. Imports the watch loop's pieces
and the core's model only; `kube` runs the child.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from svcdns.core.model import KubeObject, key_of
from svcdns.sources.watch import Api, Page, Resource, describe_error, list_pages, resources

log = logging.getLogger("svcdns.kube")

PARALLEL_LISTS = 4  # lists the child makes at once (`--namespaces` makes 3 a namespace)
DISCOVERY_WAIT = 60.0  # seconds the server waits for the child's discovery before its own

Send = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class ListPlan:
    """What the server will watch, so that the child lists the same resources."""

    namespaces: frozenset[str] | None
    labels: str
    pods: bool
    multicluster: bool = False  # --multicluster: ServiceImports too, if their CRD is served

    def resources(self, *, endpoint_slices: bool, service_imports: bool = False) -> list[Resource]:
        return resources(
            endpoint_slices=endpoint_slices,
            namespaces=self.namespaces,
            labels=self.labels,
            pods=self.pods,
            service_imports=service_imports,
        )


class LoaderError(Exception):
    """The child could not list a resource; its watch loop lists it instead."""


# -- in the child ------------------------------------------------------------------------------


def send_lists(api: Api, wanted: list[Resource], send: Send) -> None:
    """List every resource, PARALLEL_LISTS at a time, sending each page as it converts:
    ("page", name, objects, resourceVersion)..., then ("listed", name) or ("failed", name,
    why); Services wait for their endpoints (`EndpointsFirst`). Sends None once all are
    done."""
    todo: queue.SimpleQueue[Resource] = queue.SimpleQueue()
    for resource in sorted(wanted, key=lambda r: r.kind == "Service"):  # endpoints first
        todo.put(resource)
    gate = EndpointsFirst(send)

    def work() -> None:
        while not gate.gone:
            try:
                resource = todo.get_nowait()
            except queue.Empty:
                return
            try:
                for objects, version in list_pages(api, resource):
                    gate.page(resource, objects, version)
            except Exception as error:
                gate.end(resource, ("failed", resource.name, describe_error(error)))
            else:
                gate.end(resource, ("listed", resource.name))

    workers = [threading.Thread(target=work) for _ in range(min(PARALLEL_LISTS, len(wanted)))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    gate.send(None)


class EndpointsFirst:
    """Sends a Service only once the endpoint list of its scope has gone past its namespace.

    The index computes a Service when it or its endpoints change; a Service indexed before
    its EndpointSlices is computed twice (the large bench cluster: 3.0 s of indexing in
    that order, 2.5 s the other way). Lists come in key order (`namespace/name`), and the
    Services' list, a third of the bytes, runs ahead: its objects are held until an
    EndpointSlice (or Endpoints) of a later namespace, or the end of that list, is sent.
    Were a list out of order, a Service would be computed twice, as before: never wrong.
    One lock: the pipe takes one message at a time.
    """

    def __init__(self, send: Send) -> None:
        self._pipe = send
        self.gone = False  # the server stopped reading: nothing more to list
        self._lock = threading.Lock()
        self._past: dict[str, str] = {}  # scope -> last endpoints key sent
        self._ended: set[str] = set()  # scopes whose endpoint list has ended
        self._held: dict[str, tuple[Resource, list[KubeObject], str]] = {}  # scope -> Services
        self._done: dict[str, Any] = {}  # scope -> the Services' end, sent once none held

    def send(self, message: Any) -> None:
        with self._lock:
            self._send(message)

    def _send(self, message: Any) -> None:
        if self.gone:
            return
        try:
            self._pipe(message)
        except (OSError, EOFError):  # a closed pipe: the server is gone or stopping
            self.gone = True

    def page(self, resource: Resource, objects: list[KubeObject], version: str) -> None:
        scope = resource.namespace
        with self._lock:
            if resource.kind != "Service":
                self._send(("page", resource.name, objects, version))
                if resource.kind in ("EndpointSlice", "Endpoints") and objects:
                    last = key_of(objects[-1])
                    self._past[scope] = f"{last.namespace}/{last.name}"
                    self._release(scope)
                return
            _, held, _ = self._held.get(scope, (resource, [], version))
            self._held[scope] = (resource, held + objects, version)
            self._release(scope)

    def end(self, resource: Resource, message: Any) -> None:
        scope = resource.namespace
        with self._lock:
            if resource.kind == "Service":
                if message[0] == "failed":
                    self._held.pop(scope, None)  # listed again by the server
                    self._send(message)
                else:
                    self._done[scope] = message
                    self._release(scope)
                return
            self._send(message)
            if resource.kind in ("EndpointSlice", "Endpoints"):
                self._ended.add(scope)
                self._release(scope)

    def _release(self, scope: str) -> None:
        if scope in self._held:
            resource, held, version = self._held[scope]
            past = self._past.get(scope, "")
            ended = scope in self._ended
            ready: list[KubeObject] = []
            rest: list[KubeObject] = []
            for service in held:
                passed = ended or _passed(past, key_of(service).namespace)
                (ready if passed else rest).append(service)
            if ready:
                self._send(("page", resource.name, ready, version))
                if rest:
                    self._held[scope] = (resource, rest, version)
                else:
                    del self._held[scope]
        if scope not in self._held and scope in self._done:
            self._send(self._done.pop(scope))


def _passed(last_key: str, namespace: str) -> bool:
    """Whether a list in key order that has sent `last_key` is past every key of
    `namespace` (compared as keys: `a-b/x` sorts before `a/x`)."""
    prefix = f"{namespace}/"
    return last_key > prefix and not last_key.startswith(prefix)


# -- in the server -----------------------------------------------------------------------------


class FirstLists:
    """The server's end of the child's pipe: one thread reads it and routes each page to
    its resource's queue, which that resource's watch loop reads as its first list."""

    def __init__(self, receiver: Connection, child: BaseProcess) -> None:
        self._receiver = receiver
        self._child = child
        self._queues: dict[str, queue.SimpleQueue[Any]] = {}
        self._lock = threading.Lock()
        self._ended = ""  # why no more messages will come, once none will
        self._discovered = threading.Event()
        self._slices: bool | None = None
        self._imports = False
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        if self._reader is not None:
            return  # one reader
        self._reader = threading.Thread(target=self._read, name="first-lists", daemon=True)
        self._reader.start()

    def endpoint_slices(self) -> bool | None:
        """Discovery's answer as the child found it: whether discovery.k8s.io/v1 is served;
        None when the child could not tell (the server then asks, with its backoff)."""
        self._discovered.wait(DISCOVERY_WAIT)
        return self._slices

    def service_imports(self) -> bool:
        """Whether the child found the ServiceImport CRD served (and listed it); read once
        `endpoint_slices` has answered."""
        return self._imports

    def pages(self, resource: Resource) -> Iterator[Page]:
        """The resource's list as the child sends it; LoaderError when the child failed."""
        pending = self._queue(resource.name)
        while True:
            message = pending.get()
            if message[0] == "page":
                yield message[2], message[3]
            elif message[0] == "listed":
                return
            else:
                raise LoaderError(f"the start-up list failed: {message[2]}")

    def close(self) -> None:
        """Stop the child if it is still listing (the reader then sees the pipe end)."""
        if self._child.is_alive():
            self._child.terminate()

    def _queue(self, name: str) -> queue.SimpleQueue[Any]:
        with self._lock:
            found = self._queues.get(name)
            if found is None:
                found = self._queues[name] = queue.SimpleQueue()
                if self._ended:
                    found.put(("failed", name, self._ended))
            return found

    def _read(self) -> None:
        ended = "the list loader ended before listing it"
        try:
            while True:
                message = self._receiver.recv()
                if message is None:
                    break
                if not isinstance(message, tuple) or not message:
                    raise ValueError(f"unexpected message {type(message).__name__}")
                if message[0] == "discovered":
                    self._slices = message[1]
                    self._imports = len(message) > 3 and bool(message[3])
                    if message[1] is None:
                        log.warning("API discovery from the list loader: %s", message[2])
                    self._discovered.set()
                else:
                    self._queue(message[1]).put(message)
        except (EOFError, OSError):
            ended = "the list loader died"
        except Exception as error:  # whatever it is, every list is then made here
            ended = f"the list loader's pipe failed: {describe_error(error)}"
        finally:
            with self._lock:
                self._ended = ended
                for name, pending in self._queues.items():
                    pending.put(("failed", name, ended))  # read only if it never listed
            self._discovered.set()
            self._receiver.close()
            self._child.join()
