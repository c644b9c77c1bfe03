"""svcdns --multicluster against the fake API server: ServiceImports listed and watched
when their CRD is installed; without it svcdns starts, serves the cluster zone and says
once that multicluster is off (MCS API, KEP 1645; issue 16).

The fake serves the CRD's group only after `set_service_imports_crd(True)`; otherwise its
paths are an unknown group's, a text/plain 404 (shared/k8s-api error-404-unknown-group-path).
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import builders
import dns.rcode
import pytest
from builders import endpoint, import_slice, namespace, port, service_import
from fakeapi import FakeApiServer
from helpers import SVCDNS, ServerProcess, answer_data, poll

CLUSTERSET = "clusterset.local"
WEB = f"web.shop.svc.{CLUSTERSET}"
DB = f"db.shop.svc.{CLUSTERSET}"
LOCAL_WEB = "web.shop.svc.cluster.local"
MCS_GROUP_PATH = "/apis/multicluster.x-k8s.io"
DEADLINE = 5.0
OFF = "multicluster is off"


class KubeServer(ServerProcess):
    def ready_status(self) -> int:
        line = self.wait_for_line(lambda text: "ops on http://" in text, 10)
        assert line is not None, self.stderr_text()
        match = re.search(r"ops on (http://\S+)", line)
        assert match
        try:
            with urllib.request.urlopen(f"{match.group(1)}/ready", timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    def a_records(self, name: str) -> list[str]:
        return sorted(answer_data(self.udp(name, "A"), "A"))


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.start()
    server.apply(namespace("shop"))
    server.apply(builders.cluster_ip_service("web", "10.96.100.10"))
    yield server
    server.stop()


@pytest.fixture
def start(fake: FakeApiServer, tmp_path: Path) -> Iterator[Any]:
    started: list[KubeServer] = []

    def run(*extra: str) -> KubeServer:
        kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        args = [*SVCDNS, "serve", "--kubeconfig", str(kubeconfig), "--listen", "127.0.0.1:0"]
        args += ["--http", "127.0.0.1:0", "--upstream", "none", "--watch-timeout", "30", *extra]
        server = KubeServer(args)
        started.append(server)
        server.wait_ready()
        assert poll(lambda: server.ready_status() == 200, timeout=DEADLINE), server.stderr_text()
        return server

    yield run
    for server in started:
        server.stop()


def eventually(condition: Any, server: ServerProcess, what: str) -> None:
    assert poll(condition, timeout=DEADLINE), f"{what}\n{server.stderr_text()}"


def group_requests(fake: FakeApiServer) -> list[str]:
    return [path for _, path in fake.requests if path.startswith(MCS_GROUP_PATH)]


def test_service_imports_are_listed_then_watched(fake: FakeApiServer, start: Any) -> None:
    fake.set_service_imports_crd(True)
    fake.apply(service_import("web", ips=["10.42.0.10"], ports=[port("http", 80)]))
    fake.apply(service_import("db", ports=[port("mysql", 3306)]))
    mysql = [port("mysql", 3306)]
    fake.apply(
        import_slice("db", "cluster-a", [endpoint("10.1.0.10", hostname="db-0")], ports=mysql)
    )
    server = start("--multicluster", CLUSTERSET)
    assert server.a_records(WEB) == ["10.42.0.10"]
    assert server.a_records(f"db-0.cluster-a.{DB}") == ["10.1.0.10"]
    assert server.a_records(LOCAL_WEB) == ["10.96.100.10"]
    # Watched: a member cluster's slice comes, an import goes.
    fake.apply(
        import_slice("db", "cluster-b", [endpoint("10.2.0.10", hostname="db-0")], ports=mysql)
    )
    eventually(lambda: server.a_records(DB) == ["10.1.0.10", "10.2.0.10"], server, "cluster-b")
    fake.delete("ServiceImport", "shop", "web")
    eventually(lambda: server.udp(WEB, "A").rcode() == dns.rcode.NXDOMAIN, server, "web gone")
    lists = [p for p in group_requests(fake) if "/serviceimports" in p and "watch=" not in p]
    watches = [p for p in group_requests(fake) if "/serviceimports" in p and "watch=true" in p]
    assert lists and watches, fake.requests
    assert server.count_lines(lambda line: OFF in line) == 0


def test_without_the_crd_svcdns_starts_and_says_once_multicluster_is_off(
    fake: FakeApiServer, start: Any
) -> None:
    server = start("--multicluster", CLUSTERSET)  # the CRD is not installed
    assert server.a_records(LOCAL_WEB) == ["10.96.100.10"]
    assert server.udp(WEB, "A").rcode() == dns.rcode.NXDOMAIN  # the zone has no import
    assert server.wait_for_line(lambda line: OFF in line, 2.0), server.stderr_text()
    # Discovery asked once; no list or watch of a resource that does not exist.
    assert group_requests(fake) == [f"{MCS_GROUP_PATH}/v1alpha1"]
    fake.apply(builders.cluster_ip_service("new", "10.96.100.11"))  # watches still run
    eventually(
        lambda: server.a_records("new.shop.svc.cluster.local") == ["10.96.100.11"], server, "new"
    )
    assert server.count_lines(lambda line: OFF in line) == 1


def test_without_the_flag_the_group_is_never_asked(fake: FakeApiServer, start: Any) -> None:
    fake.set_service_imports_crd(True)
    fake.apply(service_import("web", ips=["10.42.0.10"]))
    server = start()
    assert server.a_records(LOCAL_WEB) == ["10.96.100.10"]
    assert server.udp(WEB, "A").rcode() == dns.rcode.REFUSED  # not our zone
    assert group_requests(fake) == []
    assert server.count_lines(lambda line: OFF in line) == 0
