"""The kinds the fake serves: their API group, resource name, scope and field labels; the
MCS API's ServiceImport only while its CRD is "installed" (`FakeApiServer.set_service_imports_crd`).

Also the per-kind BOOKMARK skeletons and Go's ObjectMeta field order. Imports nothing else
of the package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Kind:
    kind: str
    resource: str
    group: str
    version: str
    namespaced: bool
    field_labels: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`services`, `endpointslices.discovery.k8s.io`: how messages name the resource."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def details(self, name: str | None = None) -> dict[str, Any]:
        details: dict[str, Any] = {} if name is None else {"name": name}
        if self.group:
            details["group"] = self.group
        details["kind"] = self.resource
        return details

    def key(self, namespace: str | None, name: str) -> str:
        """The storage key below the resource prefix: `namespace/name` or `name`."""
        return f"{namespace}/{name}" if self.namespaced else name


_OBJECT_META = frozenset({"metadata.name", "metadata.namespace"})
MCS_GROUP = "multicluster.x-k8s.io"
KINDS = (
    Kind("Namespace", "namespaces", "", "v1", False, frozenset({"metadata.name", "status.phase"})),
    Kind("Service", "services", "", "v1", True, _OBJECT_META | {"spec.clusterIP"}),
    Kind("Endpoints", "endpoints", "", "v1", True, _OBJECT_META),
    Kind(
        "Pod",
        "pods",
        "",
        "v1",
        True,
        _OBJECT_META
        | {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        },
    ),
    Kind("EndpointSlice", "endpointslices", "discovery.k8s.io", "v1", True, _OBJECT_META),
    # A CRD's objects: only metadata.name and metadata.namespace select.
    Kind("ServiceImport", "serviceimports", MCS_GROUP, "v1alpha1", True, _OBJECT_META),
)
BY_KIND = {kind.kind: kind for kind in KINDS}
BY_RESOURCE = {(kind.group, kind.resource): kind for kind in KINDS}

# What follows `metadata` in a BOOKMARK object: the zero values of each Go struct (fact 13).
SKELETONS: dict[str, dict[str, Any]] = {
    "Namespace": {"spec": {}, "status": {}},
    "Service": {"spec": {}, "status": {"loadBalancer": {}}},
    "Endpoints": {},
    "Pod": {"spec": {"containers": None}, "status": {}},
    "EndpointSlice": {"addressType": "", "endpoints": None, "ports": None},
    "ServiceImport": {},  # a custom resource's BOOKMARK: kind, apiVersion and metadata only
}

# Go's ObjectMeta field order; apply() puts known metadata keys in this order.
META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)
