"""convert: API dicts -> slim model objects; bad objects raise ConversionError."""

from typing import Any

import builders
import pytest

from svcdns.core.convert import ConversionError, describe, from_dict
from svcdns.core.model import (
    Endpoint,
    EndpointGroup,
    EndpointSlice,
    KubeObject,
    Namespace,
    Pod,
    Port,
    Service,
    ServiceImport,
    ServiceKind,
)


def service(spec: dict[str, Any], name: str = "web") -> dict[str, Any]:
    return {"kind": "Service", "metadata": {"name": name, "namespace": "shop"}, "spec": spec}


def test_cluster_ip_service_keeps_ports_and_dual_stack_ips() -> None:
    raw = service(
        {
            "clusterIP": "10.96.0.30",
            "clusterIPs": ["10.96.0.30", "fd00:10:96:0:0:0:0:1e"],
            "ports": [{"name": "http", "port": 80}, {"port": 8080, "protocol": "udp"}],
        }
    )
    assert from_dict(raw) == Service(
        "shop",
        "web",
        ServiceKind.CLUSTER_IP,
        cluster_ips=("10.96.0.30", "fd00:10:96::1e"),  # normalised
        ports=(Port("http", 80, "TCP"), Port("", 8080, "UDP")),
    )


def test_headless_and_external_name() -> None:
    headless = from_dict(service({"clusterIP": "None", "publishNotReadyAddresses": True}))
    assert isinstance(headless, Service)
    assert headless.kind is ServiceKind.HEADLESS and headless.publish_not_ready
    ext = from_dict(service({"type": "ExternalName", "externalName": "www.example.com."}))
    assert isinstance(ext, Service)
    assert ext.kind is ServiceKind.EXTERNAL_NAME and ext.external_name == "www.example.com"


def test_endpoint_slice_ready_condition_absent_counts_as_ready() -> None:
    raw = {
        "kind": "EndpointSlice",
        "metadata": {
            "name": "db-1",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "db"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.244.2.10"], "hostname": "db-0"},
            {"addresses": ["10.244.2.12"], "conditions": {"ready": False}},
            {"addresses": ["10.244.2.13"], "targetRef": {"kind": "Pod", "name": "db-3"}},
        ],
        "ports": [{"name": "mysql", "port": 3306}, {"name": "all"}],
    }
    converted = from_dict(raw)
    assert isinstance(converted, EndpointSlice)
    assert converted.service == "db"
    (group,) = converted.groups
    assert group.endpoints == (
        Endpoint(("10.244.2.10",), ready=True, hostname="db-0"),
        Endpoint(("10.244.2.12",), ready=False),
        Endpoint(("10.244.2.13",), ready=True, pod_name="db-3"),
    )
    assert group.ports == (Port("mysql", 3306, "TCP"),)  # a port without number: no SRV


def test_legacy_endpoints_mark_not_ready_addresses() -> None:
    raw = {
        "kind": "Endpoints",
        "metadata": {"name": "legacy", "namespace": "shop"},
        "subsets": [
            {
                "addresses": [{"ip": "10.244.4.1", "hostname": "pg-main"}],
                "notReadyAddresses": [{"ip": "10.244.4.2"}],
                "ports": [{"name": "pg", "port": 5432}],
            }
        ],
    }
    converted = from_dict(raw)
    assert isinstance(converted, EndpointSlice) and converted.legacy
    assert [e.ready for e in converted.groups[0].endpoints] == [True, False]


def test_pod_ips_and_finished_pods() -> None:
    running = {
        "kind": "Pod",
        "metadata": {"name": "api-0", "namespace": "tools"},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.244.7.7"}, {"ip": "fd00::77"}]},
    }
    assert from_dict(running) == Pod("tools", "api-0", ("10.244.7.7", "fd00::77"))
    done = {**running, "status": {"phase": "Succeeded", "podIP": "10.244.7.7"}}
    assert from_dict(done) == Pod("tools", "api-0", ())


def test_namespace_and_ignored_kinds() -> None:
    assert from_dict({"kind": "Namespace", "metadata": {"name": "shop"}}) == Namespace("shop")
    assert from_dict({"kind": "ConfigMap", "metadata": {"name": "x"}}) is None


def test_kind_can_come_from_the_list() -> None:
    raw = {"metadata": {"name": "shop"}}  # items of a NamespaceList carry no kind
    assert from_dict(raw, "Namespace") == Namespace("shop")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(service({"ports": []}), "spec.clusterIP missing", id="no-cluster-ip"),
        pytest.param(service({"clusterIP": "10.96.0.300"}), "not an IP", id="bad-cluster-ip"),
        pytest.param(service({"type": "ExternalName"}), "externalName", id="no-external-name"),
        pytest.param(
            service({"clusterIP": "10.0.0.1", "ports": [{"port": 0}]}), "port", id="bad-port"
        ),
        pytest.param({"kind": "Service"}, "metadata", id="no-metadata"),
        pytest.param({"kind": "Service", "metadata": {}}, "metadata.name", id="no-name"),
        pytest.param(
            {"kind": "EndpointSlice", "metadata": {"name": "s"}, "addressType": "IPv4"},
            "kubernetes.io/service-name",
            id="slice-without-service-label",
        ),
        pytest.param(
            {
                "kind": "EndpointSlice",
                "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "x"}},
                "addressType": "IPv4",
                "endpoints": [{"conditions": {}}],
            },
            "addresses",
            id="endpoint-without-addresses",
        ),
    ],
)
def test_missing_fields_raise_a_named_error(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConversionError, match=message):
        from_dict(raw)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(service({"clusterIP": "10.0.0.1", "ports": ["http"]}), id="port-not-object"),
        pytest.param(service({"clusterIP": "10.0.0.1", "ports": 5}), id="ports-not-list"),
        pytest.param(service({"clusterIPs": "10.0.0.1"}), id="cluster-ips-a-string"),
        pytest.param(
            {
                "kind": "EndpointSlice",
                "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "x"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.0.0.1"], "conditions": "yes"}],
            },
            id="conditions-not-object",
        ),
        pytest.param(
            {"kind": "Pod", "metadata": {"name": "p"}, "status": {"podIPs": [1]}},
            id="pod-ip-not-object",
        ),
    ],
)
def test_wrongly_shaped_fields_are_conversion_errors(raw: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        from_dict(raw)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"clusterIP": "10.0.0.1", "ports": [{"port": True}]}, id="port-true"),
        pytest.param({"clusterIP": "fe80::1%eth0"}, id="ipv6-zone-id"),
        pytest.param({"clusterIP": 167772161}, id="ip-as-integer"),
        pytest.param({"type": "ExternalName", "externalName": "a b..c"}, id="external-spaces"),
        pytest.param({"type": "ExternalName", "externalName": "x" * 64 + ".com"}, id="long-label"),
        pytest.param({"type": "ExternalName", "externalName": "ünï.example"}, id="not-ascii"),
    ],
)
def test_values_dns_cannot_carry_are_rejected(spec: dict[str, Any]) -> None:
    with pytest.raises(ConversionError):
        from_dict(service(spec))


def slice_item() -> dict[str, Any]:
    """An EndpointSlice as an item of an API list: neither kind nor apiVersion."""
    return {
        "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4",
    }


CORE_WEB = Service("shop", "web", ServiceKind.CLUSTER_IP, cluster_ips=("10.0.0.1",))
SLICE = EndpointSlice("default", "s", "web", (EndpointGroup((), ()),))
WEB_SPEC = {"clusterIP": "10.0.0.1"}


@pytest.mark.parametrize(
    ("raw", "kind", "list_version", "expected"),
    [
        pytest.param({"apiVersion": "v1", **service(WEB_SPEC)}, None, "", CORE_WEB, id="core"),
        pytest.param(service(WEB_SPEC), None, "", CORE_WEB, id="no-api-version-means-ours"),
        pytest.param(
            {"apiVersion": "serving.knative.dev/v1", **service(WEB_SPEC)},
            None,
            "",
            None,
            id="knative-service",
        ),
        # Knative's Service as printed has no clusterIP: ignored, not an error to warn of.
        pytest.param(
            {"apiVersion": "serving.knative.dev/v1", **service({})},
            None,
            "",
            None,
            id="knative-service-as-printed",
        ),
        pytest.param(
            {"apiVersion": ["v1"], **service(WEB_SPEC)}, None, "", None, id="not-a-string"
        ),
        pytest.param({"apiVersion": "V1", **service(WEB_SPEC)}, None, "", None, id="exact"),
        pytest.param(slice_item(), "EndpointSlice", "discovery.k8s.io/v1", SLICE, id="v1-list"),
        pytest.param(
            slice_item(), "EndpointSlice", "discovery.k8s.io/v1beta1", None, id="v1beta1-list"
        ),
        pytest.param(slice_item(), "EndpointSlice", "", SLICE, id="api-list-item"),
        pytest.param(
            {"apiVersion": "discovery.k8s.io/v1", **slice_item()},
            "EndpointSlice",
            "discovery.k8s.io/v1beta1",
            SLICE,
            id="own-api-version-before-the-lists",
        ),
        pytest.param(
            {"apiVersion": "v1", **slice_item()}, "EndpointSlice", "", None, id="slice-core-v1"
        ),
        pytest.param(
            {"apiVersion": "apps/v1", "metadata": {"name": "p"}}, "Pod", "", None, id="apps-v1"
        ),
        pytest.param(
            {"apiVersion": "v1", "metadata": {"name": "p"}},
            "Endpoints",
            "",
            EndpointSlice("default", "p", "p", (), legacy=True),
            id="endpoints-v1",
        ),
        pytest.param(
            {"apiVersion": "v1", "metadata": {"name": "ns"}},
            "Namespace",
            "",
            Namespace("ns"),
            id="namespace-v1",
        ),
    ],
)
def test_only_core_v1_and_discovery_v1_are_read(
    raw: dict[str, Any], kind: str | None, list_version: str, expected: KubeObject | None
) -> None:
    assert from_dict(raw, kind, list_version) == expected


# -- every message that quotes input is bounded (issue 9, fault 2) ---------------------------

HUGE = "9" * 1_000_000
NESTED: Any = {"a": [{"b": ["x" * 1000] * 1000}] * 1000}  # a billion characters if rendered
SERVICE_SPEC = {"clusterIP": "10.96.0.9", "ports": [{"port": 80, "protocol": "TCP"}]}


def service_with(spec: dict[str, Any], name: Any = "web") -> dict[str, Any]:
    metadata = {"name": name, "namespace": "shop"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            service_with({**SERVICE_SPEC, "clusterIP": HUGE}),
            "spec.clusterIPs '" + "9" * 100 + "'... (1000000 characters) is not an IP address",
            id="clusterIP-1MB",
        ),
        pytest.param(
            service_with({**SERVICE_SPEC, "clusterIP": list(range(100_000))}),
            "spec.clusterIPs a list of 100000 is not an IP address",
            id="clusterIP-list",
        ),
        pytest.param(
            service_with({**SERVICE_SPEC, "clusterIP": NESTED}),
            "spec.clusterIPs a dict of 1 is not an IP address",
            id="clusterIP-nested",
        ),
        pytest.param(
            service_with({"type": "ExternalName", "externalName": "a." * 500_000}),
            "spec.externalName '" + "a." * 50 + "'... (1000000 characters) is not a DNS name",
            id="externalName-1MB",
        ),
        pytest.param(
            service_with({"type": "ExternalName", "externalName": NESTED}),
            "spec.externalName is a dict of 1, not a name",
            id="externalName-nested",
        ),
        pytest.param(
            service_with(SERVICE_SPEC, name=NESTED),
            "metadata.name missing",  # not a string: as good as none
            id="name-nested",
        ),
    ],
)
def test_messages_quoting_input_are_bounded(raw: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConversionError) as raised:
        from_dict(raw)
    assert str(raised.value) == expected
    assert len(str(raised.value)) < 300


def test_describe_is_bounded_whatever_the_name() -> None:
    text = describe(service_with(SERVICE_SPEC, name=HUGE))
    assert text == f"Service shop/{'9' * 100}"


# -- multicluster (MCS API, KEP 1645; issue 16) ---------------------------------------------


def test_service_imports_of_both_types() -> None:
    ports = [builders.port("http", 80), builders.port("dns", 53, "UDP")]
    clusterset = from_dict(
        builders.service_import("web", ips=["10.42.0.1", "fd00::1"], ports=ports)
    )
    assert clusterset == ServiceImport(
        "shop",
        "web",
        headless=False,
        ips=("10.42.0.1", "fd00::1"),
        ports=(Port("http", 80, "TCP"), Port("dns", 53, "UDP")),
    )
    headless = from_dict(builders.service_import("db"))
    assert headless == ServiceImport("shop", "db", headless=True)


def test_a_clusterset_ip_import_not_yet_given_an_ip_is_kept_without_one() -> None:
    raw = builders.service_import("web", ips=["10.42.0.1"])
    del raw["spec"]["ips"]
    assert from_dict(raw) == ServiceImport("shop", "web", headless=False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({}, "spec.type None is neither", id="type-missing"),
        pytest.param({"type": "ClusterIP"}, "spec.type 'ClusterIP' is neither", id="type-core"),
        pytest.param(
            {"type": "ClusterSetIP", "ips": ["10.42.0.999"]},
            "spec.ips '10.42.0.999' is not an IP address",
            id="ip-bad",
        ),
    ],
)
def test_service_imports_dns_cannot_use_are_named(spec: dict[str, Any], message: str) -> None:
    raw = builders.service_import("web")
    raw["spec"] = spec
    with pytest.raises(ConversionError, match=message):
        from_dict(raw)


def test_a_multicluster_slice_belongs_to_its_import_and_cluster() -> None:
    endpoints = [builders.endpoint("10.1.0.5", hostname="db-0"), builders.endpoint("10.1.0.6")]
    raw = builders.import_slice("db", "cluster-a", endpoints, ports=[builders.port("sql", 5432)])
    converted = from_dict(raw)
    assert isinstance(converted, EndpointSlice)
    assert (converted.service, converted.cluster, converted.legacy) == ("db", "cluster-a", False)
    (group,) = converted.groups
    assert group.endpoints == (
        Endpoint(("10.1.0.5",), ready=True, hostname="db-0"),
        Endpoint(("10.1.0.6",), ready=True),
    )
    local = from_dict(builders.endpoint_slice("db", ["10.244.0.5"]))
    assert isinstance(local, EndpointSlice) and local.cluster == ""  # this cluster's own


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        pytest.param(None, "source-cluster missing", id="cluster-missing"),
        pytest.param("a.b", "source-cluster 'a.b' is not a DNS label", id="cluster-dotted"),
        pytest.param("x" * 64, "is not a DNS label", id="cluster-too-long"),
    ],
)
def test_a_multicluster_slice_needs_a_cluster_id_a_name_can_hold(
    cluster: str | None, message: str
) -> None:
    raw = builders.import_slice("db", "a", [builders.endpoint("10.1.0.5")])
    labels = raw["metadata"]["labels"]
    if cluster is None:
        del labels[builders.MCS_SOURCE_CLUSTER_LABEL]
    else:
        labels[builders.MCS_SOURCE_CLUSTER_LABEL] = cluster
    with pytest.raises(ConversionError, match=message):
        from_dict(raw)


@pytest.mark.parametrize(
    ("version", "read"),
    [
        pytest.param("multicluster.x-k8s.io/v1alpha1", True, id="v1alpha1-read"),
        pytest.param("multicluster.x-k8s.io/v1beta1", False, id="v1beta1-ignored"),
        pytest.param("v1", False, id="core-v1-has-none"),
    ],
)
def test_only_v1alpha1_service_imports_are_read(version: str, read: bool) -> None:
    raw = {**builders.service_import("db"), "apiVersion": version}
    assert (from_dict(raw) is not None) is read
