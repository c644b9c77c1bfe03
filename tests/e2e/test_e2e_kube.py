"""svcdns against the fake API server, over real sockets: sync, changes, outages, readiness.

The server is `svcdns serve --kubeconfig ...` pointing at `fakeapi.FakeApiServer`; answers are
checked with dnspython, readiness over HTTP, and what svcdns asked the API in `fake.requests`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import builders
import dns.rcode
import pytest
from builders import endpoint, namespace, port, slice_of
from fakeapi import FakeApiServer
from helpers import SVCDNS, ServerProcess, answer_data, poll

ZONE = "cluster.local"
WEB = f"web.shop.svc.{ZONE}"
DEADLINE = 5.0  # generous for CI; propagation itself is measured in bench/


def service(name: str, ip: str = "None", ns: str = "shop", **spec: Any) -> dict[str, Any]:
    body = {"clusterIP": ip, "clusterIPs": [ip], "ports": [{"name": "http", "port": 80}]}
    return builders.service(name, ns=ns, **(body | spec))


def external(name: str, target: str) -> dict[str, Any]:
    return builders.service(name, type="ExternalName", externalName=target)


def endpoint_slice(name: str, svc: str, *eps: tuple[str, bool, str]) -> dict[str, Any]:
    """Endpoints as (address, ready, hostname or \"\"); the port http 8080/TCP."""
    endpoints = [endpoint(ip, ready=ready, hostname=h) for ip, ready, h in eps]
    return slice_of(svc, name, endpoints, ports=[port("http", 8080)])


def endpoints(name: str, ready: list[str], not_ready: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": name, "namespace": "shop"},
        "subsets": [
            {
                "addresses": [{"ip": ip} for ip in ready],
                "notReadyAddresses": [{"ip": ip} for ip in not_ready],
                "ports": [{"name": "http", "port": 8080}],
            }
        ],
    }


def pod(name: str, ip: str, phase: str = "Running") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"containers": [{"name": "c", "image": "x"}]},
        "status": {"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}]},
    }


class KubeServer(ServerProcess):
    @property
    def ops(self) -> str:
        line = self.wait_for_line(lambda text: "ops on http://" in text, 10)
        assert line is not None, self.stderr_text()
        match = re.search(r"ops on (http://\S+)", line)
        assert match
        return match.group(1)

    def ready_status(self) -> int:
        try:
            with urllib.request.urlopen(f"{self.ops}/ready", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    def a_records(self, name: str) -> list[str]:
        return sorted(answer_data(self.udp(name, "A"), "A"))

    def rcode(self, name: str, rdtype: str = "A") -> int:
        return self.udp(name, rdtype).rcode()


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.start()
    server.apply(namespace("shop"))
    server.apply(service("web", "10.96.100.10"))
    server.apply(service("db"))
    server.apply(endpoint_slice("db-1", "db", ("10.244.2.10", True, "db-0")))
    yield server
    server.stop()


@pytest.fixture
def start(fake: FakeApiServer, tmp_path: Path) -> Iterator[Any]:
    started: list[KubeServer] = []

    def run(*extra: str, synced: bool = True) -> KubeServer:
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        args = [*SVCDNS, "serve", "--kubeconfig", str(kubeconfig), "--listen", "127.0.0.1:0"]
        args += ["--http", "127.0.0.1:0", "--upstream", "none", "--watch-timeout", "30", *extra]
        server = KubeServer(args)
        started.append(server)
        server.wait_ready()
        if synced:
            assert poll(lambda: server.ready_status() == 200, timeout=DEADLINE), (
                server.stderr_text()
            )
        return server

    yield run
    for server in started:
        server.stop()


def eventually(condition: Any, server: ServerProcess, what: str) -> None:
    assert poll(condition, timeout=DEADLINE), f"{what}\n{server.stderr_text()}"


def lists_of(fake: FakeApiServer, resource: str) -> int:
    """LIST requests (not watches) svcdns made for a resource."""
    return sum(
        1
        for method, path in fake.requests
        if method == "GET" and path.split("?")[0].endswith(resource) and "watch=" not in path
    )


def watch_versions(fake: FakeApiServer, resource: str) -> list[str]:
    found = []
    for _, path in fake.requests:
        if path.split("?")[0].endswith(resource) and "watch=true" in path:
            match = re.search(r"resourceVersion=(\d+)", path)
            found.append(match.group(1) if match else "")
    return found


def test_initial_sync_then_create_modify_delete_services(fake: FakeApiServer, start: Any) -> None:
    server = start()
    assert server.a_records(WEB) == ["10.96.100.10"]
    assert server.a_records(f"db-0.db.shop.svc.{ZONE}") == ["10.244.2.10"]
    fake.apply(service("api", "10.96.100.11"))
    eventually(lambda: server.a_records(f"api.shop.svc.{ZONE}") == ["10.96.100.11"], server, "add")
    fake.apply(service("api", "10.96.100.12"))
    eventually(lambda: server.a_records(f"api.shop.svc.{ZONE}") == ["10.96.100.12"], server, "mod")
    fake.delete("Service", "shop", "api")
    eventually(lambda: server.rcode(f"api.shop.svc.{ZONE}") == dns.rcode.NXDOMAIN, server, "delete")
    with urllib.request.urlopen(f"{server.ops}/metrics", timeout=2) as response:
        text = response.read().decode()
    assert 'svcdns_watch_relists_total{resource="services"} 1.0' in text
    assert 'svcdns_watch_restarts_total{resource="services"} 0.0' in text
    # Each watched change was timed from its arrival to being served.
    count = re.search(r'svcdns_programming_duration_seconds_count\{source="api"\} (\S+)', text)
    assert count is not None and float(count.group(1)) >= 3


def test_a_63_character_port_name_arriving_by_watch_costs_only_its_srv_record(
    fake: FakeApiServer, start: Any
) -> None:
    """Issue 13, fault 1: the Service used to vanish (its encoding raised in the batch)."""
    server = start()
    long_port = {"name": "p" * 63, "port": 8443, "protocol": "TCP"}
    ports = [long_port, {"name": "http", "port": 80, "protocol": "TCP"}]
    fake.apply(service("api", "10.96.100.11", ports=ports))
    fake.apply(service("marker", "10.96.100.12"))  # applied after api: api's turn has come
    eventually(
        lambda: server.a_records(f"marker.shop.svc.{ZONE}") == ["10.96.100.12"], server, "marker"
    )
    assert server.a_records(f"api.shop.svc.{ZONE}") == ["10.96.100.11"]
    srv = server.udp(f"_http._tcp.api.shop.svc.{ZONE}", "SRV")
    assert answer_data(srv, "SRV") == [f"0 100 80 api.shop.svc.{ZONE}."]
    assert server.a_records(WEB) == ["10.96.100.10"]
    said = "Service shop/api: 1 record(s) left out"
    # stderr is read by a thread of the test: wait for the line, then count it.
    eventually(lambda: server.count_lines(lambda line: said in line) >= 1, server, "left out")
    assert server.count_lines(lambda line: said in line) == 1


def test_endpoint_turning_ready_and_back(fake: FakeApiServer, start: Any) -> None:
    server = start()
    db = f"db.shop.svc.{ZONE}"
    ready, not_ready = ("10.244.2.11", True, ""), ("10.244.2.11", False, "")
    db0 = ("10.244.2.10", True, "db-0")
    fake.apply(service("marker"))
    fake.apply(endpoint_slice("db-1", "db", db0, not_ready))
    # Slice events arrive in order: once the marker's slice is served, db's change is too.
    fake.apply(endpoint_slice("marker-1", "marker", ("10.244.9.9", True, "")))
    eventually(lambda: server.rcode(f"marker.shop.svc.{ZONE}") == 0, server, "marker")
    assert server.a_records(db) == ["10.244.2.10"]  # without the not-ready address
    fake.apply(endpoint_slice("db-1", "db", db0, ready))
    eventually(lambda: server.a_records(db) == ["10.244.2.10", "10.244.2.11"], server, "ready")
    fake.apply(endpoint_slice("db-1", "db", db0, not_ready))
    eventually(lambda: server.a_records(db) == ["10.244.2.10"], server, "not ready again")
    fake.delete("EndpointSlice", "shop", "db-1")
    eventually(lambda: server.rcode(db) == dns.rcode.NXDOMAIN, server, "no endpoints: NXDOMAIN")


def test_external_name_changed_to_cluster_ip(fake: FakeApiServer, start: Any) -> None:
    fake.apply(external("ext", "www.example.com"))
    server = start()
    reply = server.udp(f"ext.shop.svc.{ZONE}", "A")
    assert [rrset.to_text() for rrset in reply.answer] == [
        f"ext.shop.svc.{ZONE}. 5 IN CNAME www.example.com."
    ]
    fake.apply(service("ext", "10.96.100.50"))
    eventually(lambda: server.a_records(f"ext.shop.svc.{ZONE}") == ["10.96.100.50"], server, "ip")


def test_namespaces_decide_nodata_or_nxdomain(fake: FakeApiServer, start: Any) -> None:
    server = start()
    assert server.rcode(f"empty.svc.{ZONE}") == dns.rcode.NXDOMAIN
    fake.apply(namespace("empty"))
    eventually(lambda: server.rcode(f"empty.svc.{ZONE}") == dns.rcode.NOERROR, server, "ns add")
    fake.delete("Namespace", None, "empty")
    eventually(lambda: server.rcode(f"empty.svc.{ZONE}") == dns.rcode.NXDOMAIN, server, "ns del")


def test_pods_are_watched_with_pods_verified(fake: FakeApiServer, start: Any) -> None:
    fake.apply(pod("web-0", "10.244.1.10"))
    fake.apply(pod("done", "10.244.1.99", phase="Succeeded"))
    server = start("--pods", "verified")
    assert server.a_records(f"10-244-1-10.shop.pod.{ZONE}") == ["10.244.1.10"]
    assert server.rcode(f"10-244-1-99.shop.pod.{ZONE}") == dns.rcode.NXDOMAIN
    fake.apply(pod("web-1", "10.244.1.11"))
    eventually(
        lambda: server.a_records(f"10-244-1-11.shop.pod.{ZONE}") == ["10.244.1.11"], server, "pod"
    )
    pod_requests = [p for _, p in fake.requests if p.startswith("/api/v1/pods")]
    assert pod_requests and all("status.phase%21%3DSucceeded" in p for p in pod_requests)


def test_pods_are_not_watched_by_default(fake: FakeApiServer, start: Any) -> None:
    start()
    assert not [p for _, p in fake.requests if p.startswith("/api/v1/pods")]


def test_relist_after_410_removes_objects_deleted_during_the_gap(
    fake: FakeApiServer, start: Any
) -> None:
    fake.apply(service("gone", "10.96.100.60"))
    server = start()
    assert server.a_records(f"gone.shop.svc.{ZONE}") == ["10.96.100.60"]
    lists_before = lists_of(fake, "/services")
    fake.go_down()
    fake.delete("Service", "shop", "gone")
    fake.compact()
    assert server.a_records(f"gone.shop.svc.{ZONE}") == ["10.96.100.60"]  # last known state
    fake.come_up()
    eventually(
        lambda: server.rcode(f"gone.shop.svc.{ZONE}") == dns.rcode.NXDOMAIN, server, "relisted"
    )
    assert lists_of(fake, "/services") > lists_before
    assert server.a_records(WEB) == ["10.96.100.10"]


def test_dropped_stream_resumes_without_relisting(fake: FakeApiServer, start: Any) -> None:
    server = start()
    lists_before = lists_of(fake, "/services")
    fake.drop_watches()
    fake.apply(service("late", "10.96.100.70"))
    eventually(lambda: server.a_records(f"late.shop.svc.{ZONE}") == ["10.96.100.70"], server, "x")
    assert lists_of(fake, "/services") == lists_before
    versions = watch_versions(fake, "/services")
    assert len(versions) >= 2 and versions[-1] == versions[0]  # resumed from where it was


def test_bookmark_advances_the_resource_version(fake: FakeApiServer, start: Any) -> None:
    server = start()
    first = watch_versions(fake, "/services")[0]
    fake.apply(namespace("other"))  # moves the global RV; services watch sees no event
    target = str(fake.resource_version)
    wait = 0.1

    def rewatched_past_first() -> bool:
        # A bookmark, time for it to reach svcdns, then the stream cut: svcdns must watch
        # again from the bookmark's version. The time given doubles each try (a loaded
        # machine may need more than the first); a server that ignored bookmarks would
        # watch again from `first` every time, and the poll would fail.
        nonlocal wait
        seen = len(watch_versions(fake, "/services"))
        fake.send_bookmarks()
        time.sleep(wait)
        wait *= 2
        fake.drop_watches()
        assert poll(lambda: len(watch_versions(fake, "/services")) > seen, timeout=DEADLINE)
        return watch_versions(fake, "/services")[-1] != first

    eventually(rewatched_past_first, server, "rewatch from the bookmark's version")
    assert int(watch_versions(fake, "/services")[-1]) > int(first)
    assert int(watch_versions(fake, "/services")[-1]) <= int(target)


def test_servfail_not_nxdomain_and_not_ready_before_sync(fake: FakeApiServer, start: Any) -> None:
    fake.fail_next("/apis/discovery.k8s.io/v1/endpointslices", 503, count=1000)
    server = start("--startup-timeout", "60", synced=False)
    eventually(lambda: server.a_records(WEB) == ["10.96.100.10"], server, "services listed")
    assert server.ready_status() == 503
    assert server.rcode(f"nosuch.shop.svc.{ZONE}") == dns.rcode.SERVFAIL
    fake.clear_faults()
    eventually(lambda: server.ready_status() == 200, server, "ready after the list")
    assert server.rcode(f"nosuch.shop.svc.{ZONE}") == dns.rcode.NXDOMAIN


def test_startup_timeout_serves_unsynced(fake: FakeApiServer, start: Any) -> None:
    fake.fail_next("/apis/discovery.k8s.io/v1/endpointslices", 503, count=1000)
    server = start("--startup-timeout", "0.5", synced=False)
    eventually(
        lambda: server.rcode(f"nosuch.shop.svc.{ZONE}") == dns.rcode.NXDOMAIN, server, "timeout"
    )
    assert server.ready_status() == 503
    line = server.wait_for_line(lambda line: "not synced after" in line, 1)
    assert line is not None and "(waiting for endpointslices)" in line  # never an empty list


def test_api_outage_keeps_serving_and_catches_up(fake: FakeApiServer, start: Any) -> None:
    server = start()
    fake.go_down()
    for _ in range(5):
        assert server.a_records(WEB) == ["10.96.100.10"]
    fake.apply(service("web", "10.96.100.99"))
    fake.come_up()
    eventually(lambda: server.a_records(WEB) == ["10.96.100.99"], server, "caught up")
    assert server.ready_status() == 200


def test_endpoints_fallback_without_discovery(fake: FakeApiServer, start: Any) -> None:
    fake.set_discovery_endpointslices(False)
    fake.apply(endpoints("legacy", ["10.244.4.1"], ["10.244.4.2"]))
    fake.apply(service("legacy"))
    server = start()
    assert server.a_records(f"legacy.shop.svc.{ZONE}") == ["10.244.4.1"]
    assert server.wait_for_line(lambda line: "core/v1 Endpoints" in line, 1)


def test_labels_and_namespaces_limit_what_is_watched(fake: FakeApiServer, start: Any) -> None:
    fake.apply(namespace("tools"))
    fake.apply(service("api", "10.96.200.5", ns="tools"))
    labelled = service("web", "10.96.100.10")
    labelled["metadata"]["labels"] = {"dns": "yes"}
    fake.apply(labelled)
    server = start("--namespaces", "shop", "--labels", "dns=yes")
    assert server.a_records(WEB) == ["10.96.100.10"]
    assert server.rcode(f"api.tools.svc.{ZONE}") == dns.rcode.NXDOMAIN
    assert server.rcode(f"db.shop.svc.{ZONE}") == dns.rcode.NXDOMAIN  # no dns=yes label
    paths = [p for _, p in fake.requests if "services" in p]
    assert paths and all(p.startswith("/api/v1/namespaces/shop/services") for p in paths)
    namespace_lists = [p for _, p in fake.requests if p.startswith("/api/v1/namespaces?")]
    assert namespace_lists and all("metadata.name%3Dshop" in p for p in namespace_lists)


def test_bad_kubeconfig_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nclusters: []\n")
    result = subprocess.run(
        [*SVCDNS, "serve", "--kubeconfig", str(broken), "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"svcdns: {broken}: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_api_config_says_what_was_tried(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "svcdns", "serve", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "KUBERNETES_SERVICE_HOST" in line and str(tmp_path / ".kube" / "config") in line


def mirrored_slice(legacy: dict[str, Any]) -> dict[str, Any]:
    """What the endpointslice-mirroring controller makes of a selector-less Service's Endpoints:
    a real cluster serves it as an EndpointSlice, which the fake API does not do by itself."""
    name = legacy["metadata"]["name"]
    (subset,) = legacy["subsets"]
    eps = [
        (a["ip"], ready, a.get("hostname", ""))
        for key, ready in (("addresses", True), ("notReadyAddresses", False))
        for a in subset.get(key, [])
    ]
    mirrored = endpoint_slice(f"{name}-mirrored", name, *eps)
    mirrored["ports"] = subset["ports"]
    return mirrored


def test_api_and_manifests_sources_serve_identical_records(
    fake: FakeApiServer, tmp_path: Path
) -> None:
    import yaml

    example = Path(__file__).resolve().parents[2] / "examples" / "cluster.yaml"
    for name in ("web", "db"):  # the fixture's own objects are not in the example
        fake.delete("Service", "shop", name)
    fake.delete("EndpointSlice", "shop", "db-1")
    kinds = {"Namespace", "Service", "EndpointSlice", "Endpoints", "Pod"}
    for item in yaml.safe_load(example.read_text())["items"]:
        if item["kind"] in kinds:
            fake.apply(item)
        if item["kind"] == "Endpoints":
            fake.apply(mirrored_slice(item))
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")

    def records(*source: str) -> list[str]:
        result = subprocess.run(
            [*SVCDNS, "records", *source], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return [line for line in result.stdout.splitlines() if "\tSOA\t" not in line]

    from_api = records("--kubeconfig", str(kubeconfig))
    assert len(from_api) > 50
    assert from_api == records("--manifests", str(example))

    # `svcdns explain` reads the live cluster the same way.
    explained = subprocess.run(
        [*SVCDNS, "explain", f"db.shop.svc.{ZONE}", "--kubeconfig", str(kubeconfig)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert explained.returncode == 0, explained.stderr
    assert ";; Service shop/db is headless (clusterIP: None)." in explained.stdout
    assert "10.244.2.10 (pod db-0)" in explained.stdout


def test_api_connections_use_tcp_keepalive(fake: FakeApiServer, tmp_path: Path) -> None:
    import socket

    from svcdns.sources.kube import RawApi, api_client

    api = RawApi(api_client(fake.write_kubeconfig(tmp_path / "kubeconfig"), None))
    options = api._pool.connection_pool_kw["socket_options"]
    assert (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1) in options
    assert (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30) in options
    assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in options  # urllib3's default kept


def test_tls_api_server_with_its_ca(tmp_path: Path) -> None:
    from fakeapi import tls_available

    if not tls_available():
        pytest.skip("neither the cryptography package nor openssl can make a certificate")
    fake = FakeApiServer(tls=True)
    fake.start()
    server = None
    try:
        fake.apply(namespace("shop"))
        fake.apply(service("web", "10.96.100.10"))
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        args = [*SVCDNS, "serve", "--kubeconfig", str(kubeconfig), "--listen", "127.0.0.1:0"]
        server = KubeServer([*args, "--http", "127.0.0.1:0", "--upstream", "none"])
        server.wait_ready()
        eventually(lambda: server.ready_status() == 200, server, "synced over TLS")
        assert server.a_records(WEB) == ["10.96.100.10"]
    finally:
        if server is not None:
            server.stop()
        fake.stop()


def test_rejected_token_is_retried_and_never_ready(fake: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    kubeconfig.write_text(kubeconfig.read_text().replace(fake.token, "wrong-token"))
    args = [*SVCDNS, "serve", "--kubeconfig", str(kubeconfig), "--listen", "127.0.0.1:0"]
    server = KubeServer([*args, "--http", "127.0.0.1:0", "--upstream", "none"])
    try:
        server.wait_ready()
        assert server.wait_for_line(lambda line: "HTTP 401" in line, 5), server.stderr_text()
        assert server.wait_for_line(lambda line: "retrying in" in line, 5)
        assert server.ready_status() == 503
        assert server.rcode(f"nosuch.shop.svc.{ZONE}") == dns.rcode.SERVFAIL
    finally:
        server.stop()
