"""Kubernetes objects as raw dicts, as a manifest file or the API holds them, for tests.

One builder per kind, name first, namespace `shop` unless said, with the apiVersion a
manifest carries. A table whose rows are written in a shape of their own keeps thin
builders beside it (tests/core/test_answer_table.py: namespace first), built on these where
the object is the same. Imports nothing of svcdns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

Raw = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def namespace(name: str) -> Raw:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service(name: str, *, ns: str = "shop", **spec: Any) -> Raw:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def port(name: str, number: int, protocol: str = "TCP") -> Raw:
    """A Service or EndpointSlice port."""
    return {"name": name, "port": number, "protocol": protocol}


def cluster_ip_service(name: str, ip: str, namespace: str = "shop") -> Raw:
    """A ClusterIP Service with one port, http 80/TCP."""
    return service(
        name,
        ns=namespace,
        type="ClusterIP",
        clusterIP=ip,
        clusterIPs=[ip],
        ports=[port("http", 80)],
    )


def headless_service(name: str, namespace: str = "shop") -> Raw:
    return cluster_ip_service(name, "None", namespace)


def endpoint(address: str, *, ready: bool | None = True, hostname: str = "", pod: str = "") -> Raw:
    """One EndpointSlice endpoint; `ready=None` leaves `conditions` out (ready, by the API's
    rule), `pod` names its targetRef."""
    item: Raw = {"addresses": [address]}
    if ready is not None:
        item["conditions"] = {"ready": ready}
    if hostname:
        item["hostname"] = hostname
    if pod:
        item["targetRef"] = {"kind": "Pod", "name": pod}
    return item


def slice_of(
    service: str,
    name: str,
    endpoints: Sequence[Raw],
    *,
    ports: Sequence[Raw],
    ns: str = "shop",
    family: str = "IPv4",
) -> Raw:
    """An EndpointSlice of `service` (its kubernetes.io/service-name label)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "namespace": ns, "labels": {SERVICE_NAME_LABEL: service}},
        "addressType": family,
        "endpoints": list(endpoints),
        "ports": list(ports),
    }


def endpoint_slice(
    service: str, addresses: Sequence[str], namespace: str = "shop", name: str | None = None
) -> Raw:
    """A slice of ready endpoints, one address each, and the port http 80/TCP."""
    return slice_of(
        service,
        name or f"{service}-abcde",
        [endpoint(address) for address in addresses],
        ports=[port("http", 80)],
        ns=namespace,
    )


MCS_SERVICE_NAME_LABEL = "multicluster.kubernetes.io/service-name"
MCS_SOURCE_CLUSTER_LABEL = "multicluster.kubernetes.io/source-cluster"


def service_import(
    name: str, *, ips: Sequence[str] = (), ns: str = "shop", ports: Sequence[Raw] = ()
) -> Raw:
    """A ServiceImport (MCS API): ClusterSetIP with `ips`, Headless without."""
    spec: Raw = {"type": "ClusterSetIP" if ips else "Headless", "ports": list(ports)}
    if ips:
        spec["ips"] = list(ips)
    return {
        "apiVersion": "multicluster.x-k8s.io/v1alpha1",
        "kind": "ServiceImport",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }


def import_slice(
    service: str,
    cluster: str,
    endpoints: Sequence[Raw],
    *,
    ports: Sequence[Raw] = (),
    ns: str = "shop",
    family: str = "IPv4",
) -> Raw:
    """A multicluster EndpointSlice: the endpoints member `cluster` gives to the
    ServiceImport `service`, named `<service>-<cluster>`."""
    raw = slice_of(service, f"{service}-{cluster}", endpoints, ports=ports, ns=ns, family=family)
    raw["metadata"]["labels"] = {
        MCS_SERVICE_NAME_LABEL: service,
        MCS_SOURCE_CLUSTER_LABEL: cluster,
    }
    return raw


def as_list(items: Sequence[Raw]) -> Raw:
    return {"apiVersion": "v1", "kind": "List", "items": list(items)}


def to_yaml(*items: Raw) -> str:
    """A manifest file: the objects as one List."""
    return yaml.safe_dump(as_list(items), sort_keys=False)
