"""The Kubernetes API source: connection, raw GETs, and one watch thread per resource.

The only module importing `kubernetes`. Raw JSON is read (`_preload_content=False`) and
converted straight into the slim model; the client's model objects are never built. The
list/watch loop itself is in `watch`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config

from svcdns.sources import KubeConfigError
from svcdns.sources.watch import (
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
KEEPALIVE_OPTIONS = [
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
    *(
        (socket.IPPROTO_TCP, getattr(socket, option), value)
        for option, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))
        if hasattr(socket, option)
    ),
]


def api_client(kubeconfig: Path | None, context: str | None) -> Any:
    """`--kubeconfig`, else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config."""
    configuration = client.Configuration()
    default = Path(os.path.expanduser("~/.kube/config"))
    try:
        if kubeconfig is not None:
            config.load_kube_config(
                config_file=str(kubeconfig), context=context, client_configuration=configuration
            )
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=configuration)
        elif default.exists():
            config.load_kube_config(
                config_file=str(default), context=context, client_configuration=configuration
            )
        else:
            raise KubeConfigError(
                "no Kubernetes API to watch: no --manifests or --kubeconfig, "
                "KUBERNETES_SERVICE_HOST is not set (not in a cluster), "
                f"and {default} does not exist"
            )
    except (config.ConfigException, OSError, ValueError, TypeError) as error:
        where = kubeconfig or ("in-cluster config" if kubeconfig is None else default)
        raise KubeConfigError(f"{where}: {' '.join(str(error).split())}") from None
    # A watch on an idle resource may rightly stay silent for its whole timeout, so a dead
    # connection (API server node gone, NAT state dropped) is found by TCP keepalive:
    # probed after 30 s idle, given up after 3 unanswered probes 10 s apart.
    configuration.socket_options = [
        *urllib3.connection.HTTPConnection.default_socket_options,
        *KEEPALIVE_OPTIONS,
    ]
    # One connection per watch thread, and some for lists: never "pool full" discards.
    configuration.connection_pool_maxsize = 64
    return client.ApiClient(configuration)


class RawApi:
    """GET requests through the official client, answered as raw JSON or a line stream."""

    def __init__(self, api: Any) -> None:
        self._api = api

    def _get(self, path: str, query: dict[str, Any], read_timeout: float) -> Any:
        params = self._api.param_serialize(
            "GET",
            path,
            query_params=[(k, v) for k, v in query.items() if v not in (None, "")],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(
                *params, _request_timeout=(CONNECT_TIMEOUT, read_timeout)
            ).response
        except client.ApiException as error:
            raise ApiError(error.status or 0, str(error.reason)) from None
        if response.status == 410:
            response.release_conn()
            raise Gone(path)
        if not 200 <= response.status < 300:
            body = response.read()
            response.release_conn()
            raise ApiError(response.status, _status_message(body))
        return response

    def get_json(self, path: str, query: dict[str, Any], *, read_timeout: float = 30.0) -> Any:
        response = self._get(path, query, read_timeout)
        try:
            return json.loads(response.data)
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


class KubeSource:
    """Runs one ResourceWatch thread per resource and reports when all have listed once.

    `sink` and `on_synced` are called from the watch threads; the caller makes them
    thread-safe (cli hands them to the event loop with call_soon_threadsafe).
    """

    def __init__(
        self,
        api: Any,
        *,
        namespaces: frozenset[str] | None,
        labels: str,
        pods: bool,
        watch_timeout: int = 300,
    ) -> None:
        self.api = RawApi(api)
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

        def discover_then_watch() -> None:
            backoff = Backoff()
            while not self.stop.is_set():
                try:
                    slices = offers_endpoint_slices(self.api)
                    break
                except Exception as error:
                    delay = backoff.next()
                    log.warning(
                        "API discovery: %s; retrying in %.1f s", describe_error(error), delay
                    )
                    self.stop.wait(delay)
            else:
                return
            if not slices:
                log.info("discovery.k8s.io/v1 is not served: watching core/v1 Endpoints")
            wanted = resources(
                endpoint_slices=slices,
                namespaces=self.namespaces,
                labels=self.labels,
                pods=self.pods,
            )
            with self._lock:
                self.unsynced = {r.name for r in wanted}
            for resource in wanted:
                watch = ResourceWatch(
                    self.api,
                    resource,
                    sink,
                    on_listed=listed,
                    stop=self.stop,
                    watch_timeout=self.watch_timeout,
                )
                self.watches.append(watch)
                threading.Thread(
                    target=watch.run, name=f"watch-{resource.name}", daemon=True
                ).start()

        threading.Thread(target=discover_then_watch, name="discovery", daemon=True).start()

    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self.unsynced)

    def close(self) -> None:
        self.stop.set()
