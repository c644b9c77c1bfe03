"""The answering logic as one table: cluster objects in, DNS reply out.

Each row names a fixture set of Kubernetes objects (written below as the API prints them),
optional `ZoneSettings` / namespace-filter overrides, and one question as the client types
it. The question goes in-process through `Handler.handle` as wire bytes (TCP, so truncation
never interferes) and the reply is parsed back with dnspython.

Expected sections are zone-file lines, compared as sorted lists of dnspython's text for the
same record, so spacing and address spelling do not matter. The answer section is compared
letter case included: the owner the client asked for must come back spelled as it was sent
(0x20 case echo). Authority and additional owners are compared case-insensitively (RFC 4343).
Every NXDOMAIN and NODATA row expects exactly the SOA of the zone in the authority section.
Section counts are checked against the reply header, so a duplicated record cannot hide in
dnspython's RRset merging.

Section numbers refer to the Kubernetes DNS-Based Service Discovery specification 1.1.0.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import builders
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import dns.rrset
import pytest
from builders import Raw, namespace, port

from svcdns.core.convert import from_dict
from svcdns.core.model import Upsert
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import PodMode, ZoneSettings
from svcdns.dns.handler import Handler

NOW = 1_700_000_000

# -- the cluster ------------------------------------------------------------------------

# The rows' own shape: namespace first (tests/builders.py puts the name first).


def service(ns: str, name: str, **spec: Any) -> Raw:
    return builders.service(name, ns=ns, **spec)


def cluster_ip(ns: str, name: str, *ips: str, ports: Sequence[Raw]) -> Raw:
    return service(
        ns, name, type="ClusterIP", clusterIP=ips[0], clusterIPs=list(ips), ports=list(ports)
    )


def headless(ns: str, name: str, *, ports: Sequence[Raw], **spec: Any) -> Raw:
    return service(
        ns, name, type="ClusterIP", clusterIP="None", clusterIPs=["None"], ports=list(ports), **spec
    )


def external(ns: str, name: str, target: str) -> Raw:
    return service(ns, name, type="ExternalName", externalName=target)


def endpoint(
    ip: str, *, ready: bool | None = True, hostname: str = "", pod: str = "", ns: str = "shop"
) -> Raw:
    """One EndpointSlice endpoint; `ready=None` leaves `conditions` out entirely."""
    item: Raw = {"addresses": [ip]}
    if ready is not None:
        item["conditions"] = {"ready": ready, "serving": ready, "terminating": False}
    if hostname:
        item["hostname"] = hostname
    if pod:
        item["targetRef"] = {"kind": "Pod", "name": pod, "namespace": ns}
    return item


def endpoint_slice(
    ns: str,
    name: str,
    service_name: str,
    endpoints: Sequence[Raw],
    ports: Sequence[Raw],
    address_type: str = "IPv4",
) -> Raw:
    return builders.slice_of(service_name, name, endpoints, ports=ports, ns=ns, family=address_type)


def pod(ns: str, name: str, phase: str, pod_ip: str, pod_ips: Sequence[str] = ()) -> Raw:
    status: Raw = {"phase": phase, "podIP": pod_ip}
    if pod_ips:
        status["podIPs"] = [{"ip": ip} for ip in pod_ips]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {},
        "status": status,
    }


KUBE_DNS = cluster_ip(
    "kube-system", "kube-dns", "10.96.0.10", ports=[port("dns", 53, "UDP"), port("dns-tcp", 53)]
)

CLUSTER: tuple[Raw, ...] = (
    *(namespace(name) for name in ("default", "kube-system", "shop", "tools", "empty")),
    cluster_ip("default", "kubernetes", "10.96.0.1", ports=[port("https", 443)]),
    KUBE_DNS,
    # shop/web: ClusterIP with two named ports and an unnamed one.
    cluster_ip(
        "shop",
        "web",
        "10.96.100.10",
        ports=[port("http", 80), port("metrics", 9090), {"port": 8080, "protocol": "TCP"}],
    ),
    endpoint_slice(
        "shop",
        "web-abc",
        "web",
        [endpoint("10.244.1.10", pod="web-0"), endpoint("10.244.1.11", pod="web-1")],
        [port("http", 8080)],
    ),
    # shop/db: headless, two slices; .11 is in both, .12 is not ready, .11 has no conditions.
    headless("shop", "db", ports=[port("mysql", 3306)]),
    endpoint_slice(
        "shop",
        "db-1",
        "db",
        [
            endpoint("10.244.2.10", hostname="db-0", pod="db-0"),
            endpoint("10.244.2.11", hostname="db-1", pod="db-1", ready=None),
            endpoint("10.244.2.12", hostname="db-2", pod="db-2", ready=False),
        ],
        [port("mysql", 3306)],
    ),
    endpoint_slice(
        "shop",
        "db-2",
        "db",
        [
            endpoint("10.244.2.11", hostname="db-1", pod="db-1"),
            endpoint("10.244.2.13", hostname="db-3", pod="db-3"),
        ],
        [port("mysql", 3306)],
    ),
    # shop/peers: headless publishing not-ready addresses, UDP port, no hostnames.
    headless("shop", "peers", ports=[port("gossip", 7000, "UDP")], publishNotReadyAddresses=True),
    endpoint_slice(
        "shop",
        "peers-x1",
        "peers",
        [
            endpoint("10.244.3.1", pod="peers-0"),
            endpoint("10.244.3.2", pod="peers-1", ready=False),
        ],
        [port("gossip", 7000, "UDP")],
    ),
    headless("shop", "empty-headless", ports=[port("http", 80)]),
    cluster_ip("shop", "idle", "10.96.100.40", ports=[port("http", 80)]),
    external("shop", "ext", "www.example.com"),
    external("shop", "alias", "web.shop.svc.cluster.local"),
    external("shop", "dangling", "nothing.shop.svc.cluster.local"),
    external("shop", "loop-a", "loop-b.shop.svc.cluster.local"),
    external("shop", "loop-b", "loop-a.shop.svc.cluster.local"),
    external("shop", "ipname", "192.0.2.1"),
    cluster_ip("shop", "dual", "10.96.100.30", "fd00:10:96::1e", ports=[port("http", 80)]),
    # shop/v6: headless over an IPv6 slice; 2001:db8:: dashes to 2001-db8--0.
    headless("shop", "v6", ports=[port("http", 80)], ipFamilies=["IPv6"]),
    endpoint_slice(
        "shop",
        "v6-q7",
        "v6",
        [endpoint("fd00:10:244::5"), endpoint("2001:db8::")],
        [port("http", 8080)],
        address_type="IPv6",
    ),
    # shop/legacy: headless with only a legacy Endpoints object.
    headless("shop", "legacy", ports=[port("pg", 5432)]),
    {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "legacy", "namespace": "shop"},
        "subsets": [
            {
                "addresses": [{"ip": "10.244.4.1", "hostname": "pg-main"}],
                "notReadyAddresses": [{"ip": "10.244.4.2"}],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            }
        ],
    },
    # shop/both: an EndpointSlice and a legacy Endpoints; only the slice counts.
    headless("shop", "both", ports=[port("http", 80)]),
    endpoint_slice("shop", "both-k2", "both", [endpoint("10.244.5.1")], [port("http", 80)]),
    {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "both", "namespace": "shop"},
        "subsets": [{"addresses": [{"ip": "10.244.5.2"}], "ports": [port("http", 80)]}],
    },
    # shop/podnamed: endpoints named only by their pods (one pod name is not a DNS label).
    headless("shop", "podnamed", ports=[port("http", 80)]),
    endpoint_slice(
        "shop",
        "podnamed-z9",
        "podnamed",
        [endpoint("10.244.6.1", pod="worker-a"), endpoint("10.244.6.2", pod="Bad_Name")],
        [port("http", 80)],
    ),
    cluster_ip("tools", "api", "10.96.200.5", ports=[port("grpc", 8443)]),
    # shop/multi: headless; 10.244.8.1 is in two slices with different ports (issue 13).
    headless("shop", "multi", ports=[port("http", 80), port("metrics", 9100)]),
    endpoint_slice(
        "shop",
        "multi-a",
        "multi",
        [endpoint("10.244.8.1"), endpoint("10.244.8.2")],
        [port("http", 80)],
    ),
    endpoint_slice("shop", "multi-b", "multi", [endpoint("10.244.8.1")], [port("metrics", 9100)]),
    service("shop", "portless", type="ClusterIP", clusterIP="10.96.100.50"),
    pod("shop", "web-0", "Running", "10.244.1.10"),
    pod("shop", "done-pod", "Succeeded", "10.244.1.99"),
    pod("tools", "api-0", "Running", "10.244.7.7", ["10.244.7.7", "fd00:10:244::77"]),
)

# The clusterset (MCS API, KEP 1645): two imports, endpoints from two member clusters. The
# headless import is named like the cluster's own headless `db`, which must keep its own.
MULTICLUSTER: tuple[Raw, ...] = (
    *CLUSTER,
    builders.service_import(
        "web", ips=["10.42.0.10", "fd00:42::10"], ports=[port("http", 80), {"port": 8080}]
    ),
    # A ClusterSetIP import's slices name no endpoint (MCS spec 2.3.4).
    builders.import_slice("web", "cluster-a", [endpoint("10.1.0.20", hostname="web-0")]),
    builders.service_import("db", ports=[port("mysql", 3306)]),
    builders.import_slice(
        "db",
        "cluster-a",
        [
            endpoint("10.1.0.10", hostname="db-0"),
            endpoint("10.1.0.11"),
            endpoint("10.1.0.12", ready=False, hostname="db-2"),
        ],
        ports=[port("mysql", 3306)],
    ),
    builders.import_slice(
        "db", "cluster-b", [endpoint("10.2.0.10", hostname="db-0")], ports=[port("mysql", 3306)]
    ),
    builders.service_import("lonely"),  # headless, no endpoint anywhere yet
)

FIXTURES: dict[str, tuple[Raw, ...]] = {
    "cluster": CLUSTER,
    "no-kube-dns": tuple(raw for raw in CLUSTER if raw is not KUBE_DNS),
    "multicluster": MULTICLUSTER,
}


@functools.cache
def handler_for(fixture: str, settings: ZoneSettings, namespaces: frozenset[str] | None) -> Handler:
    """One synced cluster per distinct (fixture, settings, namespace filter)."""
    state = ClusterState(settings, namespaces=namespaces)
    for raw in FIXTURES[fixture]:
        obj = from_dict(raw)
        assert obj is not None, raw
        state.apply(Upsert(obj), now=NOW)
    state.mark_synced()
    return Handler(state)


# -- the table ----------------------------------------------------------------------------

DEFAULT = ZoneSettings()
TTL_30 = ZoneSettings(ttl=30)
TTL_600 = ZoneSettings(ttl=600)
POD_NAMES = ZoneSettings(endpoint_pod_names=True)
VERIFIED = ZoneSettings(pods=PodMode.VERIFIED)
DISABLED = ZoneSettings(pods=PodMode.DISABLED)
OTHER_ZONE = ZoneSettings(zone="example.internal")
CUSTOM_NS = ZoneSettings(nameserver_addresses=("10.0.0.53", "fd00::53"))
ONLY_SHOP = frozenset({"shop"})
CLUSTERSET = ZoneSettings(clusterset_zone="clusterset.local")

SOA = (
    "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
    "1700000000 7200 1800 86400 5"
)
SOA_IN_ADDR = (
    "in-addr.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
    "1700000000 7200 1800 86400 5"
)
SOA_IP6 = (
    "ip6.arpa. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
    "1700000000 7200 1800 86400 5"
)
SOA_TTL_30 = (
    "cluster.local. 30 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
    "1700000000 7200 1800 86400 30"
)
SOA_TTL_600 = (  # the SOA's own TTL is capped at 300; its minimum is the zone TTL
    "cluster.local. 300 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
    "1700000000 7200 1800 86400 600"
)
SOA_OTHER_ZONE = (
    "example.internal. 5 IN SOA ns.dns.example.internal. hostmaster.example.internal. "
    "1700000000 7200 1800 86400 5"
)
SOA_CLUSTERSET = (
    "clusterset.local. 5 IN SOA ns.dns.clusterset.local. hostmaster.clusterset.local. "
    "1700000000 7200 1800 86400 5"
)


def reverse(address: str) -> str:
    """The in-addr.arpa / ip6.arpa owner of an address, absolute (dnspython as the oracle)."""
    return dns.reversename.from_address(address).to_text()


REV_DUAL_V6 = reverse("fd00:10:96::1e")
REV_V6_EP = reverse("fd00:10:244::5")
REV_V6_DB8 = reverse("2001:db8::")

WEB_A = "web.shop.svc.cluster.local. 5 IN A 10.96.100.10"
WEB_CNAME_ALIAS = "alias.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.cluster.local."
EXT_CNAME = "ext.shop.svc.cluster.local. 5 IN CNAME www.example.com."
NS_GLUE = "ns.dns.cluster.local. 5 IN A 10.96.0.10"
DB_HOSTS = (
    "db-0.db.shop.svc.cluster.local. 5 IN A 10.244.2.10",
    "db-1.db.shop.svc.cluster.local. 5 IN A 10.244.2.11",
    "db-3.db.shop.svc.cluster.local. 5 IN A 10.244.2.13",
)
PEERS_HOSTS = (
    "10-244-3-1.peers.shop.svc.cluster.local. 5 IN A 10.244.3.1",
    "10-244-3-2.peers.shop.svc.cluster.local. 5 IN A 10.244.3.2",
)
MC_DB = "db.shop.svc.clusterset.local"
MC_DB_HOSTS = (
    f"db-0.cluster-a.{MC_DB}. 5 IN A 10.1.0.10",
    f"10-1-0-11.cluster-a.{MC_DB}. 5 IN A 10.1.0.11",
    f"db-0.cluster-b.{MC_DB}. 5 IN A 10.2.0.10",
)
MC_WEB_A = "web.shop.svc.clusterset.local. 5 IN A 10.42.0.10"


def mc_answered(row_id: str, qname: str, qtype: str, answer: Iterable[str], **where: Any) -> Any:
    return answered(
        row_id, qname, qtype, answer, fixture="multicluster", settings=CLUSTERSET, **where
    )


def mc_nodata(row_id: str, qname: str, qtype: str = "A") -> Any:
    return nodata(row_id, qname, qtype, SOA_CLUSTERSET, fixture="multicluster", settings=CLUSTERSET)


def mc_nxdomain(row_id: str, qname: str, qtype: str = "A") -> Any:
    return nxdomain(
        row_id, qname, qtype, SOA_CLUSTERSET, fixture="multicluster", settings=CLUSTERSET
    )


@dataclass(frozen=True)
class Row:
    qname: str  # as the client types it
    qtype: str
    rcode: str
    answer: tuple[str, ...] = ()
    authority: tuple[str, ...] = ()
    additional: tuple[str, ...] = ()
    fixture: str = "cluster"
    settings: ZoneSettings = DEFAULT
    namespaces: frozenset[str] | None = None
    edns: bool = False  # send an OPT record (EDNS version 0)


def row(
    row_id: str,
    qname: str,
    qtype: str,
    rcode: str,
    answer: Iterable[str] = (),
    authority: Iterable[str] = (),
    additional: Iterable[str] = (),
    **where: Any,
) -> Any:
    return pytest.param(
        Row(qname, qtype, rcode, tuple(answer), tuple(authority), tuple(additional), **where),
        id=row_id,
    )


def answered(
    row_id: str,
    qname: str,
    qtype: str,
    answer: Iterable[str],
    additional: Iterable[str] = (),
    **where: Any,
) -> Any:
    """NOERROR with records; nothing in the authority section."""
    return row(row_id, qname, qtype, "NOERROR", answer, (), additional, **where)


def nodata(row_id: str, qname: str, qtype: str, soa: str = SOA, **where: Any) -> Any:
    """NOERROR, empty answer, the zone's SOA as the authority."""
    return row(row_id, qname, qtype, "NOERROR", (), (soa,), **where)


def nxdomain(row_id: str, qname: str, qtype: str = "A", soa: str = SOA, **where: Any) -> Any:
    return row(row_id, qname, qtype, "NXDOMAIN", (), (soa,), **where)


def refused(row_id: str, qname: str, qtype: str = "A", **where: Any) -> Any:
    """Outside what we serve (forwarding is not built): REFUSED, AA clear, no records."""
    return row(row_id, qname, qtype, "REFUSED", **where)


MULTICLUSTER_ROWS = [
    mc_answered("clusterset-apex-soa", "clusterset.local", "SOA", [SOA_CLUSTERSET]),
    mc_answered(
        "clusterset-apex-ns-with-glue",
        "clusterset.local",
        "NS",
        ["clusterset.local. 5 IN NS ns.dns.clusterset.local."],
        additional=["ns.dns.clusterset.local. 5 IN A 10.96.0.10"],
    ),
    mc_answered(
        "clusterset-dns-version-is-the-mcs-schema",
        "dns-version.clusterset.local",
        "TXT",
        ['dns-version.clusterset.local. 28800 IN TXT "1.0.0"'],
    ),
    mc_nodata("clusterset-svc-nodata", "svc.clusterset.local"),
    mc_nodata("clusterset-namespace-with-imports-nodata", "shop.svc.clusterset.local"),
    mc_nxdomain("clusterset-namespace-without-imports-nxdomain", "empty.svc.clusterset.local"),
    # 2.3: ClusterSetIP
    mc_answered("clusterset-ip-a", "web.shop.svc.clusterset.local", "A", [MC_WEB_A]),
    mc_answered(
        "clusterset-ip-a-mixed-case-echoed",
        "Web.Shop.SVC.ClusterSet.Local",
        "A",
        ["Web.Shop.SVC.ClusterSet.Local. 5 IN A 10.42.0.10"],
    ),
    mc_answered(
        "clusterset-ip-aaaa-dual-stack",
        "web.shop.svc.clusterset.local",
        "AAAA",
        ["web.shop.svc.clusterset.local. 5 IN AAAA fd00:42::10"],
    ),
    mc_answered(
        "clusterset-ip-srv-named-port-only",
        "_http._tcp.web.shop.svc.clusterset.local",
        "SRV",
        [
            "_http._tcp.web.shop.svc.clusterset.local. 5 IN SRV "
            "0 100 80 web.shop.svc.clusterset.local."
        ],
        additional=[MC_WEB_A, "web.shop.svc.clusterset.local. 5 IN AAAA fd00:42::10"],
    ),
    mc_nxdomain("clusterset-ip-no-endpoint-names", "web-0.cluster-a.web.shop.svc.clusterset.local"),
    mc_nxdomain("clusterset-ip-no-cluster-name", "cluster-a.web.shop.svc.clusterset.local"),
    mc_answered(
        "clusterset-ip-ptr",
        "10.0.42.10.in-addr.arpa",
        "PTR",
        ["10.0.42.10.in-addr.arpa. 5 IN PTR web.shop.svc.clusterset.local."],
    ),
    # 2.4: Headless, the ready endpoints of every member cluster
    mc_answered(
        "clusterset-headless-a-every-cluster-ready-only",
        MC_DB,
        "A",
        [line.replace(line.split()[0], MC_DB + ".") for line in MC_DB_HOSTS],
    ),
    mc_nodata("clusterset-headless-aaaa-of-v4-nodata", MC_DB, "AAAA"),
    mc_answered("clusterset-headless-host-a", f"db-0.cluster-a.{MC_DB}", "A", MC_DB_HOSTS[:1]),
    mc_answered(
        "clusterset-headless-host-same-name-other-cluster",
        f"db-0.cluster-b.{MC_DB}",
        "A",
        MC_DB_HOSTS[2:],
    ),
    mc_answered(
        "clusterset-headless-host-without-hostname-is-dashed",
        f"10-1-0-11.cluster-a.{MC_DB}",
        "A",
        MC_DB_HOSTS[1:2],
    ),
    mc_nxdomain("clusterset-headless-not-ready-host-nxdomain", f"db-2.cluster-a.{MC_DB}"),
    mc_nxdomain("clusterset-headless-host-without-cluster-nxdomain", f"db-0.{MC_DB}"),
    # An empty non-terminal (RFC 8020): no record names a cluster alone (spec 2.4.4).
    mc_nodata("clusterset-headless-cluster-alone-nodata", f"cluster-a.{MC_DB}"),
    mc_answered(
        "clusterset-headless-srv-port-times-endpoint",
        f"_mysql._tcp.{MC_DB}",
        "SRV",
        [f"_mysql._tcp.{MC_DB}. 5 IN SRV 0 33 3306 {line.split()[0]}" for line in MC_DB_HOSTS],
        additional=MC_DB_HOSTS,
    ),
    mc_answered(
        "clusterset-headless-ptr-names-cluster",
        "10.0.2.10.in-addr.arpa",
        "PTR",
        [f"10.0.2.10.in-addr.arpa. 5 IN PTR db-0.cluster-b.{MC_DB}."],
    ),
    mc_nxdomain(
        "clusterset-headless-without-endpoints-nxdomain", "lonely.shop.svc.clusterset.local"
    ),
    # The cluster zone is untouched: its `db` keeps its own endpoints, no imported one.
    answered(
        "clusterset-local-headless-keeps-its-own",
        "db.shop.svc.cluster.local",
        "A",
        [
            "db.shop.svc.cluster.local. 5 IN A 10.244.2.10",
            "db.shop.svc.cluster.local. 5 IN A 10.244.2.11",
            "db.shop.svc.cluster.local. 5 IN A 10.244.2.13",
        ],
        fixture="multicluster",
        settings=CLUSTERSET,
    ),
    # Multicluster off (the default): the zone is not ours.
    refused("clusterset-off-refused", "web.shop.svc.clusterset.local", fixture="multicluster"),
]

ROWS = [
    # -- apex, infrastructure names, TTLs (spec 2.1, 2.2) -------------------------------
    answered("apex-soa", "cluster.local", "SOA", [SOA]),
    answered(
        "apex-ns-with-glue",
        "cluster.local",
        "NS",
        ["cluster.local. 5 IN NS ns.dns.cluster.local."],
        additional=[NS_GLUE],
    ),
    nodata("apex-a-nodata", "cluster.local", "A"),
    answered(
        "apex-any-soa-and-ns",
        "cluster.local",
        "ANY",
        [SOA, "cluster.local. 5 IN NS ns.dns.cluster.local."],
        additional=[NS_GLUE],
    ),
    nodata("apex-a-mixed-case-nodata", "Cluster.LOCAL", "A"),
    answered("ns-dns-a-is-kube-dns-cluster-ip", "ns.dns.cluster.local", "A", [NS_GLUE]),
    nodata("ns-dns-aaaa-nodata", "ns.dns.cluster.local", "AAAA"),
    nodata("dns-label-nodata", "dns.cluster.local", "A"),
    answered(
        "dns-version-txt",
        "dns-version.cluster.local",
        "TXT",
        ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'],
    ),
    answered(
        "dns-version-txt-mixed-case-owner-echoed",
        "DNS-Version.Cluster.Local",
        "TXT",
        ['DNS-Version.Cluster.Local. 28800 IN TXT "1.1.0"'],
    ),
    nodata("dns-version-a-nodata", "dns-version.cluster.local", "A"),
    answered(
        "no-kube-dns-ns-dns-a-default-address",
        "ns.dns.cluster.local",
        "A",
        ["ns.dns.cluster.local. 5 IN A 127.0.0.1"],
        fixture="no-kube-dns",
    ),
    answered(
        "no-kube-dns-apex-ns-glue-default-address",
        "cluster.local",
        "NS",
        ["cluster.local. 5 IN NS ns.dns.cluster.local."],
        additional=["ns.dns.cluster.local. 5 IN A 127.0.0.1"],
        fixture="no-kube-dns",
    ),
    answered(
        "no-kube-dns-ns-dns-aaaa-configured-address",
        "ns.dns.cluster.local",
        "AAAA",
        ["ns.dns.cluster.local. 5 IN AAAA fd00::53"],
        fixture="no-kube-dns",
        settings=CUSTOM_NS,
    ),
    answered(
        "ttl-30-on-records",
        "web.shop.svc.cluster.local",
        "A",
        ["web.shop.svc.cluster.local. 30 IN A 10.96.100.10"],
        settings=TTL_30,
    ),
    answered(
        "ttl-30-srv-and-additional",
        "_http._tcp.web.shop.svc.cluster.local",
        "SRV",
        ["_http._tcp.web.shop.svc.cluster.local. 30 IN SRV 0 100 80 web.shop.svc.cluster.local."],
        additional=["web.shop.svc.cluster.local. 30 IN A 10.96.100.10"],
        settings=TTL_30,
    ),
    answered("ttl-30-apex-soa", "cluster.local", "SOA", [SOA_TTL_30], settings=TTL_30),
    nxdomain(
        "ttl-30-nxdomain-soa", "nosuch.shop.svc.cluster.local", soa=SOA_TTL_30, settings=TTL_30
    ),
    answered(
        "ttl-30-dns-version-keeps-28800",
        "dns-version.cluster.local",
        "TXT",
        ['dns-version.cluster.local. 28800 IN TXT "1.1.0"'],
        settings=TTL_30,
    ),
    nodata(
        "ttl-600-soa-own-ttl-capped-at-300",
        "svc.cluster.local",
        "A",
        soa=SOA_TTL_600,
        settings=TTL_600,
    ),
    # -- names that exist without records, and names that do not exist -----------------
    nodata("svc-nodata", "svc.cluster.local", "A"),
    nodata("pod-nodata", "pod.cluster.local", "A"),
    nodata("namespace-svc-nodata", "shop.svc.cluster.local", "A"),
    nodata("namespace-svc-mixed-case-nodata", "SHOP.Svc.cluster.local", "A"),
    nodata("namespace-object-without-services-nodata", "empty.svc.cluster.local", "A"),
    nodata("namespace-pod-nodata", "shop.pod.cluster.local", "A"),
    nodata("srv-empty-non-terminal-nodata", "_tcp.web.shop.svc.cluster.local", "SRV"),
    nodata("srv-owner-asked-a-nodata", "_http._tcp.web.shop.svc.cluster.local", "A"),
    nodata("srv-empty-non-terminal-udp-nodata", "_udp.peers.shop.svc.cluster.local", "SRV"),
    nxdomain("unknown-namespace-svc-nxdomain", "nosuchns.svc.cluster.local"),
    nxdomain("unknown-namespace-pod-nxdomain", "nosuchns.pod.cluster.local"),
    nxdomain("unknown-service-nxdomain", "nosuch.shop.svc.cluster.local"),
    nxdomain("unknown-service-mixed-case-nxdomain", "NoSuch.Shop.SVC.cluster.local"),
    nxdomain("service-in-empty-namespace-nxdomain", "web.empty.svc.cluster.local"),
    nxdomain("below-service-nxdomain", "x.web.shop.svc.cluster.local"),
    nxdomain("unknown-child-of-apex-nxdomain", "foo.cluster.local"),
    nxdomain("srv-unknown-port-nxdomain", "_https._tcp.web.shop.svc.cluster.local", "SRV"),
    nxdomain("srv-wrong-protocol-nxdomain", "_http._udp.web.shop.svc.cluster.local", "SRV"),
    nxdomain("nxdomain-with-edns", "nosuch.shop.svc.cluster.local", "AAAA", edns=True),
    # -- ClusterIP Services (spec 2.3) ---------------------------------------------------
    answered("clusterip-a", "web.shop.svc.cluster.local", "A", [WEB_A]),
    answered(
        "clusterip-a-mixed-case-owner-echoed",
        "WeB.ShOp.SvC.ClUsTeR.LoCaL",
        "A",
        ["WeB.ShOp.SvC.ClUsTeR.LoCaL. 5 IN A 10.96.100.10"],
    ),
    answered("clusterip-a-with-edns", "web.shop.svc.cluster.local", "A", [WEB_A], edns=True),
    nodata("clusterip-aaaa-of-v4-only-nodata", "web.shop.svc.cluster.local", "AAAA"),
    nodata("clusterip-txt-nodata", "web.shop.svc.cluster.local", "TXT"),
    # SRV at the Service name itself: every port, the unnamed one too, as CoreDNS answers
    # (the spec is silent; issue 13).
    answered(
        "clusterip-srv-at-service-name-every-port",
        "web.shop.svc.cluster.local",
        "SRV",
        [
            "web.shop.svc.cluster.local. 5 IN SRV 0 33 80 web.shop.svc.cluster.local.",
            "web.shop.svc.cluster.local. 5 IN SRV 0 33 8080 web.shop.svc.cluster.local.",
            "web.shop.svc.cluster.local. 5 IN SRV 0 33 9090 web.shop.svc.cluster.local.",
        ],
        additional=[WEB_A],
    ),
    nodata(
        "clusterip-without-ports-srv-at-service-name-nodata",
        "portless.shop.svc.cluster.local",
        "SRV",
    ),
    answered(
        "clusterip-endpoint-name-srv-its-own-ports",
        "10-244-1-10.web.shop.svc.cluster.local",
        "SRV",
        [
            "10-244-1-10.web.shop.svc.cluster.local. 5 IN SRV 0 100 8080 "
            "10-244-1-10.web.shop.svc.cluster.local."
        ],
        additional=["10-244-1-10.web.shop.svc.cluster.local. 5 IN A 10.244.1.10"],
    ),
    # An unnamed port (web's 8080) would have been published under an empty port label.
    nxdomain("clusterip-unnamed-port-has-no-srv", "_._tcp.web.shop.svc.cluster.local", "SRV"),
    nodata("clusterip-cname-nodata", "web.shop.svc.cluster.local", "CNAME"),
    answered(
        "clusterip-any-returns-a-and-srv",
        "web.shop.svc.cluster.local",
        "ANY",
        [
            WEB_A,
            *[
                "web.shop.svc.cluster.local. 5 IN SRV 0 33 80 web.shop.svc.cluster.local.",
                "web.shop.svc.cluster.local. 5 IN SRV 0 33 8080 web.shop.svc.cluster.local.",
                "web.shop.svc.cluster.local. 5 IN SRV 0 33 9090 web.shop.svc.cluster.local.",
            ],
        ],
        additional=[WEB_A],
    ),
    answered(
        "clusterip-srv-named-port-with-additional",
        "_http._tcp.web.shop.svc.cluster.local",
        "SRV",
        ["_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local."],
        additional=[WEB_A],
    ),
    answered(
        "clusterip-srv-second-named-port",
        "_metrics._tcp.web.shop.svc.cluster.local",
        "SRV",
        [
            "_metrics._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 9090 "
            "web.shop.svc.cluster.local."
        ],
        additional=[WEB_A],
    ),
    answered(
        "clusterip-srv-port-and-protocol-case-insensitive",
        "_HTTP._TCP.Web.Shop.svc.cluster.local",
        "SRV",
        ["_HTTP._TCP.Web.Shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local."],
        additional=[WEB_A],
    ),
    answered(
        "clusterip-srv-with-edns",
        "_http._tcp.web.shop.svc.cluster.local",
        "SRV",
        ["_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local."],
        additional=[WEB_A],
        edns=True,
    ),
    answered(
        "clusterip-without-endpoints-still-a",
        "idle.shop.svc.cluster.local",
        "A",
        ["idle.shop.svc.cluster.local. 5 IN A 10.96.100.40"],
    ),
    answered(
        "clusterip-other-namespace",
        "api.tools.svc.cluster.local",
        "A",
        ["api.tools.svc.cluster.local. 5 IN A 10.96.200.5"],
    ),
    answered(
        "clusterip-other-namespace-srv",
        "_grpc._tcp.api.tools.svc.cluster.local",
        "SRV",
        [
            "_grpc._tcp.api.tools.svc.cluster.local. 5 IN SRV 0 100 8443 "
            "api.tools.svc.cluster.local."
        ],
        additional=["api.tools.svc.cluster.local. 5 IN A 10.96.200.5"],
    ),
    answered(
        "clusterip-kubernetes-default",
        "kubernetes.default.svc.cluster.local",
        "A",
        ["kubernetes.default.svc.cluster.local. 5 IN A 10.96.0.1"],
    ),
    # -- dual-stack ClusterIP and IPv6 headless ----------------------------------------
    answered(
        "dual-stack-a",
        "dual.shop.svc.cluster.local",
        "A",
        ["dual.shop.svc.cluster.local. 5 IN A 10.96.100.30"],
    ),
    answered(
        "dual-stack-aaaa",
        "dual.shop.svc.cluster.local",
        "AAAA",
        ["dual.shop.svc.cluster.local. 5 IN AAAA fd00:10:96::1e"],
    ),
    answered(
        "dual-stack-any-both-families",
        "dual.shop.svc.cluster.local",
        "ANY",
        [
            "dual.shop.svc.cluster.local. 5 IN A 10.96.100.30",
            "dual.shop.svc.cluster.local. 5 IN AAAA fd00:10:96::1e",
            "dual.shop.svc.cluster.local. 5 IN SRV 0 100 80 dual.shop.svc.cluster.local.",
        ],
        additional=[
            "dual.shop.svc.cluster.local. 5 IN A 10.96.100.30",
            "dual.shop.svc.cluster.local. 5 IN AAAA fd00:10:96::1e",
        ],
    ),
    answered(
        "dual-stack-srv-at-service-name-a-and-aaaa-additional",
        "dual.shop.svc.cluster.local",
        "SRV",
        ["dual.shop.svc.cluster.local. 5 IN SRV 0 100 80 dual.shop.svc.cluster.local."],
        additional=[
            "dual.shop.svc.cluster.local. 5 IN A 10.96.100.30",
            "dual.shop.svc.cluster.local. 5 IN AAAA fd00:10:96::1e",
        ],
    ),
    answered(
        "dual-stack-srv-additional-a-and-aaaa",
        "_http._tcp.dual.shop.svc.cluster.local",
        "SRV",
        ["_http._tcp.dual.shop.svc.cluster.local. 5 IN SRV 0 100 80 dual.shop.svc.cluster.local."],
        additional=[
            "dual.shop.svc.cluster.local. 5 IN A 10.96.100.30",
            "dual.shop.svc.cluster.local. 5 IN AAAA fd00:10:96::1e",
        ],
    ),
    answered(
        "headless-v6-aaaa",
        "v6.shop.svc.cluster.local",
        "AAAA",
        [
            "v6.shop.svc.cluster.local. 5 IN AAAA fd00:10:244::5",
            "v6.shop.svc.cluster.local. 5 IN AAAA 2001:db8::",
        ],
    ),
    nodata("headless-v6-a-nodata", "v6.shop.svc.cluster.local", "A"),
    answered(
        "headless-v6-dashed-endpoint-aaaa",
        "fd00-10-244--5.v6.shop.svc.cluster.local",
        "AAAA",
        ["fd00-10-244--5.v6.shop.svc.cluster.local. 5 IN AAAA fd00:10:244::5"],
    ),
    answered(
        "headless-v6-trailing-dash-gets-zero",
        "2001-db8--0.v6.shop.svc.cluster.local",
        "AAAA",
        ["2001-db8--0.v6.shop.svc.cluster.local. 5 IN AAAA 2001:db8::"],
    ),
    nxdomain(
        "headless-v6-trailing-dash-without-zero-nxdomain",
        "2001-db8--.v6.shop.svc.cluster.local",
        "AAAA",
    ),
    answered(
        "headless-v6-srv-aaaa-additional",
        "_http._tcp.v6.shop.svc.cluster.local",
        "SRV",
        [
            "_http._tcp.v6.shop.svc.cluster.local. 5 IN SRV 0 50 8080 "
            "fd00-10-244--5.v6.shop.svc.cluster.local.",
            "_http._tcp.v6.shop.svc.cluster.local. 5 IN SRV 0 50 8080 "
            "2001-db8--0.v6.shop.svc.cluster.local.",
        ],
        additional=[
            "fd00-10-244--5.v6.shop.svc.cluster.local. 5 IN AAAA fd00:10:244::5",
            "2001-db8--0.v6.shop.svc.cluster.local. 5 IN AAAA 2001:db8::",
        ],
    ),
    # -- headless Services (spec 2.4) ----------------------------------------------------
    answered(
        "headless-a-ready-endpoints-deduplicated",
        "db.shop.svc.cluster.local",
        "A",
        [
            "db.shop.svc.cluster.local. 5 IN A 10.244.2.10",
            "db.shop.svc.cluster.local. 5 IN A 10.244.2.11",
            "db.shop.svc.cluster.local. 5 IN A 10.244.2.13",
        ],
    ),
    nodata("headless-aaaa-of-v4-endpoints-nodata", "db.shop.svc.cluster.local", "AAAA"),
    answered("headless-hostname-a", "db-0.db.shop.svc.cluster.local", "A", DB_HOSTS[:1]),
    answered(
        "headless-hostname-without-conditions-is-ready",
        "db-1.db.shop.svc.cluster.local",
        "A",
        DB_HOSTS[1:2],
    ),
    answered(
        "headless-hostname-from-second-slice", "db-3.db.shop.svc.cluster.local", "A", DB_HOSTS[2:]
    ),
    answered(
        "headless-hostname-mixed-case-owner-echoed",
        "DB-0.Db.shop.svc.cluster.local",
        "A",
        ["DB-0.Db.shop.svc.cluster.local. 5 IN A 10.244.2.10"],
    ),
    nodata("headless-hostname-aaaa-nodata", "db-0.db.shop.svc.cluster.local", "AAAA"),
    nxdomain("headless-not-ready-hostname-nxdomain", "db-2.db.shop.svc.cluster.local"),
    nxdomain("headless-hostname-not-dashed-nxdomain", "10-244-2-10.db.shop.svc.cluster.local"),
    answered(
        "headless-srv-one-per-ready-endpoint",
        "_mysql._tcp.db.shop.svc.cluster.local",
        "SRV",
        [
            "_mysql._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 33 3306 "
            "db-0.db.shop.svc.cluster.local.",
            "_mysql._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 33 3306 "
            "db-1.db.shop.svc.cluster.local.",
            "_mysql._tcp.db.shop.svc.cluster.local. 5 IN SRV 0 33 3306 "
            "db-3.db.shop.svc.cluster.local.",
        ],
        additional=DB_HOSTS,
    ),
    nxdomain(
        "headless-srv-wrong-protocol-nxdomain", "_mysql._udp.db.shop.svc.cluster.local", "SRV"
    ),
    answered(
        "headless-srv-at-service-name-every-endpoint-and-port",
        "db.shop.svc.cluster.local",
        "SRV",
        [
            "db.shop.svc.cluster.local. 5 IN SRV 0 33 3306 db-0.db.shop.svc.cluster.local.",
            "db.shop.svc.cluster.local. 5 IN SRV 0 33 3306 db-1.db.shop.svc.cluster.local.",
            "db.shop.svc.cluster.local. 5 IN SRV 0 33 3306 db-3.db.shop.svc.cluster.local.",
        ],
        additional=DB_HOSTS,
    ),
    answered(
        "headless-srv-at-endpoint-name",
        "DB-0.db.shop.svc.cluster.local",
        "SRV",
        ["DB-0.db.shop.svc.cluster.local. 5 IN SRV 0 100 3306 db-0.db.shop.svc.cluster.local."],
        additional=[DB_HOSTS[0]],
    ),
    nxdomain(
        "headless-srv-at-not-ready-endpoint-nxdomain", "db-2.db.shop.svc.cluster.local", "SRV"
    ),
    # An address in two slices with different ports: an SRV for each port (spec 2.4.2).
    answered(
        "headless-address-in-two-slices-first-slices-port",
        "_http._tcp.multi.shop.svc.cluster.local",
        "SRV",
        [
            "_http._tcp.multi.shop.svc.cluster.local. 5 IN SRV 0 50 80 "
            "10-244-8-1.multi.shop.svc.cluster.local.",
            "_http._tcp.multi.shop.svc.cluster.local. 5 IN SRV 0 50 80 "
            "10-244-8-2.multi.shop.svc.cluster.local.",
        ],
        additional=[
            "10-244-8-1.multi.shop.svc.cluster.local. 5 IN A 10.244.8.1",
            "10-244-8-2.multi.shop.svc.cluster.local. 5 IN A 10.244.8.2",
        ],
    ),
    answered(
        "headless-address-in-two-slices-second-slices-port",
        "_metrics._tcp.multi.shop.svc.cluster.local",
        "SRV",
        [
            "_metrics._tcp.multi.shop.svc.cluster.local. 5 IN SRV 0 100 9100 "
            "10-244-8-1.multi.shop.svc.cluster.local."
        ],
        additional=["10-244-8-1.multi.shop.svc.cluster.local. 5 IN A 10.244.8.1"],
    ),
    answered(
        "headless-address-in-two-slices-srv-at-its-name-both-ports",
        "10-244-8-1.multi.shop.svc.cluster.local",
        "SRV",
        [
            "10-244-8-1.multi.shop.svc.cluster.local. 5 IN SRV 0 50 80 "
            "10-244-8-1.multi.shop.svc.cluster.local.",
            "10-244-8-1.multi.shop.svc.cluster.local. 5 IN SRV 0 50 9100 "
            "10-244-8-1.multi.shop.svc.cluster.local.",
        ],
        additional=["10-244-8-1.multi.shop.svc.cluster.local. 5 IN A 10.244.8.1"],
    ),
    answered(
        "headless-address-in-two-slices-a-once",
        "multi.shop.svc.cluster.local",
        "A",
        [
            "multi.shop.svc.cluster.local. 5 IN A 10.244.8.1",
            "multi.shop.svc.cluster.local. 5 IN A 10.244.8.2",
        ],
    ),
    answered(
        "headless-publish-not-ready-a",
        "peers.shop.svc.cluster.local",
        "A",
        [
            "peers.shop.svc.cluster.local. 5 IN A 10.244.3.1",
            "peers.shop.svc.cluster.local. 5 IN A 10.244.3.2",
        ],
    ),
    answered(
        "headless-publish-not-ready-dashed-host",
        "10-244-3-2.peers.shop.svc.cluster.local",
        "A",
        PEERS_HOSTS[1:],
    ),
    answered(
        "headless-publish-not-ready-srv-udp",
        "_gossip._udp.peers.shop.svc.cluster.local",
        "SRV",
        [
            "_gossip._udp.peers.shop.svc.cluster.local. 5 IN SRV 0 50 7000 "
            "10-244-3-1.peers.shop.svc.cluster.local.",
            "_gossip._udp.peers.shop.svc.cluster.local. 5 IN SRV 0 50 7000 "
            "10-244-3-2.peers.shop.svc.cluster.local.",
        ],
        additional=PEERS_HOSTS,
    ),
    nxdomain(
        "headless-srv-udp-port-as-tcp-nxdomain", "_gossip._tcp.peers.shop.svc.cluster.local", "SRV"
    ),
    nxdomain("headless-pod-name-without-flag-nxdomain", "peers-0.peers.shop.svc.cluster.local"),
    nxdomain("headless-without-endpoints-nxdomain", "empty-headless.shop.svc.cluster.local"),
    nxdomain(
        "headless-without-endpoints-srv-nxdomain",
        "_http._tcp.empty-headless.shop.svc.cluster.local",
        "SRV",
    ),
    answered(
        "legacy-endpoints-ready-only",
        "legacy.shop.svc.cluster.local",
        "A",
        ["legacy.shop.svc.cluster.local. 5 IN A 10.244.4.1"],
    ),
    answered(
        "legacy-endpoints-hostname",
        "pg-main.legacy.shop.svc.cluster.local",
        "A",
        ["pg-main.legacy.shop.svc.cluster.local. 5 IN A 10.244.4.1"],
    ),
    nxdomain("legacy-endpoints-not-ready-nxdomain", "10-244-4-2.legacy.shop.svc.cluster.local"),
    answered(
        "legacy-endpoints-srv",
        "_pg._tcp.legacy.shop.svc.cluster.local",
        "SRV",
        [
            "_pg._tcp.legacy.shop.svc.cluster.local. 5 IN SRV 0 100 5432 "
            "pg-main.legacy.shop.svc.cluster.local."
        ],
        additional=["pg-main.legacy.shop.svc.cluster.local. 5 IN A 10.244.4.1"],
    ),
    answered(
        "slice-wins-over-legacy-endpoints",
        "both.shop.svc.cluster.local",
        "A",
        ["both.shop.svc.cluster.local. 5 IN A 10.244.5.1"],
    ),
    nxdomain("slice-wins-legacy-address-absent-nxdomain", "10-244-5-2.both.shop.svc.cluster.local"),
    answered(
        "pod-names-off-dashed-name",
        "10-244-6-1.podnamed.shop.svc.cluster.local",
        "A",
        ["10-244-6-1.podnamed.shop.svc.cluster.local. 5 IN A 10.244.6.1"],
    ),
    nxdomain("pod-names-off-pod-name-nxdomain", "worker-a.podnamed.shop.svc.cluster.local"),
    answered(
        "pod-names-on-pod-name",
        "worker-a.podnamed.shop.svc.cluster.local",
        "A",
        ["worker-a.podnamed.shop.svc.cluster.local. 5 IN A 10.244.6.1"],
        settings=POD_NAMES,
    ),
    answered(
        "pod-names-on-invalid-pod-name-stays-dashed",
        "10-244-6-2.podnamed.shop.svc.cluster.local",
        "A",
        ["10-244-6-2.podnamed.shop.svc.cluster.local. 5 IN A 10.244.6.2"],
        settings=POD_NAMES,
    ),
    nxdomain(
        "pod-names-on-dashed-name-replaced-nxdomain",
        "10-244-6-1.podnamed.shop.svc.cluster.local",
        settings=POD_NAMES,
    ),
    answered(
        "pod-names-on-hostname-still-wins",
        "db-0.db.shop.svc.cluster.local",
        "A",
        DB_HOSTS[:1],
        settings=POD_NAMES,
    ),
    answered(
        "pod-names-on-srv-targets",
        "_gossip._udp.peers.shop.svc.cluster.local",
        "SRV",
        [
            "_gossip._udp.peers.shop.svc.cluster.local. 5 IN SRV 0 50 7000 "
            "peers-0.peers.shop.svc.cluster.local.",
            "_gossip._udp.peers.shop.svc.cluster.local. 5 IN SRV 0 50 7000 "
            "peers-1.peers.shop.svc.cluster.local.",
        ],
        additional=[
            "peers-0.peers.shop.svc.cluster.local. 5 IN A 10.244.3.1",
            "peers-1.peers.shop.svc.cluster.local. 5 IN A 10.244.3.2",
        ],
        settings=POD_NAMES,
    ),
    # -- ExternalName Services (spec 2.5) ------------------------------------------------
    answered("external-name-a", "ext.shop.svc.cluster.local", "A", [EXT_CNAME]),
    answered("external-name-aaaa", "ext.shop.svc.cluster.local", "AAAA", [EXT_CNAME]),
    answered("external-name-txt", "ext.shop.svc.cluster.local", "TXT", [EXT_CNAME]),
    answered("external-name-srv", "ext.shop.svc.cluster.local", "SRV", [EXT_CNAME]),
    answered("external-name-mx", "ext.shop.svc.cluster.local", "MX", [EXT_CNAME]),
    answered("external-name-cname", "ext.shop.svc.cluster.local", "CNAME", [EXT_CNAME]),
    answered("external-name-any", "ext.shop.svc.cluster.local", "ANY", [EXT_CNAME]),
    answered(
        "external-name-mixed-case-owner-echoed",
        "Ext.Shop.Svc.Cluster.Local",
        "A",
        ["Ext.Shop.Svc.Cluster.Local. 5 IN CNAME www.example.com."],
    ),
    answered(
        "external-name-in-zone-chased",
        "alias.shop.svc.cluster.local",
        "A",
        [WEB_CNAME_ALIAS, WEB_A],
    ),
    answered(
        "external-name-in-zone-chased-mixed-case",
        "ALIAS.shop.svc.cluster.local",
        "A",
        ["ALIAS.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.cluster.local.", WEB_A],
    ),
    row(
        "external-name-in-zone-target-lacks-type",
        "alias.shop.svc.cluster.local",
        "AAAA",
        "NOERROR",
        [WEB_CNAME_ALIAS],
        [SOA],
    ),
    answered(
        "external-name-in-zone-any-is-the-cname-alone",
        "alias.shop.svc.cluster.local",
        "ANY",
        [WEB_CNAME_ALIAS],
    ),
    answered(
        "external-name-in-zone-cname-not-chased",
        "alias.shop.svc.cluster.local",
        "CNAME",
        [WEB_CNAME_ALIAS],
    ),
    row(
        "external-name-dangling-nxdomain-with-cname",
        "dangling.shop.svc.cluster.local",
        "A",
        "NXDOMAIN",
        ["dangling.shop.svc.cluster.local. 5 IN CNAME nothing.shop.svc.cluster.local."],
        [SOA],
    ),
    answered(
        "external-name-loop-stops",
        "loop-a.shop.svc.cluster.local",
        "A",
        [
            "loop-a.shop.svc.cluster.local. 5 IN CNAME loop-b.shop.svc.cluster.local.",
            "loop-b.shop.svc.cluster.local. 5 IN CNAME loop-a.shop.svc.cluster.local.",
        ],
    ),
    answered(
        "external-name-loop-stops-other-end",
        "loop-b.shop.svc.cluster.local",
        "AAAA",
        [
            "loop-b.shop.svc.cluster.local. 5 IN CNAME loop-a.shop.svc.cluster.local.",
            "loop-a.shop.svc.cluster.local. 5 IN CNAME loop-b.shop.svc.cluster.local.",
        ],
    ),
    nxdomain("external-name-ip-address-nxdomain", "ipname.shop.svc.cluster.local"),
    nxdomain("external-name-ip-address-cname-nxdomain", "ipname.shop.svc.cluster.local", "CNAME"),
    # -- reverse lookups (spec 2.3.4, 2.4.4) ---------------------------------------------
    answered(
        "ptr-cluster-ip",
        "10.100.96.10.in-addr.arpa",
        "PTR",
        ["10.100.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-mixed-case-owner-echoed",
        "10.100.96.10.IN-ADDR.Arpa",
        "PTR",
        ["10.100.96.10.IN-ADDR.Arpa. 5 IN PTR web.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-any",
        "10.100.96.10.in-addr.arpa",
        "ANY",
        ["10.100.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-dual-stack-v4",
        "30.100.96.10.in-addr.arpa",
        "PTR",
        ["30.100.96.10.in-addr.arpa. 5 IN PTR dual.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-dual-stack-v6",
        REV_DUAL_V6,
        "PTR",
        [f"{REV_DUAL_V6} 5 IN PTR dual.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-v6-upper-case-nibbles-echoed",
        REV_DUAL_V6.upper(),
        "PTR",
        [f"{REV_DUAL_V6.upper()} 5 IN PTR dual.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-headless-endpoint-hostname",
        "10.2.244.10.in-addr.arpa",
        "PTR",
        ["10.2.244.10.in-addr.arpa. 5 IN PTR db-0.db.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-headless-published-not-ready-dashed",
        "2.3.244.10.in-addr.arpa",
        "PTR",
        ["2.3.244.10.in-addr.arpa. 5 IN PTR 10-244-3-2.peers.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-legacy-endpoint",
        "1.4.244.10.in-addr.arpa",
        "PTR",
        ["1.4.244.10.in-addr.arpa. 5 IN PTR pg-main.legacy.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-headless-v6-endpoint",
        REV_V6_EP,
        "PTR",
        [f"{REV_V6_EP} 5 IN PTR fd00-10-244--5.v6.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-headless-v6-trailing-zero-name",
        REV_V6_DB8,
        "PTR",
        [f"{REV_V6_DB8} 5 IN PTR 2001-db8--0.v6.shop.svc.cluster.local."],
    ),
    answered(
        "ptr-pod-names-on",
        "1.6.244.10.in-addr.arpa",
        "PTR",
        ["1.6.244.10.in-addr.arpa. 5 IN PTR worker-a.podnamed.shop.svc.cluster.local."],
        settings=POD_NAMES,
    ),
    nodata("reverse-name-asked-a-nodata", "10.100.96.10.in-addr.arpa", "A", soa=SOA_IN_ADDR),
    nodata("reverse-v6-name-asked-aaaa-nodata", REV_DUAL_V6, "AAAA", soa=SOA_IP6),
    refused("reverse-unknown-address-refused", "8.8.8.8.in-addr.arpa", "PTR"),
    refused("reverse-not-ready-endpoint-refused", "12.2.244.10.in-addr.arpa", "PTR"),
    # Endpoints behind a ClusterIP have names and PTRs too (CoreDNS; the spec is silent).
    answered(
        "ptr-clusterip-endpoint-dashed-name",
        "10.1.244.10.in-addr.arpa",
        "PTR",
        ["10.1.244.10.in-addr.arpa. 5 IN PTR 10-244-1-10.web.shop.svc.cluster.local."],
    ),
    answered(
        "clusterip-endpoint-name-a",
        "10-244-1-10.web.shop.svc.cluster.local",
        "A",
        ["10-244-1-10.web.shop.svc.cluster.local. 5 IN A 10.244.1.10"],
    ),
    answered(
        "clusterip-endpoint-pod-name-with-flag",
        "web-0.web.shop.svc.cluster.local",
        "A",
        ["web-0.web.shop.svc.cluster.local. 5 IN A 10.244.1.10"],
        settings=POD_NAMES,
    ),
    nxdomain("clusterip-endpoint-pod-name-without-flag", "web-0.web.shop.svc.cluster.local"),
    refused("reverse-unknown-v6-refused", reverse("2001:db8::1"), "PTR"),
    # -- pod names, --pods insecure (the default) ----------------------------------------
    answered(
        "pods-insecure-any-address",
        "10-244-9-9.shop.pod.cluster.local",
        "A",
        ["10-244-9-9.shop.pod.cluster.local. 5 IN A 10.244.9.9"],
    ),
    answered(
        "pods-insecure-mixed-case-owner-echoed",
        "10-244-9-9.SHOP.Pod.cluster.local",
        "A",
        ["10-244-9-9.SHOP.Pod.cluster.local. 5 IN A 10.244.9.9"],
    ),
    answered(
        "pods-insecure-namespace-without-services",
        "10-244-9-9.empty.pod.cluster.local",
        "A",
        ["10-244-9-9.empty.pod.cluster.local. 5 IN A 10.244.9.9"],
    ),
    nodata("pods-insecure-aaaa-of-v4-name-nodata", "10-244-9-9.shop.pod.cluster.local", "AAAA"),
    answered(
        "pods-insecure-dashed-v6",
        "fd00-10-244--77.tools.pod.cluster.local",
        "AAAA",
        ["fd00-10-244--77.tools.pod.cluster.local. 5 IN AAAA fd00:10:244::77"],
    ),
    nodata("pods-insecure-a-of-v6-name-nodata", "fd00-10-244--77.tools.pod.cluster.local", "A"),
    answered(
        "pods-insecure-upper-case-v6-label-echoed",
        "FD00-10-244--77.Tools.pod.cluster.local",
        "AAAA",
        ["FD00-10-244--77.Tools.pod.cluster.local. 5 IN AAAA fd00:10:244::77"],
    ),
    nxdomain("pods-insecure-not-an-address-nxdomain", "not-an-ip.shop.pod.cluster.local"),
    nxdomain("pods-insecure-unknown-namespace-nxdomain", "10-244-9-9.nosuchns.pod.cluster.local"),
    nxdomain("pods-insecure-deeper-name-nxdomain", "x.10-244-9-9.shop.pod.cluster.local"),
    # -- pod names, --pods verified ------------------------------------------------------
    answered(
        "pods-verified-running-pod",
        "10-244-1-10.shop.pod.cluster.local",
        "A",
        ["10-244-1-10.shop.pod.cluster.local. 5 IN A 10.244.1.10"],
        settings=VERIFIED,
    ),
    answered(
        "pods-verified-second-ip-of-dual-stack-pod",
        "fd00-10-244--77.tools.pod.cluster.local",
        "AAAA",
        ["fd00-10-244--77.tools.pod.cluster.local. 5 IN AAAA fd00:10:244::77"],
        settings=VERIFIED,
    ),
    answered(
        "pods-verified-first-ip-of-dual-stack-pod",
        "10-244-7-7.tools.pod.cluster.local",
        "A",
        ["10-244-7-7.tools.pod.cluster.local. 5 IN A 10.244.7.7"],
        settings=VERIFIED,
    ),
    nxdomain(
        "pods-verified-unknown-ip-nxdomain", "10-244-9-9.shop.pod.cluster.local", settings=VERIFIED
    ),
    nxdomain(
        "pods-verified-wrong-namespace-nxdomain",
        "10-244-1-10.tools.pod.cluster.local",
        settings=VERIFIED,
    ),
    nxdomain(
        "pods-verified-succeeded-pod-nxdomain",
        "10-244-1-99.shop.pod.cluster.local",
        settings=VERIFIED,
    ),
    nodata("pods-verified-namespace-nodata", "shop.pod.cluster.local", "A", settings=VERIFIED),
    # -- pod names, --pods disabled ------------------------------------------------------
    nxdomain("pods-disabled-nxdomain", "10-244-1-10.shop.pod.cluster.local", settings=DISABLED),
    nxdomain(
        "pods-disabled-v6-nxdomain",
        "fd00-10-244--77.tools.pod.cluster.local",
        "AAAA",
        settings=DISABLED,
    ),
    # -- namespace filter ----------------------------------------------------------------
    answered(
        "only-shop-serves-shop", "web.shop.svc.cluster.local", "A", [WEB_A], namespaces=ONLY_SHOP
    ),
    nxdomain(
        "only-shop-other-service-nxdomain", "api.tools.svc.cluster.local", namespaces=ONLY_SHOP
    ),
    nxdomain("only-shop-other-namespace-nxdomain", "tools.svc.cluster.local", namespaces=ONLY_SHOP),
    nxdomain(
        "only-shop-pod-in-other-namespace-nxdomain",
        "10-244-7-7.tools.pod.cluster.local",
        namespaces=ONLY_SHOP,
    ),
    # -- outside the zones we serve ------------------------------------------------------
    refused("outside-example-com-refused", "example.com"),
    refused("outside-kubernetes-io-refused", "kubernetes.io", "AAAA"),
    refused("outside-mixed-case-refused", "WWW.Example.COM"),
    refused("outside-parent-of-zone-refused", "local", "SOA"),
    refused("outside-suffix-lookalike-refused", "web.shop.svc.notcluster.local"),
    refused("outside-with-edns-refused", "example.com", "A", edns=True),
    # -- another zone --------------------------------------------------------------------
    answered(
        "other-zone-clusterip-a",
        "web.shop.svc.example.internal",
        "A",
        ["web.shop.svc.example.internal. 5 IN A 10.96.100.10"],
        settings=OTHER_ZONE,
    ),
    answered(
        "other-zone-apex-soa", "example.internal", "SOA", [SOA_OTHER_ZONE], settings=OTHER_ZONE
    ),
    answered(
        "other-zone-ns-dns",
        "ns.dns.example.internal",
        "A",
        ["ns.dns.example.internal. 5 IN A 10.96.0.10"],
        settings=OTHER_ZONE,
    ),
    nxdomain(
        "other-zone-nxdomain-soa",
        "nosuch.shop.svc.example.internal",
        soa=SOA_OTHER_ZONE,
        settings=OTHER_ZONE,
    ),
    answered(
        "other-zone-cluster-local-target-not-chased",
        "alias.shop.svc.example.internal",
        "A",
        ["alias.shop.svc.example.internal. 5 IN CNAME web.shop.svc.cluster.local."],
        settings=OTHER_ZONE,
    ),
    answered(
        "other-zone-ptr",
        "10.100.96.10.in-addr.arpa",
        "PTR",
        ["10.100.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.example.internal."],
        settings=OTHER_ZONE,
    ),
    refused("other-zone-default-zone-refused", "web.shop.svc.cluster.local", settings=OTHER_ZONE),
    # -- the clusterset zone (MCS API DNS spec 1.0.0, KEP 1645; issue 16) ------------------
    *MULTICLUSTER_ROWS,
]


# -- the test -------------------------------------------------------------------------------


def absolute(name: str) -> str:
    return name if name.endswith(".") else name + "."


def expected_lines(lines: Iterable[str]) -> list[str]:
    """Zone-file lines as dnspython prints the same records."""
    out = []
    for line in lines:
        owner, ttl, rdclass, rdtype, rdata = line.split(maxsplit=4)
        out.append(dns.rrset.from_text(owner, int(ttl), rdclass, rdtype, rdata).to_text())
    return out


def reply_lines(section: Iterable[dns.rrset.RRset]) -> list[str]:
    return [line for rrset in section for line in rrset.to_text().splitlines()]


def same_records(got: list[str], want: list[str], *, fold_case: bool) -> bool:
    def norm(lines: list[str]) -> list[str]:
        return sorted(line.lower() if fold_case else line for line in lines)

    return norm(got) == norm(want)


@pytest.mark.parametrize("cache", ["cold", "warm"])
@pytest.mark.parametrize("row", ROWS)
def test_answer(row: Row, cache: str) -> None:
    """Every row twice: answered in full (a fresh wire cache), and from the wire cache after
    the same question was asked in the opposite letter case (the splice must restore it)."""
    shared = handler_for(row.fixture, row.settings, row.namespaces)
    handler = Handler(shared.state)
    use_edns = 0 if row.edns else False
    if cache == "warm":
        warm = dns.message.make_query(row.qname.swapcase(), row.qtype, use_edns=use_edns)
        assert handler.handle(warm.to_wire(), udp=False) is not None
    query = dns.message.make_query(row.qname, row.qtype, use_edns=use_edns)
    wire = handler.handle(query.to_wire(), udp=False)
    assert wire is not None
    reply = dns.message.from_wire(wire)

    assert reply.id == query.id
    assert dns.rcode.to_text(reply.rcode()) == row.rcode
    assert reply.flags & dns.flags.QR
    assert not reply.flags & dns.flags.TC
    in_zone = row.rcode != "REFUSED"
    assert bool(reply.flags & dns.flags.AA) == in_zone, "AA on in-zone answers only"
    assert reply.edns == (0 if row.edns else -1)

    # The question comes back exactly as sent, letter case included.
    assert len(reply.question) == 1
    question = reply.question[0]
    assert question.name.to_text() == absolute(row.qname)
    assert question.rdtype == dns.rdatatype.from_text(row.qtype)

    answer = reply_lines(reply.answer)
    authority = reply_lines(reply.authority)
    additional = reply_lines(reply.additional)
    assert same_records(answer, expected_lines(row.answer), fold_case=False), answer
    assert same_records(authority, expected_lines(row.authority), fold_case=True), authority
    assert same_records(additional, expected_lines(row.additional), fold_case=True), additional

    # Answer RRsets owned by the queried name carry the client's spelling of it.
    for rrset in reply.answer:
        if rrset.name == question.name:
            assert rrset.name.to_text() == question.name.to_text()

    # The header counts every RR on the wire: no duplicate hides in dnspython's merging.
    _, _, _, ancount, nscount, arcount = struct.unpack_from("!6H", wire)
    assert ancount == len(row.answer)
    assert nscount == len(row.authority)
    assert arcount == len(row.additional) + (1 if row.edns else 0)


def test_table_is_well_formed() -> None:
    ids = [param.id for param in ROWS]
    assert len(ids) >= 90
    assert len(set(ids)) == len(ids), "row ids must be unique"
    for row_id in ids:
        assert row_id is not None and re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", row_id), row_id
    for param in ROWS:
        row_: Row = param.values[0]
        negative = row_.rcode == "NXDOMAIN" or (row_.rcode == "NOERROR" and not row_.answer)
        if negative:
            assert len(row_.authority) == 1 and " SOA " in row_.authority[0], param.id
