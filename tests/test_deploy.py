"""deploy/: what an operator applies to run svcdns as the cluster DNS, checked as files.

No cluster and no docker. Every YAML parses and the kustomization lists them all; the
ClusterRole only reads what DNS is made of; the Deployment is hardened, passes only flags
`svcdns serve --help` lists, and its ports and probes agree with its own `--listen` and
`--http` and with svcdns's default HTTP port; the kube-dns Service and the
PodDisruptionBudget select its pods; the Dockerfile runs `svcdns` as a non-root user.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from helpers import serve_help

from svcdns.config import Config, parse_listen

REPO = Path(__file__).resolve().parent.parent
DEPLOY = REPO / "deploy"
KUSTOMIZATION = "kustomization.yaml"
NAMESPACE = "kube-system"
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "Namespace", "PriorityClass"}
READ_VERBS = {"get", "list", "watch"}
# apiGroup -> the only resources the ClusterRole may name in it.
READABLE = {
    "": {"services", "endpoints", "namespaces", "pods"},
    "discovery.k8s.io": {"endpointslices"},
    "multicluster.x-k8s.io": {"serviceimports"},  # --multicluster (MCS API)
}
RULE_KEYS = {"apiGroups", "resources", "verbs"}  # no resourceNames, no nonResourceURLs
HOSTNAME = "kubernetes.io/hostname"
KUBEADM_CLUSTER_DNS = "10.96.0.10"
KUBE_DNS = ("Service", "kube-dns")
AUTOSCALERS = ("autoscaler", "autoscaler/hpa")
SERVICE_PORTS = {(53, "UDP"), (53, "TCP"), (9153, "TCP")}
FLAG = re.compile(r"(?<![\w-])--[a-z0-9][a-z0-9-]*")

Obj = dict[str, Any]


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.glob("*") if p.suffix in (".yaml", ".yml"))


def _documents(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


def _flag_values(args: Sequence[str], flag: str) -> list[str]:
    """The values of `--flag VALUE` and `--flag=VALUE` in args, in order."""
    values = []
    for i, arg in enumerate(args):
        if arg == flag:
            assert i + 1 < len(args), f"{flag} has no value"
            values.append(args[i + 1])
        elif arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
    return values


def _selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions) matches these labels; {} matches none."""
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(k) != v for k, v in match_labels.items()):
        return False
    for expression in expressions:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not ok:
            return False
    return True


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def objects() -> dict[tuple[str, str], Obj]:
    """Every object in deploy/ except the kustomization, by (kind, name)."""
    found: dict[tuple[str, str], Obj] = {}
    for path in _yaml_files():
        if path.name == KUSTOMIZATION:
            continue
        for doc in _documents(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in found, f"{path.name}: {key} is defined twice"
            found[key] = doc
    return found


def _one(objects: Mapping[tuple[str, str], Obj], kind: str) -> Obj:
    matches = [obj for (k, _), obj in objects.items() if k == kind]
    assert len(matches) == 1, f"expected exactly one {kind} in deploy/, found {len(matches)}"
    return matches[0]


@pytest.fixture(scope="module")
def deployment(objects: Mapping[tuple[str, str], Obj]) -> Obj:
    return _one(objects, "Deployment")


@pytest.fixture(scope="module")
def pod(deployment: Obj) -> Obj:
    spec: Obj = deployment["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def pod_labels(deployment: Obj) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


@pytest.fixture(scope="module")
def container(pod: Obj) -> Obj:
    containers = pod["containers"]
    assert len(containers) == 1, "one svcdns container per pod"
    only: Obj = containers[0]
    return only


@pytest.fixture(scope="module")
def args(container: Obj) -> list[str]:
    # The image's ENTRYPOINT is `svcdns`; a command, if set, must be the same program.
    assert container.get("command", ["svcdns"]) == ["svcdns"]
    values = [str(a) for a in container["args"]]
    assert values[0] == "serve"
    return values


@pytest.fixture(scope="module")
def serve_flags() -> set[str]:
    """Every `--flag` that `svcdns serve --help` lists."""
    text = serve_help()
    flags = set(FLAG.findall(text))
    assert "--listen" in flags, f"unexpected `serve --help` output:\n{text}"
    return flags


def _container_port(container: Obj, port: int | str, protocol: str = "TCP") -> Obj:
    """The container port a probe or Service targetPort names (by name or number)."""
    for entry in container.get("ports", []):
        if entry.get("protocol", "TCP") != protocol:
            continue
        if port in (entry.get("name"), entry["containerPort"]):
            found: Obj = entry
            return found
    raise AssertionError(f"no {protocol} container port {port!r}")


# --- files ------------------------------------------------------------------------------


def test_deploy_has_the_expected_files() -> None:
    names = {p.name for p in DEPLOY.iterdir()}
    expected = {
        "serviceaccount.yaml",
        "clusterrole.yaml",
        "clusterrolebinding.yaml",
        "deployment.yaml",
        "service.yaml",
        "poddisruptionbudget.yaml",
        KUSTOMIZATION,
        "Dockerfile",
    }
    assert expected <= names, f"missing from deploy/: {sorted(expected - names)}"


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: p.name)
def test_yaml_parses_with_kind_and_name(path: Path) -> None:
    documents = _documents(path)
    assert documents, f"{path.name}: no documents"
    for doc in documents:
        assert isinstance(doc, dict), f"{path.name}: a document is not a mapping"
        assert doc.get("apiVersion"), f"{path.name}: a document has no apiVersion"
        assert doc.get("kind"), f"{path.name}: a document has no kind"
        assert (doc.get("metadata") or {}).get("name"), f"{path.name}: {doc['kind']} unnamed"


def test_kustomization_lists_exactly_the_other_yaml_files(deployment: Obj) -> None:
    [kustomization] = _documents(DEPLOY / KUSTOMIZATION)
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == NAMESPACE
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources)), "a resource is listed twice"
    for name in resources:
        assert (DEPLOY / name).is_file(), f"kustomization lists {name}, which does not exist"
    others = {p.name for p in _yaml_files()} - {KUSTOMIZATION}
    assert set(resources) == others
    # commonLabels (and labels with includeSelectors) rewrite selectors: the kube-dns
    # Service would stop selecting CoreDNS pods mid-switch, and a Deployment's selector is
    # immutable.
    assert "commonLabels" not in kustomization
    for entry in kustomization.get("labels", []):
        assert not entry.get("includeSelectors", False)
    # `kustomize edit set image svcdns=REGISTRY/svcdns:TAG` must find the Deployment's image.
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    image_name = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    assert image_name in {entry["name"] for entry in kustomization.get("images", [])}


def test_namespaced_objects_are_in_kube_system(objects: Mapping[tuple[str, str], Obj]) -> None:
    for (kind, name), obj in objects.items():
        if kind not in CLUSTER_SCOPED:
            assert obj["metadata"].get("namespace") == NAMESPACE, f"{kind}/{name}"


# --- RBAC -------------------------------------------------------------------------------


def test_cluster_role_only_reads_what_dns_needs(objects: Mapping[tuple[str, str], Obj]) -> None:
    role = _one(objects, "ClusterRole")
    assert "aggregationRule" not in role
    granted = set()
    for rule in role["rules"]:
        assert set(rule) <= RULE_KEYS, f"rule has {sorted(set(rule) - RULE_KEYS)}"
        verbs, groups, resources = rule["verbs"], rule["apiGroups"], rule["resources"]
        assert set(verbs) <= READ_VERBS, f"write or wildcard verbs: {verbs}"
        for group in groups:
            assert group in READABLE, f"apiGroup {group!r} not allowed"
            assert set(resources) <= READABLE[group], f"{group!r}: {resources}"
            granted |= {(group, r, v) for r in resources for v in verbs}
    # ...and all of it: the API source lists and watches every one of these.
    wanted = {(g, r, v) for g, rs in READABLE.items() for r in rs for v in READ_VERBS}
    assert granted == wanted


def test_binding_gives_the_role_to_the_svcdns_service_account(
    objects: Mapping[tuple[str, str], Obj], pod: Obj
) -> None:
    role = _one(objects, "ClusterRole")
    binding = _one(objects, "ClusterRoleBinding")
    account = _one(objects, "ServiceAccount")
    assert account["metadata"]["name"] == "svcdns"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "svcdns", "namespace": NAMESPACE}
    ]
    assert pod["serviceAccountName"] == "svcdns"


# --- Deployment -------------------------------------------------------------------------


def test_deployment_selects_its_pods(deployment: Obj, pod_labels: dict[str, str]) -> None:
    assert _selects(deployment["spec"]["selector"], pod_labels)


def test_replicas_are_spread_across_nodes(deployment: Obj, pod: Obj, pod_labels: Obj) -> None:
    assert deployment["spec"]["replicas"] >= 2
    spread = [
        c
        for c in pod.get("topologySpreadConstraints", [])
        if c["topologyKey"] == HOSTNAME and _selects(c["labelSelector"], pod_labels)
    ]
    anti = pod.get("affinity", {}).get("podAntiAffinity", {})
    preferred = anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])
    terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
        t["podAffinityTerm"] for t in preferred
    ]
    apart = [
        t
        for t in terms
        if t["topologyKey"] == HOSTNAME and _selects(t["labelSelector"], pod_labels)
    ]
    assert spread or apart, "no topology spread or pod anti-affinity over kubernetes.io/hostname"


def test_runs_as_the_cluster_dns(pod: Obj, container: Obj) -> None:
    # Not ClusterFirst: the cluster DNS server must not resolve through itself.
    assert pod["dnsPolicy"] == "Default"
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert any(t.get("key") == "CriticalAddonsOnly" for t in pod.get("tolerations", []))
    pod_ip = {e["name"]: e for e in container.get("env", [])}["POD_IP"]
    assert pod_ip["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"


def test_security_context(pod: Obj, container: Obj) -> None:
    pod_context = pod.get("securityContext", {})
    context = container["securityContext"]

    def effective(key: str) -> Any:
        return context.get(key, pod_context.get(key))

    assert effective("runAsNonRoot") is True
    assert effective("runAsUser") not in (0, None)
    assert effective("seccompProfile") == {"type": "RuntimeDefault"}
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context.get("privileged", False) is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["capabilities"]["add"] == ["NET_BIND_SERVICE"]
    assert not pod.get("hostNetwork", False)


def test_every_flag_is_accepted_by_serve(args: list[str], serve_flags: set[str]) -> None:
    passed = {arg.split("=", 1)[0] for arg in args if arg.startswith("--")}
    missing = sorted(passed - serve_flags)
    assert not missing, f"`svcdns serve --help` does not list {missing}"


def test_dns_container_ports_are_the_listen_ports(args: list[str], container: Obj) -> None:
    listen = [parse_listen(value) for value in _flag_values(args, "--listen")]
    assert listen, "no --listen: the pod would rely on the built-in default"
    listen_ports = {address.port for address in listen}
    udp = {p["containerPort"] for p in container["ports"] if p.get("protocol") == "UDP"}
    tcp = {p["containerPort"] for p in container["ports"] if p.get("protocol", "TCP") == "TCP"}
    assert udp == listen_ports == {53}
    assert listen_ports <= tcp


def test_http_port_is_the_default_and_is_probed(args: list[str], container: Obj) -> None:
    [http] = _flag_values(args, "--http")
    port = _port_of(http)
    assert port == _port_of(Config().http), "--http differs from svcdns's default port"
    _container_port(container, port)  # declared, so the Service and Prometheus reach it
    probes = {
        "livenessProbe": "/health",
        "readinessProbe": "/ready",
        "startupProbe": "/health",
    }
    assert "livenessProbe" in container and "readinessProbe" in container
    for name, path in probes.items():
        if name not in container:
            continue
        get = container[name]["httpGet"]
        assert get["path"] == path, name
        assert _container_port(container, get["port"])["containerPort"] == port, name


def test_resources(container: Obj) -> None:
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]
    # No CPU limit: CFS throttling shows up as DNS latency spikes.
    assert "cpu" not in resources["limits"]


# --- Service and PodDisruptionBudget ----------------------------------------------------


def test_service_is_kube_dns_and_selects_the_pods(
    objects: Mapping[tuple[str, str], Obj], container: Obj, pod_labels: dict[str, str]
) -> None:
    service = objects[("Service", "kube-dns")]
    spec = service["spec"]
    ports = {(p["port"], p.get("protocol", "TCP")) for p in spec["ports"]}
    assert ports == SERVICE_PORTS
    for entry in spec["ports"]:
        target = entry.get("targetPort", entry["port"])
        number = _container_port(container, target, entry.get("protocol", "TCP"))
        assert number["containerPort"] == entry["port"]
    selector = spec["selector"]
    assert selector, "a Service without a selector has no endpoints"
    assert selector.items() <= pod_labels.items()
    # The ClusterIP is set in one place, kustomization.yaml (test_cluster_ip_is_set_once).
    assert "clusterIP" not in spec
    annotations = service["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/scrape") == "true"
    assert annotations.get("prometheus.io/port") == str(_port_of(Config().http))


def test_pdb_selects_the_same_pods(
    objects: Mapping[tuple[str, str], Obj], deployment: Obj, pod_labels: dict[str, str]
) -> None:
    pdb = _one(objects, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert _selects(pdb["spec"]["selector"], pod_labels)
    assert "maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"]


# --- Dockerfile -------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the whole Dockerfile, comments cut, continuations joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_builds_anywhere() -> None:
    """Classic builder and BuildKit alike, offline with `--build-arg BASE=...`."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    # A syntax directive makes BuildKit fetch a frontend image before anything else.
    assert not re.search(r"^#\s*syntax\s*=", text, re.M | re.I)
    instructions = _instructions()
    assert instructions[0] == ("ARG", "BASE=python:3.11-slim")
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms and all(rest.split()[0] == "${BASE}" for rest in froms)
    for keyword, rest in instructions:
        # BuildKit-only flags the classic builder rejects.
        assert not (keyword == "RUN" and rest.startswith("--")), rest
        assert not (keyword == "COPY" and "--link" in rest), rest
    text = (REPO / ".dockerignore").read_text(encoding="utf-8")
    ignore = [line.strip() for line in text.splitlines() if line.strip()[:1] not in ("", "#")]
    assert ignore[0] == "*", ".dockerignore lets in only what it names"
    assert {"!pyproject.toml", "!README.md", "!svcdns", "!wheelhouse"} <= set(ignore)


def test_dockerfile_matches_the_deployment(serve_flags: set[str], container: Obj, pod: Obj) -> None:
    stage = _final_stage()
    values: dict[str, list[str]] = {}
    for keyword, rest in stage:
        values.setdefault(keyword, []).append(rest)
    user, _, group = values["USER"][-1].partition(":")
    assert user not in ("", "0", "root"), "the image must not run as root"
    security = {**pod.get("securityContext", {}), **container["securityContext"]}
    assert (security["runAsUser"], security["runAsGroup"]) == (int(user), int(group))
    assert json.loads(values["ENTRYPOINT"][-1]) == ["svcdns"]
    exposed = {port for line in values["EXPOSE"] for port in line.split()}
    declared = {
        f"{p['containerPort']}/{p.get('protocol', 'TCP').lower()}" for p in container["ports"]
    }
    assert exposed == declared
    assert any("PYTHONDONTWRITEBYTECODE=1" in line for line in values.get("ENV", []))
    command = json.loads(values["CMD"][-1])
    assert command[0] == "serve"
    flags = {arg.split("=", 1)[0] for arg in command if arg.startswith("--")}
    assert flags <= serve_flags
    [http] = _flag_values(command, "--http")
    assert _port_of(http) == _port_of(Config().http)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        port = _container_port(container, container[probe]["httpGet"]["port"])
        assert port["containerPort"] == _port_of(http), probe


# --- kustomize: the ClusterIP and the autoscaler components ------------------------------


def _kustomization(folder: Path = DEPLOY) -> Obj:
    [document] = _documents(folder / KUSTOMIZATION)
    found: Obj = document
    return found


def _patched(obj: Obj, operations: Sequence[Obj]) -> Obj:
    """obj with JSON 6902 `add`/`replace`/`remove` operations applied (object paths only)."""
    result = json.loads(json.dumps(obj))
    for operation in operations:
        *parents, leaf = operation["path"].strip("/").split("/")
        node = result
        for key in parents:
            node = node[key]
        if operation["op"] in ("add", "replace"):
            node[leaf] = operation["value"]
        elif operation["op"] == "remove":
            del node[leaf]
        else:
            raise AssertionError(f"unexpected op {operation['op']}")
    return result


def _patches_for(folder: Path, kind: str, name: str) -> list[Obj]:
    operations: list[Obj] = []
    for patch in _kustomization(folder).get("patches", []):
        target = patch["target"]
        if (target["kind"], target["name"]) != (kind, name):
            continue
        text = patch["patch"] if "patch" in patch else (folder / patch["path"]).read_text()
        operations += yaml.safe_load(text)
    return operations


def _kustomize(folder: Path) -> list[Obj] | None:
    """`kubectl kustomize folder`, where kubectl is on PATH (the Python checks always run)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    result = subprocess.run(
        [kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _scalars(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _scalars(value)
    elif isinstance(node, list):
        for value in node:
            yield from _scalars(value)
    else:
        yield node


def test_cluster_ip_is_set_once(objects: Mapping[tuple[str, str], Obj]) -> None:
    operations = _patches_for(DEPLOY, "Service", "kube-dns")
    assert [op["path"] for op in operations] == ["/spec/clusterIP"]
    assert operations[0]["value"] == KUBEADM_CLUSTER_DNS
    service = _patched(objects[("Service", "kube-dns")], operations)
    assert service["spec"]["clusterIP"] == KUBEADM_CLUSTER_DNS
    values = [
        value
        for path in DEPLOY.rglob("*.yaml")
        for document in _documents(path)
        for value in _scalars(document)
    ]
    written = sum(str(value).count(KUBEADM_CLUSTER_DNS) for value in values)
    assert written == 1, "the ClusterIP is written in one place (comments aside)"
    rendered = _kustomize(DEPLOY)
    if rendered is not None:
        [real] = [d for d in rendered if (d["kind"], d["metadata"]["name"]) == KUBE_DNS]
        assert real["spec"]["clusterIP"] == KUBEADM_CLUSTER_DNS


def _component(name: str) -> dict[tuple[str, str], Obj]:
    folder = DEPLOY / name
    kustomization = _kustomization(folder)
    assert kustomization["kind"] == "Component"
    found: dict[tuple[str, str], Obj] = {}
    for resource in kustomization["resources"]:
        for doc in _documents(folder / resource):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


@pytest.mark.parametrize("name", AUTOSCALERS)
def test_autoscaler_component_is_off_by_default_and_frees_replicas(
    name: str, deployment: Obj
) -> None:
    kustomization = _kustomization()
    assert not kustomization.get("components"), "autoscaling is opt-in"
    assert f"#   - {name}" in (DEPLOY / KUSTOMIZATION).read_text(encoding="utf-8")
    operations = _patches_for(DEPLOY / name, "Deployment", "svcdns")
    assert "replicas" not in _patched(deployment, operations)["spec"]


def test_proportional_autoscaler_scales_svcdns_with_least_privilege() -> None:
    found = _component("autoscaler")
    [autoscaler] = [obj for (kind, _), obj in found.items() if kind == "Deployment"]
    pod = autoscaler["spec"]["template"]["spec"]
    [container] = pod["containers"]
    args = dict(arg.lstrip("-").split("=", 1) for arg in container["args"])
    assert args["target"] == "deployment/svcdns"
    assert args["namespace"] == NAMESPACE
    config = found[("ConfigMap", args["configmap"])]
    linear = json.loads(config["data"]["linear"])
    assert set(linear) >= {"coresPerReplica", "nodesPerReplica", "min"}
    assert linear["preventSinglePointFailure"] is True and linear["min"] >= 2
    account = pod["serviceAccountName"]
    assert found[("ServiceAccount", account)]
    rules = {
        (tuple(rule["apiGroups"]), tuple(rule["resources"])): rule
        for kind in ("ClusterRole", "Role")
        for (k, _), role in found.items()
        if k == kind
        for rule in role["rules"]
    }
    assert set(rules) == {
        (("",), ("nodes",)),
        (("",), ("configmaps",)),
        (("apps",), ("deployments/scale",)),
    }
    assert rules[(("apps",), ("deployments/scale",))]["resourceNames"] == ["svcdns"]
    assert rules[(("",), ("configmaps",))]["resourceNames"] == [args["configmap"]]
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        [binding] = [obj for (k, _), obj in found.items() if k == kind]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
        ]


def test_hpa_scales_svcdns_on_cpu() -> None:
    [hpa] = _component("autoscaler/hpa").values()
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "svcdns",
    }
    assert hpa["spec"]["minReplicas"] >= 2
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"


@pytest.mark.parametrize("name", AUTOSCALERS)
def test_autoscaler_component_renders(name: str, tmp_path: Path) -> None:
    """Turned on as README says, `kubectl kustomize` renders it (where kubectl exists)."""
    copy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, copy)
    text = (copy / KUSTOMIZATION).read_text(encoding="utf-8")
    text = text.replace("# components:", "components:").replace(f"#   - {name}\n", f"  - {name}\n")
    (copy / KUSTOMIZATION).write_text(text, encoding="utf-8")
    assert _kustomization(copy)["components"] == [name]
    rendered = _kustomize(copy)
    if rendered is None:
        return
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in rendered}
    assert "replicas" not in by_key[("Deployment", "svcdns")]["spec"]
    for (kind, _), doc in by_key.items():
        if kind not in CLUSTER_SCOPED:
            assert doc["metadata"]["namespace"] == NAMESPACE


# --- monitoring/: ServiceMonitor, PrometheusRule, Grafana dashboard -----------------------

MONITORING = DEPLOY / "monitoring"
DASHBOARD = "svcdns-dashboard.json"
OPERATOR_API = "monitoring.coreos.com/v1"
# The CoreDNS mixin's alerts (povilasv/coredns-mixin), each of which has a svcdns twin.
COREDNS_ALERTS = {
    "CoreDNSDown",
    "CoreDNSLatencyHigh",
    "CoreDNSErrorsHigh",
    "CoreDNSForwardLatencyHigh",
    "CoreDNSForwardErrorsHigh",
    "CoreDNSForwardHealthcheckFailureCount",
    "CoreDNSForwardHealthcheckBrokenCount",
}
JOB = 'job="svcdns"'


def _monitoring() -> dict[str, Obj]:
    """The monitoring kustomization's objects, by kind (one of each)."""
    kustomization = _kustomization(MONITORING)
    found: dict[str, Obj] = {}
    for resource in kustomization["resources"]:
        for doc in _documents(MONITORING / resource):
            assert doc["kind"] not in found, f"two {doc['kind']}s in monitoring/"
            found[doc["kind"]] = doc
    return found


def _rules() -> list[Obj]:
    groups = _monitoring()["PrometheusRule"]["spec"]["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_monitoring_kustomization_lists_its_files() -> None:
    kustomization = _kustomization(MONITORING)
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == NAMESPACE
    yaml_files = {p.name for p in MONITORING.glob("*.yaml")} - {KUSTOMIZATION}
    assert sorted(kustomization["resources"]) == sorted(yaml_files)
    [generator] = kustomization["configMapGenerator"]
    assert generator["files"] == [DASHBOARD]
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}  # Grafana's sidecar
    for entry in kustomization.get("labels", []):
        assert not entry.get("includeSelectors", False)
    for path in MONITORING.glob("*.yaml"):
        test_yaml_parses_with_kind_and_name(path)


def test_service_monitor_scrapes_svcdns_pods_as_job_svcdns(
    objects: Mapping[tuple[str, str], Obj], pod_labels: dict[str, str]
) -> None:
    monitor = _monitoring()["ServiceMonitor"]
    assert monitor["apiVersion"] == OPERATOR_API
    assert monitor["metadata"]["namespace"] == NAMESPACE
    service = objects[KUBE_DNS]
    assert _selects(monitor["spec"]["selector"], service["metadata"]["labels"])
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    ports = {port["name"]: port["port"] for port in service["spec"]["ports"]}
    assert ports[endpoint["port"]] == _port_of(Config().http)  # the /metrics port
    assert endpoint["path"] == "/metrics"
    keep, job = endpoint["relabelings"][:2]
    # Only svcdns's pods: CoreDNS's sit behind the same Service during a switch.
    label = keep["sourceLabels"][0].removeprefix("__meta_kubernetes_pod_label_")
    name_label = "app.kubernetes.io/name"
    assert label == re.sub(r"[^a-zA-Z0-9_]", "_", name_label)
    assert keep["action"] == "keep" and keep["regex"] == pod_labels[name_label]
    assert job == {"targetLabel": "job", "replacement": "svcdns"}


def test_prometheus_rule_has_a_twin_of_each_coredns_alert() -> None:
    rule = _monitoring()["PrometheusRule"]
    assert rule["apiVersion"] == OPERATOR_API
    assert rule["metadata"]["namespace"] == NAMESPACE
    rules = _rules()
    assert {r["labels"]["coredns_alert"] for r in rules} == COREDNS_ALERTS
    for alert in rules:
        assert alert["alert"].startswith("Svcdns"), alert["alert"]
        assert alert["labels"]["severity"] in ("warning", "critical")
        assert JOB in alert["expr"], f"{alert['alert']} does not select job svcdns"
        assert alert["for"] in ("10m", "15m")  # the mixin's
        assert {"summary", "description"} <= set(alert["annotations"])
        assert "coredns_" not in alert["expr"], "the rules use svcdns's own names"


def test_dashboard_is_grafana_json_with_one_query_a_target() -> None:
    dashboard = json.loads((MONITORING / DASHBOARD).read_text(encoding="utf-8"))
    assert dashboard["uid"] == "svcdns" and dashboard["title"]
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "panel ids repeat"
    cells = set()
    for panel in panels:
        grid = panel["gridPos"]
        mine = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & mine, f"{panel['title']} overlaps another panel"
        assert grid["x"] + grid["w"] <= 24
        cells |= mine
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job", "pod"} <= variables
    titles = " ".join(p["title"].lower() for p in panels)
    for subject in (
        "type",
        "rcode",
        "latency",
        "forward",
        "hit ratio",
        "propagation",
        "names",
        "memory",
    ):
        assert subject in titles, f"no panel on {subject}"


def test_monitoring_renders_with_the_dashboard_configmap() -> None:
    rendered = _kustomize(MONITORING)
    if rendered is None:
        return
    by_kind = {doc["kind"]: doc for doc in rendered}
    assert set(by_kind) == {"ServiceMonitor", "PrometheusRule", "ConfigMap"}
    configmap = by_kind["ConfigMap"]
    assert configmap["metadata"]["name"] == "svcdns-dashboard"
    assert configmap["metadata"]["namespace"] == NAMESPACE
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert configmap["data"][DASHBOARD] == (MONITORING / DASHBOARD).read_text(encoding="utf-8")
