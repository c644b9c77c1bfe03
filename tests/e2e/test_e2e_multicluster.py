"""End-to-end: the clusterset zone (MCS API, KEP 1645; issue 16) served from a dump.

A `kubectl get` dump holding ServiceImports and multicluster EndpointSlices, served with
`--multicluster clusterset.local`: the MCS DNS spec's names answer over UDP and TCP, with
forwarding on too (the zone is never sent upstream), the cluster zone keeps its own
answers, an edit of the dump shows up, and `svcdns records` lists the zone. Without the
flag the zone is not ours.
"""

from __future__ import annotations

from pathlib import Path

import dns.rcode
import pytest
from builders import (
    endpoint,
    endpoint_slice,
    headless_service,
    import_slice,
    namespace,
    port,
    service_import,
    to_yaml,
)
from helpers import (
    ServerFactory,
    ServerProcess,
    answer_data,
    assert_authoritative,
    assert_single_soa,
    free_port,
    poll,
    run_svcdns,
    write_atomically,
)

ZONE = "clusterset.local"
WEB = f"web.shop.svc.{ZONE}"
DB = f"db.shop.svc.{ZONE}"


def dump(*extra_clusters: str) -> str:
    """The local headless `db` beside the imports `web` (ClusterSetIP) and `db` (Headless),
    `db`'s endpoints from cluster-a and from each of `extra_clusters`."""

    def mysql() -> list[dict[str, object]]:  # a fresh list each: a shared one dumps as an alias
        return [port("mysql", 3306)]

    others = [
        import_slice("db", cluster, [endpoint("10.2.0.10", hostname="db-0")], ports=mysql())
        for cluster in extra_clusters
    ]
    return to_yaml(
        namespace("shop"),
        headless_service("db"),
        endpoint_slice("db", ["10.244.0.5"]),
        service_import("web", ips=["10.42.0.10"], ports=[port("http", 80)]),
        service_import("db", ports=mysql()),
        import_slice("db", "cluster-a", [endpoint("10.1.0.10", hostname="db-0")], ports=mysql()),
        *others,
    )


def addresses(server: ServerProcess, qname: str, *, tcp: bool = False) -> list[str]:
    reply = server.tcp(qname, "A") if tcp else server.udp(qname, "A")
    assert_authoritative(reply)
    return sorted(answer_data(reply, "A"))


@pytest.mark.parametrize("upstream", ["none", "unanswered"])
def test_the_clusterset_zone_is_served_from_a_dump(
    tmp_path: Path, start_server: ServerFactory, upstream: str
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(dump())
    # An upstream that never answers: a clusterset name sent there would be SERVFAIL.
    forward = "none" if upstream == "none" else f"127.0.0.1:{free_port()}"
    server = start_server(path, "--multicluster", ZONE, upstream=forward)
    for tcp in (False, True):
        assert addresses(server, WEB, tcp=tcp) == ["10.42.0.10"]
        assert addresses(server, DB, tcp=tcp) == ["10.1.0.10"]
        assert addresses(server, f"db-0.cluster-a.{DB}", tcp=tcp) == ["10.1.0.10"]
    srv = server.udp(f"_mysql._tcp.{DB}", "SRV")
    assert answer_data(srv, "SRV") == [f"0 100 3306 db-0.cluster-a.{DB}."]
    # No endpoint name without its cluster id (MCS spec 2.4.1).
    missing = server.udp(f"db-0.{DB}", "A")
    assert_authoritative(missing, dns.rcode.NXDOMAIN)
    assert_single_soa(missing, zone=ZONE)
    assert answer_data(server.udp(f"dns-version.{ZONE}", "TXT"), "TXT") == ['"1.0.0"']
    # The cluster's own `db` keeps its own endpoints.
    assert addresses(server, "db.shop.svc.cluster.local") == ["10.244.0.5"]


def test_an_edit_of_the_dump_adds_a_member_cluster(
    tmp_path: Path, start_server: ServerFactory
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(dump())
    server = start_server(path, "--multicluster", ZONE)
    assert_authoritative(server.udp(f"db-0.cluster-b.{DB}", "A"), dns.rcode.NXDOMAIN)
    write_atomically(path, dump("cluster-b"))
    poll(lambda: server.udp(DB, "A").answer, timeout=3.0)  # answered all along
    poll(lambda: addresses(server, DB) == ["10.1.0.10", "10.2.0.10"], timeout=3.0)
    assert addresses(server, f"db-0.cluster-b.{DB}") == ["10.2.0.10"]


def test_without_the_flag_the_zone_is_not_ours(tmp_path: Path, start_server: ServerFactory) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(dump())
    server = start_server(path)
    assert server.udp(WEB, "A").rcode() == dns.rcode.REFUSED  # --upstream none
    assert addresses(server, "db.shop.svc.cluster.local") == ["10.244.0.5"]


def test_records_lists_the_clusterset_zone(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(dump())
    result = run_svcdns(["records", "--manifests", str(path), "--multicluster", ZONE])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f"{WEB}.\t5\tIN\tA\t10.42.0.10" in lines
    assert f"db-0.cluster-a.{DB}.\t5\tIN\tA\t10.1.0.10" in lines
    assert f'dns-version.{ZONE}.\t28800\tIN\tTXT\t"1.0.0"' in lines
    assert "db.shop.svc.cluster.local.\t5\tIN\tA\t10.244.0.5" in lines
    plain = run_svcdns(["records", "--manifests", str(path)])
    assert ZONE not in plain.stdout
