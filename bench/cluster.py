"""A deterministic synthetic cluster and DNS query mixes for benchmarking svcdns.

Writes into `--out DIR`:

- `cluster.json`: what `kubectl get ns,svc,endpointslices,pods -A -o json` returns (a `kind:
  List`; compact, one item per line, as the API server encodes it, where kubectl would
  indent), with realistic objects: uids, resourceVersions, labels, annotations,
  managedFields, full Pod specs and statuses.
- `cluster.yaml`: the same objects as one `kind: List` YAML document (`-o yaml`).
- `hits.txt`: 100,000 dnsperf queries (`name TYPE`) that all have an answer: ClusterIP
  service A 60%, SRV 15%, StatefulSet endpoint hostname A 10%, ClusterIP PTR 15%.
- `pod-mix.txt`: what pods send: ndots:5 search-path misses A/AAAA 45% (NXDOMAIN), hits
  35% (as above), AAAA of IPv4-only services 10% (NODATA), SRV 10%.

Sizes (`--size`):

- `large`: 100 namespaces, 8,000 ClusterIP Services (1-2 named ports, one EndpointSlice of 3
  ready endpoints each), 2,000 headless Services (50 ready endpoints each; half
  StatefulSet-style with hostnames, half anonymous), 5,000 Pods. About 110 MB of JSON.
- `small`: the same proportions at 1/100: 10 namespaces, 80 + 20 Services, 50 Pods.

All addresses are IPv4 and unique: ClusterIPs in 10.96.0.0/12, node pod CIDRs (/24 each)
in 10.128.0.0/9, node addresses in 172.18.0.0/16. Everything is drawn from
`random.Random` seeded with `--seed`, so the same arguments give byte-identical files.

    python bench/cluster.py --size small|large --out DIR [--seed 1] [--queries 100000]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import yaml

Obj = dict[str, Any]

ZONE = "cluster.local"
FILES = ("cluster.json", "cluster.yaml", "hits.txt", "pod-mix.txt")
EPOCH = datetime(2025, 3, 1, tzinfo=UTC)
SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # what Kubernetes uses for generated names
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")

TEAMS = (
    "api", "web", "auth", "billing", "cart", "catalog", "checkout", "search", "orders",
    "payments", "inventory", "shipping", "users", "profile", "notify", "email", "gateway",
    "frontend", "reports", "analytics", "ledger", "pricing", "quotes", "reviews", "recommend",
    "media", "upload", "session", "config", "audit", "events", "identity", "tenant", "fraud",
)  # fmt: skip
ROLES = (
    "server", "worker", "api", "grpc", "http", "cache", "proxy", "service", "backend", "core",
    "edge", "internal", "admin", "public", "sync", "stream", "store", "v1", "v2",
)  # fmt: skip
DATABASES = (
    "redis", "postgres", "mysql", "kafka", "zookeeper", "etcd", "mongodb", "rabbitmq",
    "elasticsearch", "cassandra", "nats", "consul", "vault", "minio", "clickhouse",
)  # fmt: skip
# Named service ports: (name, port, targetPort on the pods).
PORTS = {
    "http": ("http", 80, 8080),
    "grpc": ("grpc", 9090, 9090),
    "metrics": ("metrics", 9100, 9100),
}
PORT_SETS = (("http",), ("http", "metrics"), ("grpc",), ("grpc", "metrics"), ("http", "grpc"))
# Names a pod's resolver looks up outside the cluster (search-path misses first).
EXTERNAL_DOMAINS = (
    "github.com", "githubusercontent.com", "amazonaws.com", "s3.eu-west-1.amazonaws.com",
    "googleapis.com", "docker.io", "quay.io", "ghcr.io", "pypi.org", "npmjs.org",
    "datadoghq.com", "sentry.io", "stripe.com", "slack.com", "okta.com", "example.com",
    "azure.com", "cloudflare.net", "fastly.net", "akamaiedge.net",
)  # fmt: skip
EXTERNAL_WORDS = (
    "api", "www", "cdn", "auth", "login", "objects", "registry", "uploads", "static", "hooks",
    "events", "metrics", "intake", "storage", "sts", "sqs", "sns", "oauth2", "files", "edge",
)  # fmt: skip


@dataclass(frozen=True)
class Size:
    namespaces: int
    clusterip: int
    headless: int
    pods: int
    nodes: int
    clusterip_endpoints: int = 3
    headless_endpoints: int = 50


SIZES = {
    "small": Size(namespaces=10, clusterip=80, headless=20, pods=50, nodes=12),
    "large": Size(namespaces=100, clusterip=8000, headless=2000, pods=5000, nodes=1200),
}


@dataclass(frozen=True)
class Endpoint:
    ip: str
    node: int
    pod: str
    pod_uid: str
    hostname: str | None


@dataclass
class Service:
    namespace: str
    name: str
    kind: str  # "clusterip" | "statefulset" | "anonymous"
    uid: str
    team: str
    cluster_ip: str | None
    ports: tuple[tuple[str, int, int], ...]
    created: datetime
    replicaset: str = ""  # pod-template-hash of deployment-style pods
    endpoints: list[Endpoint] = field(default_factory=list)

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{self.namespace}.svc.{ZONE}"


@dataclass
class Cluster:
    size: Size
    namespaces: list[str]
    services: list[Service]  # sorted by (namespace, name)
    pods: list[tuple[Service, Endpoint]]  # sorted by (namespace, pod name)

    def of_kind(self, kind: str) -> list[Service]:
        return [s for s in self.services if s.kind == kind]


class Gen:
    """The random source plus the small helpers every object needs."""

    def __init__(self, seed: int | str) -> None:
        self.rng = random.Random(seed)
        self.version = 4_180_000

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, length: int) -> str:
        return "".join(self.rng.choice(SUFFIX_CHARS) for _ in range(length))

    def hexstr(self, length: int) -> str:
        return f"{self.rng.getrandbits(4 * length):0{length}x}"

    def resource_version(self) -> str:
        self.version += self.rng.randint(1, 400)
        return str(self.version)

    def time(self, after: datetime = EPOCH, within_days: float = 60) -> datetime:
        return after + timedelta(seconds=self.rng.randrange(int(within_days * 86400)))


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_name(index: int) -> str:
    return f"worker-{index:04d}"


def node_ip(index: int) -> str:
    return f"172.18.{index // 250}.{index % 250 + 2}"


# --------------------------------------------------------------------------- the model


class Addresses:
    """Unique pod addresses: each node owns a /24 of 10.128.0.0/9, hosts .2 to .254."""

    def __init__(self, rng: random.Random, nodes: int) -> None:
        self.rng = rng
        self.nodes = nodes
        self.used = [1] * nodes

    def take(self) -> tuple[str, int]:
        for _ in range(10_000):
            node = self.rng.randrange(self.nodes)
            if self.used[node] < 254:
                self.used[node] += 1
                base = (10 << 24) | (128 << 16) | (node << 8)
                return str(ipaddress.IPv4Address(base + self.used[node])), node
        raise RuntimeError("out of pod addresses: raise the node count")


def build(size: Size, gen: Gen) -> Cluster:
    """Every Service with its endpoints, and which endpoints are listed Pods."""
    rng = gen.rng
    namespaces = [f"ns-{i:03d}" for i in range(size.namespaces)]
    cluster_ips = rng.sample(range(11, 2**20 - 1), size.clusterip)
    addresses = Addresses(rng, size.nodes)
    services: list[Service] = []
    web_names = [f"{team}-{role}" for team in TEAMS for role in ROLES]
    db_names = [f"{db}-{team}" for db in DATABASES for team in TEAMS]

    def spread(total: int, index: int) -> int:
        return total // size.namespaces + (index < total % size.namespaces)

    ip_index = 0
    for n, namespace in enumerate(namespaces):
        n_web, n_headless = spread(size.clusterip, n), spread(size.headless, n)
        n_sts = n_headless // 2 + (n_headless % 2 and n % 2)
        webs = rng.sample(web_names, n_web + (n_headless - n_sts))
        for i, name in enumerate(webs):
            team = name.split("-")[0]
            if i < n_web:
                port_set = rng.choice(PORT_SETS)
                cluster_ip = ipaddress.IPv4Address((10 << 24) | (96 << 16)) + cluster_ips[ip_index]
                ip_index += 1
                service = Service(
                    namespace, name, "clusterip", gen.uid(), team, str(cluster_ip),
                    tuple(PORTS[p] for p in port_set), gen.time(), gen.suffix(10),
                )  # fmt: skip
                count = size.clusterip_endpoints
            else:
                name = f"{name}-peers"
                service = Service(
                    namespace, name, "anonymous", gen.uid(), team, None,
                    (("peer", 7000, 7000),), gen.time(), gen.suffix(10),
                )  # fmt: skip
                count = size.headless_endpoints
            for _ in range(count):
                ip, node = addresses.take()
                pod = f"{name}-{service.replicaset}-{gen.suffix(5)}"
                service.endpoints.append(Endpoint(ip, node, pod, gen.uid(), None))
            services.append(service)
        for name in rng.sample(db_names, n_sts):
            db, team = name.split("-", 1)
            port = {"redis": 6379, "postgres": 5432, "mysql": 3306, "kafka": 9092}.get(db, 7000)
            service = Service(
                namespace, name, "statefulset", gen.uid(), team, None,
                (("http", 8080, 8080), (db.replace("elasticsearch", "es"), port, port)),
                gen.time(),
            )  # fmt: skip
            for i in range(size.headless_endpoints):
                ip, node = addresses.take()
                pod = f"{name}-{i}"
                service.endpoints.append(Endpoint(ip, node, pod, gen.uid(), pod))
            services.append(service)
    services.sort(key=lambda s: (s.namespace, s.name))
    backends = [(s, e) for s in services if s.kind == "clusterip" for e in s.endpoints]
    pods = rng.sample(backends, min(size.pods, len(backends)))
    pods.sort(key=lambda pair: (pair[0].namespace, pair[1].pod))
    return Cluster(size, namespaces, services, pods)


# --------------------------------------------------------------------------- objects


# How server-side apply keys the items of a list (`k:{"port":80,"protocol":"TCP"}`).
LIST_KEYS = (("uid",), ("containerPort", "protocol"), ("port", "protocol"), ("name",), ("type",))


def fields_v1(value: Any) -> Obj:
    """The server-side-apply field set of an object, the shape managedFields shows."""
    if isinstance(value, dict):
        out: Obj = {".": {}} if value else {}
        for key, child in value.items():
            out[f"f:{key}"] = fields_v1(child)
        return out
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for item in value:
            keys = next((k for k in LIST_KEYS if all(name in item for name in k)), None)
            if keys is None:
                return {}  # an atomic list
            key = json.dumps({name: item[name] for name in keys}, separators=(",", ":"))
            out[f"k:{key}"] = fields_v1(item)
        return out
    return {}


def managed(manager: str, when: datetime, fields: Obj, subresource: str = "") -> Obj:
    entry: Obj = {
        "apiVersion": "v1",
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
        "manager": manager,
        "operation": "Update",
    }
    if subresource:
        entry["subresource"] = subresource
    entry["time"] = stamp(when)
    return entry


def namespace_object(gen: Gen, name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "creationTimestamp": stamp(EPOCH - timedelta(days=30)),
            "labels": {"kubernetes.io/metadata.name": name, "team": gen.rng.choice(TEAMS)},
            "name": name,
            "resourceVersion": gen.resource_version(),
            "uid": gen.uid(),
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def app_labels(service: Service) -> Obj:
    return {
        "app.kubernetes.io/instance": service.name,
        "app.kubernetes.io/managed-by": "Helm",
        "app.kubernetes.io/name": service.name,
        "app.kubernetes.io/part-of": service.team,
        "helm.sh/chart": f"{service.team}-1.{len(service.name) % 9}.0",
    }


def service_object(gen: Gen, service: Service) -> Obj:
    labels = app_labels(service)
    annotations = {
        "meta.helm.sh/release-name": service.name,
        "meta.helm.sh/release-namespace": service.namespace,
    }
    if service.kind == "clusterip":
        annotations["prometheus.io/scrape"] = "true"
    ports = [
        {"name": name, "port": port, "protocol": "TCP", "targetPort": target}
        for name, port, target in service.ports
    ]
    selector = {
        "app.kubernetes.io/instance": service.name,
        "app.kubernetes.io/name": service.name,
    }
    spec: Obj = {
        "clusterIP": service.cluster_ip or "None",
        "clusterIPs": [service.cluster_ip or "None"],
        "internalTrafficPolicy": "Cluster",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "ports": ports,
    }
    if service.kind == "statefulset":
        spec["publishNotReadyAddresses"] = False
    spec |= {"selector": selector, "sessionAffinity": "None", "type": "ClusterIP"}
    applied_spec: Obj = {"ports": ports, "selector": selector, "type": "ClusterIP"}
    if service.cluster_ip is None:
        applied_spec["clusterIP"] = "None"
    applied = {"metadata": {"annotations": annotations, "labels": labels}, "spec": applied_spec}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": stamp(service.created),
            "labels": labels,
            "managedFields": [managed("helm", service.created, fields_v1(applied))],
            "name": service.name,
            "namespace": service.namespace,
            "resourceVersion": gen.resource_version(),
            "uid": service.uid,
        },
        "spec": spec,
        "status": {"loadBalancer": {}},
    }


def slice_object(gen: Gen, service: Service) -> Obj:
    changed = gen.time(service.created, 20)
    endpoints = []
    for endpoint in service.endpoints:
        entry: Obj = {
            "addresses": [endpoint.ip],
            "conditions": {"ready": True, "serving": True, "terminating": False},
        }
        if endpoint.hostname:
            entry["hostname"] = endpoint.hostname
        entry |= {
            "nodeName": node_name(endpoint.node),
            "targetRef": {
                "kind": "Pod",
                "name": endpoint.pod,
                "namespace": service.namespace,
                "uid": endpoint.pod_uid,
            },
            "zone": ZONES[endpoint.node % len(ZONES)],
        }
        endpoints.append(entry)
    labels = app_labels(service) | {
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
        "kubernetes.io/service-name": service.name,
    }
    if service.kind != "clusterip":
        labels["service.kubernetes.io/headless"] = ""
    return {
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": endpoints,
        "kind": "EndpointSlice",
        "metadata": {
            "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": stamp(changed)},
            "creationTimestamp": stamp(service.created),
            "generateName": f"{service.name}-",
            "generation": gen.rng.randint(1, 40),
            "labels": labels,
            "name": f"{service.name}-{gen.suffix(5)}",
            "namespace": service.namespace,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "blockOwnerDeletion": True,
                    "controller": True,
                    "kind": "Service",
                    "name": service.name,
                    "uid": service.uid,
                }
            ],
            "resourceVersion": gen.resource_version(),
            "uid": gen.uid(),
        },
        "ports": [
            {"name": name, "port": target, "protocol": "TCP"} for name, _, target in service.ports
        ],
    }


def pod_object(gen: Gen, service: Service, endpoint: Endpoint) -> Obj:
    rng = gen.rng
    started = gen.time(service.created, 20)
    app = service.name
    digest = gen.hexstr(64)
    image = f"registry.example.com/{service.team}/{app}:1.{rng.randint(0, 40)}.{rng.randint(0, 9)}"
    token_volume = f"kube-api-access-{gen.suffix(5)}"
    container_ports = [
        {"containerPort": target, "name": name, "protocol": "TCP"}
        for name, _, target in service.ports
    ]
    probe_port = service.ports[0][0]

    def probe(path: str, delay: int) -> Obj:
        return {
            "failureThreshold": 3,
            "httpGet": {"path": path, "port": probe_port, "scheme": "HTTP"},
            "initialDelaySeconds": delay,
            "periodSeconds": 10,
            "successThreshold": 1,
            "timeoutSeconds": 1,
        }

    def field_env(name: str, path: str) -> Obj:
        return {"name": name, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}

    container = {
        "env": [
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
            field_env("POD_IP", "status.podIP"),
            field_env("NODE_NAME", "spec.nodeName"),
            {
                "name": "GOMAXPROCS",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": app,
                        "divisor": "0",
                        "resource": "limits.cpu",
                    }
                },
            },
            {"name": "LOG_LEVEL", "value": rng.choice(("info", "warn", "debug"))},
            {
                "name": "OTEL_EXPORTER_OTLP_ENDPOINT",
                "value": "http://otel-collector.observability.svc.cluster.local:4317",
            },
            {"name": "OTEL_SERVICE_NAME", "value": app},
            {
                "name": "DATABASE_URL",
                "valueFrom": {"secretKeyRef": {"key": "url", "name": f"{app}-db"}},
            },
        ],
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "livenessProbe": probe("/healthz", 10),
        "name": app,
        "ports": container_ports,
        "readinessProbe": probe("/readyz", 2),
        "resources": {
            "limits": {"cpu": "1", "memory": f"{rng.choice((256, 512, 1024))}Mi"},
            "requests": {"cpu": f"{rng.choice((50, 100, 250))}m", "memory": "128Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
        },
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
            {"mountPath": "/etc/app", "name": "config", "readOnly": True},
            {"mountPath": "/tmp", "name": "tmp"},
            {
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                "name": token_volume,
                "readOnly": True,
            },
        ],
    }
    spec = {
        "containers": [container],
        "dnsPolicy": "ClusterFirst",
        "enableServiceLinks": True,
        "nodeName": node_name(endpoint.node),
        "preemptionPolicy": "PreemptLowerPriority",
        "priority": 0,
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "securityContext": {"fsGroup": 65532, "runAsGroup": 65532, "runAsUser": 65532},
        "serviceAccount": app,
        "serviceAccountName": app,
        "terminationGracePeriodSeconds": 30,
        "tolerations": [
            {
                "effect": "NoExecute",
                "key": f"node.kubernetes.io/{key}",
                "operator": "Exists",
                "tolerationSeconds": 300,
            }
            for key in ("not-ready", "unreachable")
        ],
        "volumes": [
            {"configMap": {"defaultMode": 420, "name": f"{app}-config"}, "name": "config"},
            {"emptyDir": {}, "name": "tmp"},
            {
                "name": token_volume,
                "projected": {
                    "defaultMode": 420,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                "name": "kube-root-ca.crt",
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                        "path": "namespace",
                                    }
                                ]
                            }
                        },
                    ],
                },
            },
        ],
    }
    host = node_ip(endpoint.node)
    status = {
        "conditions": [
            {
                "lastProbeTime": None,
                "lastTransitionTime": stamp(started + timedelta(seconds=delay)),
                "status": "True",
                "type": kind,
            }
            for kind, delay in (
                ("PodReadyToStartContainers", 3),
                ("Initialized", 1),
                ("Ready", 9),
                ("ContainersReady", 9),
                ("PodScheduled", 0),
            )
        ],
        "containerStatuses": [
            {
                "containerID": f"containerd://{gen.hexstr(64)}",
                "image": image,
                "imageID": f"{image.rsplit(':', 1)[0]}@sha256:{digest}",
                "lastState": {},
                "name": app,
                "ready": True,
                "restartCount": rng.choice((0, 0, 0, 1, 2)),
                "started": True,
                "state": {"running": {"startedAt": stamp(started + timedelta(seconds=4))}},
            }
        ],
        "hostIP": host,
        "hostIPs": [{"ip": host}],
        "phase": "Running",
        "podIP": endpoint.ip,
        "podIPs": [{"ip": endpoint.ip}],
        "qosClass": "Burstable",
        "startTime": stamp(started),
    }
    labels = {
        "app.kubernetes.io/instance": app,
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": service.team,
        "pod-template-hash": service.replicaset,
    }
    annotations = {
        "kubectl.kubernetes.io/restartedAt": stamp(started - timedelta(minutes=5)),
        "prometheus.io/port": "9100",
        "prometheus.io/scrape": "true",
    }
    owner = {
        "apiVersion": "apps/v1",
        "blockOwnerDeletion": True,
        "controller": True,
        "kind": "ReplicaSet",
        "name": f"{app}-{service.replicaset}",
        "uid": gen.uid(),
    }
    controller_fields = fields_v1(
        {
            "metadata": {
                "annotations": annotations,
                "generateName": "",
                "labels": labels,
                "ownerReferences": [owner],
            },
            "spec": {k: v for k, v in spec.items() if k not in ("nodeName", "serviceAccount")},
        }
    )
    kubelet_fields = fields_v1({"status": status})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": annotations,
            "creationTimestamp": stamp(started),
            "generateName": f"{app}-{service.replicaset}-",
            "labels": labels,
            "managedFields": [
                managed("kube-controller-manager", started, controller_fields),
                managed("kubelet", started + timedelta(seconds=9), kubelet_fields, "status"),
            ],
            "name": endpoint.pod,
            "namespace": service.namespace,
            "ownerReferences": [owner],
            "resourceVersion": gen.resource_version(),
            "uid": endpoint.pod_uid,
        },
        "spec": spec,
        "status": status,
    }


def objects(cluster: Cluster, gen: Gen) -> Iterator[Obj]:
    """In kubectl's order: namespaces, services, endpointslices, pods; each by namespace/name."""
    for namespace in cluster.namespaces:
        yield namespace_object(gen, namespace)
    for service in cluster.services:
        yield service_object(gen, service)
    slices = [(service, slice_object(gen, service)) for service in cluster.services]
    slices.sort(key=lambda pair: (pair[0].namespace, pair[1]["metadata"]["name"]))
    for _, item in slices:
        yield item
    for service, endpoint in cluster.pods:
        yield pod_object(gen, service, endpoint)


# --------------------------------------------------------------------------- writers


class JsonList:
    """Writes a `kind: List` one compact item per line, as the API server encodes objects."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.first = True
        out.write('{"apiVersion":"v1","items":[\n')

    def add(self, item: Obj) -> None:
        text = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
        self.out.write(text if self.first else ",\n" + text)
        self.first = False

    def close(self) -> None:
        self.out.write('\n],"kind":"List","metadata":{"resourceVersion":""}}\n')


class YamlList:
    """Writes a `kind: List` the way `kubectl -o yaml` does, one item at a time."""

    DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

    def __init__(self, out: TextIO) -> None:
        self.out = out
        out.write("apiVersion: v1\nitems:\n")

    def add(self, item: Obj) -> None:
        self.out.write(
            yaml.dump(
                [item],
                Dumper=self.DUMPER,
                default_flow_style=False,
                sort_keys=False,
                allow_unicode=True,
                width=1 << 16,
            )
        )

    def close(self) -> None:
        self.out.write('kind: List\nmetadata:\n  resourceVersion: ""\n')


# --------------------------------------------------------------------------- queries


def reverse(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer


def exact_counts(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split `total` by `shares` exactly (the last share takes the rounding)."""
    counts = {name: int(total * share) for name, share in shares.items()}
    counts[list(shares)[-1]] += total - sum(counts.values())
    return counts


class Queries:
    """Generators of one query line each, drawn over the whole cluster."""

    def __init__(self, cluster: Cluster, rng: random.Random) -> None:
        self.rng = rng
        self.clusterip = cluster.of_kind("clusterip")
        self.statefulset = cluster.of_kind("statefulset")
        self.namespaces = cluster.namespaces
        self.size = cluster.size

    def service_a(self) -> str:
        return f"{self.rng.choice(self.clusterip).fqdn} A"

    def service_aaaa(self) -> str:  # IPv4-only ClusterIP: NODATA
        return f"{self.rng.choice(self.clusterip).fqdn} AAAA"

    def srv(self) -> str:
        statefulset = bool(self.statefulset) and self.rng.random() >= 0.9  # 10% headless
        service = self.rng.choice(self.statefulset if statefulset else self.clusterip)
        port = self.rng.choice(service.ports)[0]
        return f"_{port}._tcp.{service.fqdn} SRV"

    def endpoint_a(self) -> str:
        service = self.rng.choice(self.statefulset)
        return f"{self.rng.choice(service.endpoints).hostname}.{service.fqdn} A"

    def ptr(self) -> str:
        return f"{reverse(self.rng.choice(self.clusterip).cluster_ip or '')} PTR"

    def hit(self) -> str:
        roll = self.rng.random()
        if roll < 0.60:
            return self.service_a()
        if roll < 0.75:
            return self.srv()
        if roll < 0.85:
            return self.endpoint_a()
        return self.ptr()

    def external(self) -> str:
        rng = self.rng
        word = rng.choice(EXTERNAL_WORDS)
        if rng.random() < 0.7:
            word = f"{word}-{rng.randrange(10_000)}"
        return f"{word}.{rng.choice(EXTERNAL_DOMAINS)}"

    def search_miss(self) -> str:
        """The first tries of a pod's ndots:5 search path: all NXDOMAIN."""
        rng = self.rng
        own = rng.choice(self.namespaces)
        qtype = rng.choice(("A", "AAAA"))
        roll = rng.random()
        if roll < 0.3:  # `web.other` from namespace `own`: only the first try misses
            service = rng.choice(self.clusterip)
            name = f"{service.name}.{service.namespace}.{own}.svc.{ZONE}"
        elif roll < 0.6:
            name = f"{self.external()}.{own}.svc.{ZONE}"
        elif roll < 0.8:
            name = f"{self.external()}.svc.{ZONE}"
        else:
            name = f"{self.external()}.{ZONE}"
        return f"{name} {qtype}"

    def hits_file(self, total: int) -> list[str]:
        counts = exact_counts(total, {"a": 0.60, "srv": 0.15, "endpoint": 0.10, "ptr": 0.15})
        makers: dict[str, Callable[[], str]] = {
            "a": self.service_a,
            "srv": self.srv,
            "endpoint": self.endpoint_a,
            "ptr": self.ptr,
        }
        return self._mix(counts, makers)

    def pod_mix_file(self, total: int) -> list[str]:
        counts = exact_counts(total, {"miss": 0.45, "hit": 0.35, "nodata": 0.10, "srv": 0.10})
        makers: dict[str, Callable[[], str]] = {
            "miss": self.search_miss,
            "hit": self.hit,
            "nodata": self.service_aaaa,
            "srv": self.srv,
        }
        return self._mix(counts, makers)

    def _mix(self, counts: dict[str, int], makers: dict[str, Callable[[], str]]) -> list[str]:
        lines = [makers[kind]() for kind, count in counts.items() for _ in range(count)]
        self.rng.shuffle(lines)
        return lines


# --------------------------------------------------------------------------- main


def generate(
    size_name: str, out: Path, *, seed: int = 1, queries: int = 100_000, yaml_too: bool = True
) -> dict[str, Any]:
    """Write the cluster and query files into `out`; returns a summary."""
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    gen = Gen(seed)
    cluster = build(SIZES[size_name], gen)
    kinds: dict[str, int] = {}
    with (out / "cluster.json.tmp").open("w", encoding="utf-8", buffering=1 << 20) as json_out:
        yaml_file = (out / "cluster.yaml.tmp").open("w", encoding="utf-8", buffering=1 << 20)
        try:
            writers: list[JsonList | YamlList] = [JsonList(json_out)]
            if yaml_too:
                writers.append(YamlList(yaml_file))
            for item in objects(cluster, gen):
                kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
                for writer in writers:
                    writer.add(item)
            for writer in writers:
                writer.close()
        finally:
            yaml_file.close()
    (out / "cluster.json.tmp").replace(out / "cluster.json")
    if yaml_too:
        (out / "cluster.yaml.tmp").replace(out / "cluster.yaml")
    else:
        (out / "cluster.yaml.tmp").unlink()
    for name, make in (("hits.txt", "hits_file"), ("pod-mix.txt", "pod_mix_file")):
        lines = getattr(Queries(cluster, random.Random(f"{seed}-{name}")), make)(queries)
        (out / name).write_text("\n".join(lines) + "\n", encoding="ascii")
    sizes = {name: (out / name).stat().st_size for name in FILES if (out / name).exists()}
    return {
        "size": size_name,
        "seed": seed,
        "objects": kinds,
        "endpoints": sum(len(s.endpoints) for s in cluster.services),
        "bytes": sizes,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queries", type=int, default=100_000, help="lines per query file")
    parser.add_argument("--no-yaml", action="store_true", help="skip cluster.yaml")
    args = parser.parse_args(argv)
    summary = generate(
        args.size, args.out, seed=args.seed, queries=args.queries, yaml_too=not args.no_yaml
    )
    objects_text = ", ".join(f"{count} {kind}" for kind, count in summary["objects"].items())
    print(f"{args.size} cluster in {args.out}: {objects_text}, {summary['endpoints']} endpoints")
    for name, size in summary["bytes"].items():
        print(f"  {name:<13} {size / 1e6:8.1f} MB")
    print(f"  generated in {summary['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
