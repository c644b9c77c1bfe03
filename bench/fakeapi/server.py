"""FakeApiServer: the fake's face. It owns the listening socket and its thread, the TLS
context, the Store, the faults to inject and the request log; `_serve` authenticates each
request, injects faults, and hands it to `routes` and `resources`.

Its public methods are the whole interface tests and benchmarks use (see the package
docstring); every other module of the package is internal.
"""

from __future__ import annotations

import base64
import json
import pathlib
import shutil
import socket
import ssl
import tempfile
import threading
import time
import urllib.parse
from typing import Any

from . import routes
from .bodies import GENERIC_FAILURES, resource_not_found, status_body, unauthorized
from .httpd import Handler, Server, send, send_status
from .kinds import BY_KIND
from .resources import get_object, list_objects, watch_objects
from .routes import FORBIDDEN_USER
from .store import Store
from .tls import make_certificate
from .watch import hard_shutdown

__all__ = ["FORBIDDEN_USER", "FakeApiServer"]


class FakeApiServer:
    """A kube-apiserver 1.32 look-alike on 127.0.0.1 for Namespaces, Services, Endpoints, Pods
    and EndpointSlices; see the package docstring for what it reproduces."""

    def __init__(self, *, token: str = "test-token", tls: bool = False) -> None:
        self.token = token
        self.tls = tls
        self.url = ""
        self.watch_delay = 0.0
        # Seconds before answering a LIST whose path starts with the key: one list slower
        # than another, to script the order pages of parallel lists arrive in.
        self.list_delays: dict[str, float] = {}
        self.bookmark_rv_per_kind = False
        self.requests: list[tuple[str, str]] = []
        self._store = Store()
        self._lock = self._store.lock  # cluster state, watchers, faults, requests
        self._faults: list[list[Any]] = []
        self._endpoint_slices = True
        self._service_imports = False  # the MCS API's CRD: usually not installed
        self._net_lock = threading.Lock()  # listening socket and connections
        self._connections: set[socket.socket] = set()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._directory: pathlib.Path | None = None
        self._context: ssl.SSLContext | None = None
        self._ca_pem = b""

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port) in a thread; `url` says where."""
        if self._server is not None:
            return
        if self.tls and self._context is None:
            self._directory = pathlib.Path(tempfile.mkdtemp(prefix="fakeapi-"))
            cert, key = make_certificate(self._directory)
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(cert, key)
            self._context.set_alpn_protocols(["http/1.1"])
            self._ca_pem = cert.read_bytes()
        self._listen(0)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._port}"

    def stop(self) -> None:
        """Close the listening socket and every connection (open watches end abruptly)."""
        self.go_down()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def go_down(self) -> None:
        """Stop listening and drop every connection, like a crashed apiserver; state is kept."""
        with self._net_lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self.drop_watches()
        with self._net_lock:
            connections = list(self._connections)
        for connection in connections:
            hard_shutdown(connection)

    def come_up(self) -> None:
        """Listen again on the same port, with the same state."""
        if self._server is not None:
            return
        deadline = time.monotonic() + 5
        while True:
            try:
                self._listen(self._port)
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def _listen(self, port: int) -> None:
        server = Server(port, self, self._context)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fakeapi-{server.server_address[1]}",
            daemon=True,
        )
        with self._net_lock:
            self._server, self._thread = server, thread
            self._port = server.server_address[1]
        thread.start()

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._net_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def __enter__(self) -> FakeApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: pathlib.Path, *, context: str = "fake") -> pathlib.Path:
        """A kubeconfig with one cluster, user (bearer token) and context pointing at `url`."""
        if not self.url:
            raise RuntimeError("start() the server before writing a kubeconfig")
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self._ca_pem).decode()
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }
        path = pathlib.Path(path)
        path.write_text(json.dumps(kubeconfig, indent=2) + "\n", encoding="utf-8")
        return path

    # -- cluster content --------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The global RV: the last write's. It can be moved forward (as if other kinds, not
        served here, had changed), e.g. to reproduce a recording's list RV; never back."""
        with self._lock:
            return self._store.rv

    @resource_version.setter
    def resource_version(self, value: int) -> None:
        self._store.move_rv(value)

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (by kind, namespace, name); the stored object is returned.

        Sets metadata.namespace ("default" when missing, removed for Namespaces), a name from
        generateName, uid and creationTimestamp (kept from the given object, else from the
        replaced one, else new), and resourceVersion: the next global RV, or the given one if
        it is a number above the current RV (to load recorded objects with their RVs).
        """
        return self._store.apply(obj)

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        """Delete an object (KeyError if absent): DELETED with its last state and a new RV."""
        self._store.delete(kind, namespace, name)

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object (a copy), or None."""
        return self._store.get(BY_KIND[kind], namespace or "default", name)

    def encode_lists(self) -> None:
        """Encode every current object as a list item now, so that the first list of a
        server under test costs this process what later ones do (a bench, after loading)."""
        with self._lock:
            for kind, objects in self._store.objects.items():
                for key, obj in objects.items():
                    self._store.encoded_item(kind, key, obj)

    # -- fault injection --------------------------------------------------------------------

    def compact(self) -> None:
        """Forget the history up to now: older RVs get 410 (watch, Exact list, continue)."""
        self._store.compact()

    def drop_watches(self) -> None:
        """Close every open watch connection abruptly (no terminating chunk), like SIGKILL."""
        self._store.drop_watches()

    def send_bookmarks(self) -> None:
        """A BOOKMARK on every watch that asked for them, if newer than its start RV."""
        self._store.send_bookmarks(per_kind=self.bookmark_rv_per_kind)

    def fail_next(self, path_prefix: str, status: int, count: int = 1) -> None:
        """The next `count` requests whose path (with query) starts with `path_prefix` get
        an HTTP `status` with a Status body (watches too: before any event)."""
        with self._lock:
            self._faults.append([path_prefix, status, count])

    def clear_faults(self) -> None:
        """Forget every pending fail_next()."""
        with self._lock:
            self._faults.clear()

    def set_discovery_endpointslices(self, enabled: bool) -> None:
        """Serve discovery.k8s.io (in /apis and under /apis/discovery.k8s.io) or not."""
        with self._lock:
            self._endpoint_slices = enabled

    def set_service_imports_crd(self, installed: bool) -> None:
        """The MCS API's ServiceImport CRD installed (its group served, in /apis too) or
        not (its paths a 404 of an unknown group)."""
        with self._lock:
            self._service_imports = installed

    def _take_fault(self, target: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault[2] > 0 and target.startswith(fault[0]):
                    fault[2] -= 1
                    self._faults = [f for f in self._faults if f[2] > 0]
                    return int(fault[1])
        return None

    # -- request handling ---------------------------------------------------------------------

    def _serve(self, handler: Handler, method: str) -> None:
        target = handler.path
        with self._lock:
            self.requests.append((method, target))
        length = handler.headers.get("Content-Length")
        if length and length.isdigit():
            handler.rfile.read(int(length))
        split = urllib.parse.urlsplit(target)
        path = split.path.rstrip("/") or "/"  # the client asks for /version/, /api/, /apis/
        query: dict[str, str] = {}
        for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            query.setdefault(name, value)
        with self._lock:
            slices, imports = self._endpoint_slices, self._service_imports
        route = routes.route(path, port=self._port, slices=slices, imports=imports)
        watch = routes.flag(query.get("watch"))
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            method, "watch" if watch else "list" if route and route.what == "collection" else "get"
        )
        authorization = handler.headers.get("Authorization")
        handler.anonymous = authorization is None
        fault = self._take_fault(target)
        if fault is not None:
            send_status(handler, routes.injected(fault, route, verb, path))
            return
        if authorization is None:
            if path not in routes.PUBLIC_PATHS:
                resource_route = route if route and route.kind else None
                refused = routes.forbidden(resource_route, verb, path, "system:anonymous")
                send_status(handler, refused)
                return
        else:
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() != "bearer" or credentials.strip() != self.token:
                send_status(handler, unauthorized())
                return
        if route is None or route.what == "text404":
            send(handler, 404, b"404 page not found\n", content_type="text/plain; charset=utf-8")
        elif method != "GET":
            reason, message = GENERIC_FAILURES[405]
            send_status(handler, status_body(405, reason, message))
        elif route.what == "health":
            send(handler, 200, b"ok", content_type="text/plain; charset=utf-8")
        elif route.what in ("version", "discovery"):
            assert route.body is not None
            send(handler, 200, route.body())
        elif route.what == "status404" or route.kind is None:
            send_status(handler, resource_not_found())
        elif route.what == "object":
            assert route.name is not None
            get_object(handler, self._store, route.kind, route.namespace, route.name)
        elif watch:
            watch_objects(
                handler, self._store, route.kind, route.namespace, query, delay=self._watch_delay
            )
        else:
            delay = next((d for p, d in self.list_delays.items() if path.startswith(p)), 0.0)
            if delay > 0:
                time.sleep(delay)
            list_objects(handler, self._store, route.kind, route.namespace, query)

    def _watch_delay(self) -> float:
        return self.watch_delay
