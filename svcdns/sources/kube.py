"""The Kubernetes API source: connection, raw GETs, and one watch thread per resource.

The only module importing `kubernetes`, and only in a short-lived child process: the
official client reads the kubeconfig or in-cluster configuration there (it costs about
25 MB resident just to import) and hands back plain connection settings; GETs then go
through urllib3, the HTTP library that client uses itself. Raw JSON is converted straight
into the slim model. The list/watch loop itself is in `watch`.
"""

from __future__ import annotations

import atexit
import dataclasses
import gc
import json
import logging
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3

from svcdns.sources import KubeConfigError
from svcdns.sources.firstlists import FirstLists, ListPlan, send_lists
from svcdns.sources.watch import (
    MCS_API,
    ApiError,
    Backoff,
    EventSink,
    Gone,
    Resource,
    ResourceWatch,
    describe_error,
    resources,
)

log = logging.getLogger("svcdns.kube")

CONNECT_TIMEOUT = 5.0
TOKEN_REREAD = 60.0  # seconds: a projected service-account token is rotated by the kubelet
SHARED_MEMORY = "/dev/shm"  # a tmpfs in every container, writable when / is not
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")  # the client's
RELOAD_AFTER_401 = 60.0  # seconds between re-reads of the configuration on 401
KEEPALIVE_OPTIONS = [
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    *(
        (socket.IPPROTO_TCP, getattr(socket, option), value)
        for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))
        if hasattr(socket, option)
    ),
]


@dataclass(frozen=True, slots=True)
class ApiConnection:
    """How to reach the API server: what the official client's configuration amounts to."""

    host: str
    verify: bool = True
    ca_pem: bytes = b""
    client_cert_pem: bytes = b""
    client_key_pem: bytes = b""
    token: str = ""  # "Bearer ..." as the client would send it
    token_file: str = ""  # in-cluster: re-read, since the kubelet rotates it
    server_name: str = ""  # tls-server-name
    proxy: str = ""
    # Where it came from, to read it again when the server says 401.
    kubeconfig: str = ""
    context: str = ""


def api_client(
    kubeconfig: Path | None, context: str | None, *, start: str = "fork"
) -> ApiConnection:
    """`--kubeconfig`, else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.

    Read by the official client in a child process (see the module docstring), forked at
    start-up; `start="spawn"` once threads run (a fork could inherit a lock held by one)."""
    return connect(kubeconfig, context, None, start=start)[0]


def connect(
    kubeconfig: Path | None, context: str | None, plan: ListPlan | None, *, start: str = "fork"
) -> tuple[ApiConnection, FirstLists | None]:
    """The connection settings, as `api_client`; with a `plan`, the child that read them
    goes on to discover and list what the plan asks (see `firstlists`), and its pipe is
    returned to read the pages from. Where fork is not available, the server lists alone."""
    default = Path(os.path.expanduser("~/.kube/config"))
    if kubeconfig is None and not os.environ.get("KUBERNETES_SERVICE_HOST"):
        if not default.exists():
            raise KubeConfigError(
                "no Kubernetes API to watch: no --manifests or --kubeconfig, "
                "KUBERNETES_SERVICE_HOST is not set (not in a cluster), "
                f"and {default} does not exist"
            )
        kubeconfig = default
    try:
        processes = (
            multiprocessing.get_context("spawn")
            if start == "spawn"
            else multiprocessing.get_context("fork")
        )
    except ValueError:
        return _read_configuration(kubeconfig, context), None
    if start == "spawn":
        plan = None  # threads run: the lists are made by the watch loops
    receiver, sender = processes.Pipe(duplex=False)
    child = processes.Process(
        target=_configuration_child, args=(kubeconfig, context, sender, plan), daemon=True
    )
    child.start()
    sender.close()
    try:
        result = receiver.recv()
    except EOFError:
        result = f"{kubeconfig or 'in-cluster config'}: the configuration reader died"
    if isinstance(result, ApiConnection) and plan is not None:
        return result, FirstLists(receiver, child)
    receiver.close()
    child.join()
    if isinstance(result, str):
        raise KubeConfigError(result)
    assert isinstance(result, ApiConnection)
    return result, None


def _configuration_child(
    kubeconfig: Path | None, context: str | None, sender: Pipe, plan: ListPlan | None
) -> None:
    try:
        try:
            connection = _read_configuration(kubeconfig, context)
        except KubeConfigError as error:
            sender.send(str(error))
            return
        sender.send(connection)
        if plan is not None:
            _first_lists(RawApi(connection), plan, sender)
    except (BrokenPipeError, EOFError):
        pass  # the server is gone or stopped listening: nothing to hand over
    finally:
        sender.close()


def _first_lists(api: RawApi, plan: ListPlan, sender: Pipe) -> None:
    """In the child: discovery, then every list; the collector stays off (nothing lives
    longer than a page here, and the process ends with the lists)."""
    gc.disable()
    try:
        slices = offers_endpoint_slices(api)
        imports = plan.multicluster and offers_service_imports(api)
    except Exception as error:
        sender.send(("discovered", None, describe_error(error)))
        return
    sender.send(("discovered", slices, "", imports))
    wanted = plan.resources(endpoint_slices=slices, service_imports=imports)
    send_lists(api, wanted, sender.send)


def usable_tempdir() -> None:
    """Make sure tempfile has somewhere to write, for certificates given inline.

    The client writes a kubeconfig's `certificate-authority-data` and client key data to
    temporary files, and urllib3 reads client certificates from files. With a read-only root
    filesystem (`docker run --read-only`, the Deployment) /tmp is not writable, but /dev/shm
    is a private tmpfs in every container: use it rather than fail.
    """
    try:
        tempfile.gettempdir()
    except FileNotFoundError:
        if os.access(SHARED_MEMORY, os.W_OK | os.X_OK):
            tempfile.tempdir = SHARED_MEMORY
        else:
            raise


def in_cluster(
    environ: Mapping[str, str] = os.environ, folder: Path = SERVICE_ACCOUNT
) -> ApiConnection | None:
    """The in-cluster configuration (a Deployment's), read as the official client's
    InClusterConfigLoader reads it but without importing the client, which is most of the
    0.15-0.2 s before the first list can start: the host from KUBERNETES_SERVICE_HOST and
    _PORT (an IPv6 address in brackets), "bearer " and the service account's token as
    written, its CA. None when anything is missing or empty: the client then reads it and
    says what is wrong, in its words."""
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    token_file, ca_file = folder / "token", folder / "ca.crt"
    try:
        token = token_file.read_text()  # as the client opens it: text, universal newlines
        ca_text, ca_pem = ca_file.read_text(), ca_file.read_bytes()
    except (OSError, ValueError):
        return None
    if not host or not port or not token or not ca_text:
        return None
    address = f"[{host}]" if ":" in host or "%" in host else host
    return ApiConnection(
        host=f"https://{address}:{port}",
        ca_pem=ca_pem,
        token=f"bearer {token}",
        token_file=str(token_file),
    )


def _read_configuration(kubeconfig: Path | None, context: str | None) -> ApiConnection:
    if kubeconfig is None:
        connection = in_cluster()
        if connection is not None:
            return dataclasses.replace(connection, context=context or "")
    from kubernetes import client, config  # here only: see the module docstring

    usable_tempdir()
    configuration = client.Configuration()
    token_file = ""
    try:
        if kubeconfig is not None:
            config.load_kube_config(
                config_file=str(kubeconfig), context=context, client_configuration=configuration
            )
        else:
            config.load_incluster_config(client_configuration=configuration)
            token_file = config.incluster_config.SERVICE_TOKEN_FILENAME
        # The key the client's "BearerToken" auth setting reads (older clients: authorization).
        token = (
            configuration.get_api_key_with_prefix("BearerToken")
            or configuration.get_api_key_with_prefix("authorization")
            or ""
        )
        return ApiConnection(
            host=configuration.host,
            verify=bool(configuration.verify_ssl),
            ca_pem=_read(configuration.ssl_ca_cert),
            client_cert_pem=_read(configuration.cert_file),
            client_key_pem=_read(configuration.key_file),
            token=token,
            token_file=token_file,
            server_name=getattr(configuration, "tls_server_name", None) or "",
            proxy=configuration.proxy or "",
            kubeconfig=str(kubeconfig or ""),
            context=context or "",
        )
    except (config.ConfigException, OSError, ValueError, TypeError) as error:
        where = kubeconfig or "in-cluster config"
        raise KubeConfigError(f"{where}: {' '.join(str(error).split())}") from None


def _read(path: str | None) -> bytes:
    return Path(path).read_bytes() if path else b""


class RawApi:
    """GET requests to the API server, answered as raw JSON or a line stream."""

    def __init__(self, connection: ApiConnection) -> None:
        self._lock = threading.Lock()
        self._files = ""
        self._connect(connection)

    def _connect(self, connection: ApiConnection) -> None:
        self.connection = connection
        self._token = connection.token
        self._token_read = time.monotonic()
        options: dict[str, Any] = {
            # One connection per watch thread, and some for lists: never "pool full" discards.
            "maxsize": 64,
            # A watch on an idle resource may rightly stay silent for its whole timeout, so a
            # dead connection (API server node gone, NAT state dropped) is found by TCP
            # keepalive: probed after 30 s idle, given up after 3 unanswered probes 10 s apart.
            "socket_options": [
                *urllib3.connection.HTTPConnection.default_socket_options,
                *KEEPALIVE_OPTIONS,
            ],
            "retries": False,
        }
        if connection.host.startswith("https"):
            options["cert_reqs"] = "CERT_REQUIRED" if connection.verify else "CERT_NONE"
            if connection.ca_pem:
                options["ca_cert_data"] = connection.ca_pem.decode("ascii")
            if connection.client_cert_pem:
                options["cert_file"], options["key_file"] = self._key_files(connection)
            if connection.server_name:
                options["server_hostname"] = connection.server_name
        if connection.proxy:
            self._pool: urllib3.PoolManager = urllib3.ProxyManager(connection.proxy, **options)
        else:
            self._pool = urllib3.PoolManager(**options)

    def _key_files(self, connection: ApiConnection) -> tuple[str, str]:
        """urllib3 loads a client certificate from files: a private folder, removed at exit."""
        if not self._files:
            usable_tempdir()
            self._files = tempfile.mkdtemp(prefix="svcdns-")
            atexit.register(shutil.rmtree, self._files, True)
        cert, key = Path(self._files, "client.crt"), Path(self._files, "client.key")
        for path, data in ((cert, connection.client_cert_pem), (key, connection.client_key_pem)):
            path.touch(mode=0o600)
            path.write_bytes(data)
        return str(cert), str(key)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        connection = self.connection
        if connection.token_file and time.monotonic() - self._token_read > TOKEN_REREAD:
            try:
                token = Path(connection.token_file).read_text(encoding="ascii").strip()
                self._token = f"Bearer {token}"
            except OSError as error:
                log.warning("cannot re-read %s: %s", connection.token_file, error)
            self._token_read = time.monotonic()
        if self._token:
            headers["Authorization"] = self._token
        return headers

    def _reload_after_401(self) -> None:
        """A token from an exec plugin or a rotated file may have expired: read it again."""
        connection = self.connection
        with self._lock:
            if time.monotonic() - self._token_read < RELOAD_AFTER_401:
                return
            self._token_read = time.monotonic()
            try:
                kubeconfig = Path(connection.kubeconfig) if connection.kubeconfig else None
                self._connect(api_client(kubeconfig, connection.context or None, start="spawn"))
            except KubeConfigError as error:
                log.warning("re-reading the API configuration after 401: %s", error)

    def _get(self, path: str, query: dict[str, Any], read_timeout: float) -> Any:
        params = {k: v for k, v in query.items() if v not in (None, "")}
        url = self.connection.host.rstrip("/") + path
        if params:
            url += "?" + urlencode(params)
        response = self._pool.request(
            "GET",
            url,
            headers=self._headers(),
            preload_content=False,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=read_timeout),
        )
        if response.status == 410:
            response.release_conn()
            raise Gone(path)
        if not 200 <= response.status < 300:
            body = response.read()
            response.release_conn()
            if response.status == 401:
                self._reload_after_401()
            raise ApiError(response.status, _status_message(body))
        return response

    def get_json(self, path: str, query: dict[str, Any], *, read_timeout: float = 30.0) -> Any:
        response = self._get(path, query, read_timeout)
        try:
            return json.loads(response.read())
        finally:
            response.release_conn()

    def stream(self, path: str, query: dict[str, Any], *, read_timeout: float) -> Iterator[bytes]:
        """The lines of a watch; a chunk can end mid-line, so lines are re-assembled here."""
        response = self._get(path, query, read_timeout)
        pending = b""
        try:
            for chunk in response.stream(65536, decode_content=False):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from (line for line in lines if line.strip())
        finally:
            response.release_conn()


def _status_message(body: bytes) -> str:
    try:
        status = json.loads(body)
        return f"{status.get('reason', '')}: {status.get('message', '')}".strip(": ")
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()


def offers_endpoint_slices(api: RawApi) -> bool:
    """API discovery: is discovery.k8s.io/v1 served? (Endpoints are the fallback.)"""
    try:
        api.get_json("/apis/discovery.k8s.io/v1", {})
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True


def offers_service_imports(api: RawApi) -> bool:
    """API discovery: is the MCS API's ServiceImport CRD installed? Usually not: its group
    is then an unknown one, a 404."""
    try:
        api.get_json(MCS_API, {})
    except ApiError as error:
        if error.status == 404:
            return False
        raise
    return True


MULTICLUSTER_OFF = (
    "multicluster is off: the ServiceImport CRD (multicluster.x-k8s.io/v1alpha1) is not "
    "installed, so the clusterset zone has no import (a restart reads it again)"
)


class KubeSource:
    """Runs one ResourceWatch thread per resource and reports when all have listed once.

    `sink` and `on_synced` are called from the watch threads; the caller makes them
    thread-safe (cli hands them to the event loop with call_soon_threadsafe).
    """

    def __init__(
        self,
        api: ApiConnection,
        *,
        namespaces: frozenset[str] | None,
        labels: str,
        pods: bool,
        watch_timeout: int = 300,
        first_lists: FirstLists | None = None,
        multicluster: bool = False,
    ) -> None:
        self.api = RawApi(api)
        self.multicluster = multicluster  # --multicluster: ServiceImports, if served
        self.first_lists = first_lists  # the start-up child's lists, when it makes them
        self.namespaces = namespaces
        self.labels = labels
        self.pods = pods
        self.watch_timeout = watch_timeout
        self.stop = threading.Event()
        self.watches: list[ResourceWatch] = []
        self.unsynced: set[str] = {"discovery"}
        self._lock = threading.Lock()

    def start(self, sink: EventSink, on_synced: Callable[[], None]) -> None:
        def listed(resource: Resource) -> None:
            with self._lock:
                was_pending = bool(self.unsynced)
                self.unsynced.discard(resource.name)
                done = was_pending and not self.unsynced
            if done:
                on_synced()

        first = self.first_lists
        if first is not None:
            first.start()

        def discover_then_watch() -> None:
            backoff = Backoff()
            slices = None if first is None else first.endpoint_slices()
            preloaded = slices is not None  # the child lists what its discovery found
            imports = first is not None and preloaded and first.service_imports()
            while slices is None and not self.stop.is_set():
                try:
                    slices = offers_endpoint_slices(self.api)
                    imports = self.multicluster and offers_service_imports(self.api)
                    break
                except Exception as error:
                    delay = backoff.next()
                    log.warning(
                        "API discovery: %s; retrying in %.1f s", describe_error(error), delay
                    )
                    self.stop.wait(delay)
            if slices is None:
                return
            if not slices:
                log.info("discovery.k8s.io/v1 is not served: watching core/v1 Endpoints")
            if self.multicluster and not imports:
                log.warning(MULTICLUSTER_OFF)  # once: discovery runs once
            wanted = resources(
                endpoint_slices=slices,
                namespaces=self.namespaces,
                labels=self.labels,
                pods=self.pods,
                service_imports=imports,
            )
            with self._lock:
                self.unsynced = {r.name for r in wanted}
            for resource in wanted:
                with self._lock:  # a SIGHUP's new watch timeout reaches this watch too
                    watch = ResourceWatch(
                        self.api,
                        resource,
                        sink,
                        on_listed=listed,
                        stop=self.stop,
                        watch_timeout=self.watch_timeout,
                        preloaded=first.pages(resource) if first and preloaded else None,
                    )
                    self.watches.append(watch)
                threading.Thread(
                    target=watch.run, name=f"watch-{resource.name}", daemon=True
                ).start()

        threading.Thread(target=discover_then_watch, name="discovery", daemon=True).start()

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self.unsynced)

    def set_watch_timeout(self, seconds: int) -> None:
        """SIGHUP: each watch asks for `seconds` from its next request on; the request
        under way keeps the timeout it was made with."""
        with self._lock:
            self.watch_timeout = seconds  # for the watches discovery has yet to start
            for watch in self.watches:
                watch.watch_timeout = seconds

    def close(self) -> None:
        self.stop.set()
        if self.first_lists is not None:
            self.first_lists.close()
