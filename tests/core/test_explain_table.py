"""`core.explain` for SRV and PTR names: one row per situation, over objects built here.

Each row's SRV or PTR lines must also be the records the index holds: the explanation
names every record the answer gives, and no other.
"""

from __future__ import annotations

from typing import Any

import builders
import pytest
from builders import endpoint, port, slice_of

from svcdns.core.convert import from_dict
from svcdns.core.explain import explain
from svcdns.core.model import Upsert
from svcdns.core.rr import RRType, SRVData
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ZoneSettings

DB = "db.shop.svc.cluster.local"
MYSQL = f"_mysql._tcp.{DB}"
NOT_FORWARDED = "not forwarded."


def service(
    *ports: tuple[str, int] | tuple[str, int, str],
    publish_not_ready: bool = False,
    cluster_ip: str = "None",
) -> dict[str, Any]:
    """Service shop/db, headless unless given a ClusterIP, with these (name, number[,
    protocol]) ports, TCP unless said."""
    spec: dict[str, Any] = {
        "clusterIP": cluster_ip,
        "ports": [{"name": p[0], "port": p[1], "protocol": (*p, "TCP")[2]} for p in ports],
        "publishNotReadyAddresses": publish_not_ready,
    }
    return {"kind": "Service", "metadata": {"name": "db", "namespace": "shop"}, "spec": spec}


def slice_(
    name: str, *endpoints: Any, ports: tuple[tuple[str, int], ...], family: str = "IPv4"
) -> dict[str, Any]:
    return slice_of("db", name, endpoints, ports=[port(n, p) for n, p in ports], family=family)


MYSQL_PORT = (("mysql", 3306),)
DB_0 = endpoint("10.244.2.10", pod="db-0", hostname="db-0")


def loaded(objects: list[dict[str, Any]], settings: ZoneSettings) -> ClusterState:
    state = ClusterState(settings)
    events = [Upsert(obj) for raw in objects if (obj := from_dict(raw)) is not None]
    state.apply_all(events, now=0)
    return state


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-b", DB_0, ports=MYSQL_PORT),
            ],
            [
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a; "
                "endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-b."
            ],
            id="same-port-in-two-slices-one-record-both-slices",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-b", endpoint("10.244.2.10", pod="db-0"), ports=MYSQL_PORT),
            ],
            [
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a; "
                "endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-b."
            ],
            id="first-slice-names-the-target",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-b", DB_0, ports=(("mysql", 3307),)),
            ],
            [
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a.",
                f"SRV 3307 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-b.",
            ],
            id="address-in-two-slices-with-different-ports-has-both",
        ),
        pytest.param(
            [service(("mysql", 3306)), slice_("db-a", DB_0, ports=(("other", 1),))],
            ["port mysql/TCP is on the Service but in no EndpointSlice, so no SRV."],
            id="port-on-the-service-only",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint("10.244.2.12", pod="db-2", ready=False), ports=MYSQL_PORT),
            ],
            [
                "no ready endpoint has port mysql/TCP, so no SRV; "
                "not ready: 10.244.2.12 (pod db-2) from db-a."
            ],
            id="no-ready-endpoint",
        ),
        pytest.param(
            [
                service(("mysql", 3306), publish_not_ready=True),
                slice_("db-a", endpoint("10.244.2.12", pod="db-2", ready=False), ports=MYSQL_PORT),
            ],
            [f"SRV 3306 10-244-2-12.{DB}: endpoint 10.244.2.12 (pod db-2) of EndpointSlice db-a."],
            id="publish-not-ready-addresses",
        ),
        pytest.param(
            [service(("mysql", 3306))],
            ["no endpoint at all (no EndpointSlice selects a pod), so no SRV."],
            id="no-slice",
        ),
        pytest.param(
            [service(("mysql", 3306)), slice_("db-a", ports=MYSQL_PORT)],
            ["no endpoint has port mysql/TCP, so no SRV."],
            id="slice-without-endpoints",
        ),
        pytest.param(
            [
                service(("mysql", 3306), ("metrics", 9)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-m", endpoint("10.244.2.30", pod="db-9"), ports=(("metrics", 9),)),
            ],
            [
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a.",
                "ready, but their EndpointSlice has no port mysql/TCP: "
                "10.244.2.30 (pod db-9) from db-m.",
            ],
            id="ready-endpoint-in-a-slice-without-the-port",
        ),
        pytest.param(
            [service(("", 3306)), slice_("db-a", DB_0, ports=(("", 3306),))],
            [
                "no port named mysql with protocol TCP (it has: no named port); "
                "an unnamed port has no SRV (spec 2.4.2): 3306/TCP."
            ],
            id="unnamed-port",
        ),
    ],
)
def test_headless_srv(objects: list[dict[str, Any]], expected: list[str]) -> None:
    state = loaded(objects, ZoneSettings())
    reasons = explain(state, MYSQL, forwarding=NOT_FORWARDED)
    assert reasons == ["Service shop/db is headless (clusterIP: None).", *expected]
    assert _srv_lines(reasons) == _srv_records(state, MYSQL)


def test_endpoint_pod_names_name_the_targets() -> None:
    objects = [
        service(("mysql", 3306)),
        slice_("db-a", endpoint("10.244.2.10", pod="db-0"), ports=MYSQL_PORT),
    ]
    state = loaded(objects, ZoneSettings(endpoint_pod_names=True))
    reasons = explain(state, MYSQL, forwarding=NOT_FORWARDED)
    assert (
        reasons[1] == f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a."
    )
    assert _srv_lines(reasons) == _srv_records(state, MYSQL)


def test_ptr_of_a_legacy_endpoints_address() -> None:
    legacy = {
        "kind": "Endpoints",
        "metadata": {"name": "db", "namespace": "shop"},
        "subsets": [{"addresses": [{"ip": "10.244.3.7", "hostname": "pg-main"}]}],
    }
    state = loaded([service(("mysql", 3306)), legacy], ZoneSettings())
    reasons = explain(state, "7.3.244.10.in-addr.arpa", forwarding=NOT_FORWARDED)
    assert reasons[1:] == [
        f"PTR pg-main.{DB}: Service shop/db (headless), "
        "endpoint 10.244.3.7 of Endpoints db (spec 2.4.4)."
    ]


def test_a_reverse_name_with_no_record_says_where_it_would_go() -> None:
    state = loaded([service(("mysql", 3306))], ZoneSettings())
    reasons = explain(state, "7.3.244.10.in-addr.arpa", forwarding=NOT_FORWARDED)
    assert reasons == [f"not the address of a Service or endpoint here: {NOT_FORWARDED}"]


CLUSTER_IP = "10.96.0.5"
AT_THE_CLUSTER_IP = (
    "one SRV per port of the Service, unnamed ones too, to the Service name itself, which "
    "answers its ClusterIP(s) (as CoreDNS; the spec is silent)."
)
AT_EACH_ENDPOINT = (
    "one SRV per port of each ready endpoint, unnamed ones too, to the endpoint's name "
    "(as CoreDNS; the spec is silent)."
)
AT_THE_ENDPOINT = (
    "one SRV per port of the endpoint, unnamed ones too, to the endpoint name itself "
    "(as CoreDNS; the spec is silent)."
)
LONG_PORT = "p" * 63  # Kubernetes accepts it; `_<port>` is then a 64-octet label


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param(
            [service(("http", 80), ("", 8080), cluster_ip=CLUSTER_IP)],
            [
                AT_THE_CLUSTER_IP,
                f"SRV 80 {DB}: port http/TCP of the Service.",
                f"SRV 8080 {DB}: unnamed port 8080/TCP of the Service.",
            ],
            id="clusterip-every-port-unnamed-too",
        ),
        pytest.param(
            [service(("dns", 53, "UDP"), ("dns-tcp", 53), cluster_ip=CLUSTER_IP)],
            [
                AT_THE_CLUSTER_IP,
                f"SRV 53 {DB}: port dns/UDP of the Service; port dns-tcp/TCP of the Service.",
            ],
            id="clusterip-one-number-two-protocols-one-record",
        ),
        pytest.param(
            [service(cluster_ip=CLUSTER_IP)],
            ["the Service has no port, so no SRV."],
            id="clusterip-without-ports",
        ),
        pytest.param(
            [service((LONG_PORT, 8443), cluster_ip=CLUSTER_IP)],
            [
                AT_THE_CLUSTER_IP,
                f"SRV 8443 {DB}: port {LONG_PORT}/TCP of the Service.",
                f"left out: the SRV records of port {LONG_PORT}/TCP at its own name, which is "
                f"not a DNS name: '_{LONG_PORT}._tcp.{DB}' (a label of 64 octets, over 63).",
            ],
            id="clusterip-port-name-of-63-characters",
        ),
        pytest.param(
            [
                service(("mysql", 3306), ("", 9104)),
                slice_(
                    "db-a",
                    DB_0,
                    endpoint("10.244.2.11", pod="db-1"),
                    endpoint("10.244.2.12", pod="db-2", ready=False),
                    ports=(("mysql", 3306), ("", 9104)),
                ),
            ],
            [
                AT_EACH_ENDPOINT,
                f"SRV 3306 10-244-2-11.{DB}: port mysql/TCP of endpoint 10.244.2.11 (pod db-1) "
                "of EndpointSlice db-a.",
                f"SRV 3306 db-0.{DB}: port mysql/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-a.",
                f"SRV 9104 10-244-2-11.{DB}: unnamed port 9104/TCP of endpoint 10.244.2.11 "
                "(pod db-1) of EndpointSlice db-a.",
                f"SRV 9104 db-0.{DB}: unnamed port 9104/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-a.",
                "not ready, left out: 10.244.2.12 (pod db-2) from db-a.",
            ],
            id="headless-every-port-of-each-ready-endpoint",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-b", DB_0, ports=(("admin", 33062),)),
            ],
            [
                AT_EACH_ENDPOINT,
                f"SRV 3306 db-0.{DB}: port mysql/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-a.",
                f"SRV 33062 db-0.{DB}: port admin/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-b.",
            ],
            id="headless-address-in-two-slices-has-the-ports-of-both",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint("10.244.2.12", pod="db-2", ready=False), ports=MYSQL_PORT),
            ],
            [
                AT_EACH_ENDPOINT,
                "no ready endpoint has a port, so no SRV; not ready: 10.244.2.12 (pod db-2) "
                "from db-a.",
            ],
            id="headless-no-ready-endpoint",
        ),
        pytest.param(
            [service(("mysql", 3306)), slice_("db-a", DB_0, ports=())],
            [AT_EACH_ENDPOINT, "no EndpointSlice lists a port, so no SRV."],
            id="headless-slice-without-ports",
        ),
    ],
)
def test_srv_at_the_service_name(objects: list[dict[str, Any]], expected: list[str]) -> None:
    state = loaded(objects, ZoneSettings())
    reasons = explain(state, DB, forwarding=NOT_FORWARDED, qtype="SRV")
    assert reasons[1:] == expected
    assert _srv_lines(reasons) == _srv_records(state, DB)


@pytest.mark.parametrize(
    ("objects", "name", "expected"),
    [
        pytest.param(
            [
                service(("mysql", 3306), ("", 9104)),
                slice_("db-a", DB_0, ports=(("mysql", 3306), ("", 9104))),
            ],
            f"db-0.{DB}",
            [
                AT_THE_ENDPOINT,
                f"SRV 3306 db-0.{DB}: port mysql/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-a.",
                f"SRV 9104 db-0.{DB}: unnamed port 9104/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-a.",
            ],
            id="headless-every-port-of-the-endpoint",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-b", endpoint("10.244.2.10", pod="db-0"), ports=(("mysql", 3307),)),
            ],
            f"db-0.{DB}",
            [
                AT_THE_ENDPOINT,
                f"SRV 3306 db-0.{DB}: port mysql/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-a.",
                f"SRV 3307 db-0.{DB}: port mysql/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-b.",
            ],
            id="address-in-two-slices-named-by-the-first",
        ),
        pytest.param(
            [
                service(("http", 80), cluster_ip=CLUSTER_IP),
                slice_("db-a", endpoint("10.244.1.10", pod="web-0"), ports=(("http", 8080),)),
            ],
            f"10-244-1-10.{DB}",
            [
                AT_THE_ENDPOINT,
                f"SRV 8080 10-244-1-10.{DB}: port http/TCP of endpoint 10.244.1.10 (pod web-0) "
                "of EndpointSlice db-a.",
            ],
            id="endpoint-behind-a-clusterip-has-the-slice-port",
        ),
        pytest.param(
            [service(("mysql", 3306)), slice_("db-a", DB_0, ports=())],
            f"db-0.{DB}",
            [
                "endpoint 10.244.2.10 of EndpointSlice db-a, pod db-0: ready; it has no port, "
                "so no SRV."
            ],
            id="endpoint-without-ports",
        ),
    ],
)
def test_srv_at_an_endpoint_name(
    objects: list[dict[str, Any]], name: str, expected: list[str]
) -> None:
    state = loaded(objects, ZoneSettings())
    reasons = explain(state, name, forwarding=NOT_FORWARDED, qtype="SRV")
    assert reasons[1:] == expected
    assert _srv_lines(reasons) == _srv_records(state, name)


V6 = "fd00:10:244::"  # dashed, a label may not end in "-": fd00-10-244--0


@pytest.mark.parametrize(
    ("objects", "settings", "label", "expected"),
    [
        pytest.param(
            [service(("mysql", 3306)), slice_("db-a", DB_0, ports=MYSQL_PORT)],
            ZoneSettings(),
            "db-0",
            ["endpoint 10.244.2.10 of EndpointSlice db-a, pod db-0: ready."],
            id="hostname",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint("10.244.2.10", pod="db-0"), ports=MYSQL_PORT),
            ],
            ZoneSettings(),
            "db-0",
            [
                "endpoint 10.244.2.10 of EndpointSlice db-a, pod db-0 is named 10-244-2-10, "
                "not db-0: a pod name names an endpoint only with --endpoint-pod-names."
            ],
            id="pod-name-without-endpoint-pod-names",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint("10.244.2.10", pod="db-0"), ports=MYSQL_PORT),
            ],
            ZoneSettings(endpoint_pod_names=True),
            "db-0",
            ["endpoint 10.244.2.10 of EndpointSlice db-a, pod db-0: ready."],
            id="pod-name-with-endpoint-pod-names",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint(V6, pod="db-6"), ports=MYSQL_PORT, family="IPv6"),
            ],
            ZoneSettings(),
            "fd00-10-244--0",
            [f"endpoint {V6} of EndpointSlice db-a, pod db-6: ready."],
            id="dashed-ipv6-ending-in-a-zero",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint("10.244.2.10", pod="db-0"), ports=MYSQL_PORT),
                slice_(
                    "db-b", endpoint("10.244.2.10", pod="db-0", hostname="main"), ports=MYSQL_PORT
                ),
            ],
            ZoneSettings(),
            "main",
            [
                "endpoint 10.244.2.10 of EndpointSlice db-b, pod db-0 is named 10-244-2-10, "
                "not main: the first EndpointSlice by name that lists its address names it."
            ],
            id="hostname-of-a-second-slice",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint("10.244.2.12", pod="db-2", ready=False), ports=MYSQL_PORT),
            ],
            ZoneSettings(endpoint_pod_names=True),
            "db-2",
            ["endpoint 10.244.2.12 of EndpointSlice db-a, pod db-2: not ready (so no record)."],
            id="not-ready",
        ),
        pytest.param(
            [
                service(("mysql", 3306), publish_not_ready=True),
                slice_("db-a", endpoint("10.244.2.12", pod="db-2", ready=False), ports=MYSQL_PORT),
            ],
            ZoneSettings(),
            "10-244-2-12",
            [
                "endpoint 10.244.2.12 of EndpointSlice db-a, pod db-2: "
                "not ready, but published (publishNotReadyAddresses)."
            ],
            id="not-ready-but-published",
        ),
    ],
)
def test_endpoint_name_uses_the_zone_label_rule(
    objects: list[dict[str, Any]], settings: ZoneSettings, label: str, expected: list[str]
) -> None:
    """An endpoint name is explained by the rule that makes its records (`endpoint_label`,
    `ready_endpoints`): the endpoint it names is exactly the one whose address it answers."""
    state = loaded(objects, settings)
    name = f"{label}.{DB}"
    reasons = explain(state, name, forwarding=NOT_FORWARDED)
    assert reasons[1:] == expected
    explained = [line.split()[1] for line in expected if ": ready" in line or "published" in line]
    rrsets = state.index.rrsets.get(name) or {}
    served = [str(r.data) for t in (RRType.A, RRType.AAAA) for r in rrsets.get(t, ())]
    assert explained == served


LONG_ZONE = ".".join(["z" * 50] * 4)  # 205 octets: a 63-octet endpoint label is too many
LONG_HOST = "h" * 63


@pytest.mark.parametrize("at_the_service_name", [False, True], ids=["port-name", "service-name"])
def test_a_target_dns_cannot_carry_is_left_out_not_served(at_the_service_name: bool) -> None:
    objects = [
        service(("mysql", 3306)),
        slice_(
            "db-a", DB_0, endpoint("10.244.2.11", pod="db-1", hostname=LONG_HOST), ports=MYSQL_PORT
        ),
    ]
    state = loaded(objects, ZoneSettings(zone=LONG_ZONE))
    domain = f"db.shop.svc.{LONG_ZONE}"
    if at_the_service_name:
        name, reasons = domain, explain(state, domain, forwarding=NOT_FORWARDED, qtype="SRV")
    else:
        name = f"_mysql._tcp.{domain}"
        reasons = explain(state, name, forwarding=NOT_FORWARDED)
    assert _srv_lines(reasons) == _srv_records(state, name) == [(3306, f"db-0.{domain}")]
    (left_out,) = [line for line in reasons if line.startswith("left out: SRV")]
    assert left_out.startswith(f"left out: SRV 3306 {LONG_HOST}.{domain}: ")
    source = "endpoint 10.244.2.11 (pod db-1) of EndpointSlice db-a"
    assert f"{source}; the target is not a DNS name: '{LONG_HOST}" in left_out
    assert left_out.endswith("(281 octets, over 255).")


def test_an_owner_dns_cannot_carry_is_left_out() -> None:
    state = loaded([service((LONG_PORT, 8443), cluster_ip=CLUSTER_IP)], ZoneSettings())
    name = f"_{LONG_PORT}._tcp.{DB}"
    reasons = explain(state, name, forwarding=NOT_FORWARDED)
    assert reasons[1:] == [
        f"left out: the name is not a DNS name: '{name}' (a label of 64 octets, over 63); "
        "no record can have it."
    ]
    assert _srv_records(state, name) == []


def _srv_lines(reasons: list[str]) -> list[tuple[int, str]]:
    return [
        (int(line.split()[1]), line.split()[2].rstrip(":"))
        for line in reasons
        if line.startswith("SRV ")
    ]


def _srv_records(state: ClusterState, name: str) -> list[tuple[int, str]]:
    rrsets = state.index.rrsets.get(name) or {}
    found = []
    for record in rrsets.get(RRType.SRV, ()):
        assert isinstance(record.data, SRVData)
        found.append((record.data.port, record.data.target))
    return sorted(found)


# -- the clusterset zone (MCS API, KEP 1645; issue 16) ---------------------------------------

MC_DB = "db.shop.svc.clusterset.local"
CLUSTERSET = ZoneSettings(clusterset_zone="clusterset.local")
MC_OBJECTS = [
    builders.service_import("web", ips=["10.42.0.10"], ports=[port("http", 80)]),
    builders.service_import("db", ports=[port("mysql", 3306)]),
    builders.import_slice(
        "db",
        "cluster-a",
        [endpoint("10.1.0.10", hostname="db-0"), endpoint("10.1.0.12", ready=False)],
        ports=[port("mysql", 3306)],
    ),
    builders.service_import("lonely"),
]
MC_HEADLESS = "ServiceImport shop/db is Headless; its endpoints come from: cluster-a."
MC_DB_0 = "10.1.0.10: ready in cluster cluster-a, EndpointSlice db-cluster-a (MCS 2.4.1)."


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "web.shop.svc.clusterset.local",
            [
                "ServiceImport shop/web is ClusterSetIP, its IP(s): 10.42.0.10.",
                "A/AAAA: the ClusterSetIP(s) (MCS spec 2.3.1); SRV per named port (2.3.2).",
            ],
            id="clusterset-ip",
        ),
        pytest.param(MC_DB, [MC_HEADLESS, MC_DB_0], id="headless-ready-only"),
        pytest.param(f"db-0.cluster-a.{MC_DB}", [MC_HEADLESS, MC_DB_0], id="endpoint-name"),
        pytest.param(
            f"db-0.{MC_DB}",
            [
                MC_HEADLESS,
                "no such name: an endpoint is <hostname>.<clusterid> under the import (MCS spec "
                "2.4.1), and db-0 is no member cluster (they are: cluster-a).",
            ],
            id="endpoint-without-cluster",
        ),
        pytest.param(
            f"cluster-a.{MC_DB}",
            [MC_HEADLESS, "cluster-a is a member cluster: no record names it alone (2.4.4)."],
            id="cluster-alone",
        ),
        pytest.param(
            f"_mysql._tcp.{MC_DB}",
            [
                MC_HEADLESS,
                "SRV: port 3306 for each of 1 ready endpoint(s), target its name (2.4.2).",
            ],
            id="headless-srv",
        ),
        pytest.param(
            "lonely.shop.svc.clusterset.local",
            [
                "ServiceImport shop/lonely is Headless; its endpoints come from: no member "
                "cluster yet.",
                "no ready endpoint in any member cluster, so NXDOMAIN (MCS spec 2.4.1).",
            ],
            id="headless-without-endpoints",
        ),
        pytest.param(
            "10.0.42.10.in-addr.arpa",
            ["a clusterset address (MCS spec 2.3.3, 2.4.3): PTR web.shop.svc.clusterset.local."],
            id="clusterset-ip-ptr",
        ),
        pytest.param(
            "nope.shop.svc.clusterset.local",
            ["no ServiceImport nope in namespace shop."],
            id="no-such-import",
        ),
    ],
)
def test_clusterset_names(name: str, expected: list[str]) -> None:
    state = loaded(MC_OBJECTS, CLUSTERSET)
    assert explain(state, name, forwarding=NOT_FORWARDED) == expected
