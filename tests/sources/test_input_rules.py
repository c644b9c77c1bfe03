"""Hostile input to the manifests source: kinds of another group/version are ignored, two
files defining one object are warned of once, and YAML aliases are refused unexpanded: the
file holding one is refused whole, like a file with a syntax error."""

from __future__ import annotations

import json
import logging
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import builders
import dns.rcode
import pytest
import yaml
from helpers import ServerFactory, answer_data, poll, write_atomically

from svcdns.core.model import (
    Endpoint,
    EndpointGroup,
    EndpointSlice,
    KubeObject,
    Namespace,
    ObjectKey,
    Port,
    Service,
    ServiceImport,
    ServiceKind,
    Upsert,
)
from svcdns.sources import manifestfiles, manifests
from svcdns.sources.manifestfiles import file_items, shown
from svcdns.sources.manifests import Duplicate, ManifestSource, load

WEB = ObjectKey("Service", "shop", "web")
CORE_WEB = Service("shop", "web", ServiceKind.CLUSTER_IP, cluster_ips=("10.96.0.10",))
CORE_WEB_YAML = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.10}
"""
# What `kubectl get all` prints for a Knative Service named like the core one. Given a
# clusterIP here: read as a core Service, it would replace the core one.
KNATIVE_WEB_YAML = """\
apiVersion: serving.knative.dev/v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  clusterIP: 10.96.6.66
  template:
    spec:
      containers: [{image: ghcr.io/example/web}]
"""
SHOP = Namespace("shop")
SHOP_KEY = ObjectKey("Namespace", "", "shop")
SHOP_YAML = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
REFUSED = "YAML alias refused (Kubernetes objects never use one)"


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every line svcdns logs in this process (`.messages`; `.clear()` between steps)."""
    with caplog.at_level(logging.DEBUG, logger="svcdns"):
        yield caplog


def write(path: Path, text: str, *, mtime: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mtime is not None:  # a new mtime even on a coarse clock: the poll sees the edit
        os.utime(path, ns=(mtime, mtime))
    return path


def service_yaml(name: str, ip: str) -> str:
    metadata = f"{{name: {name}, namespace: shop}}"
    return f"apiVersion: v1\nkind: Service\nmetadata: {metadata}\nspec: {{clusterIP: {ip}}}\n"


def web(ip: str) -> Service:
    return Service("shop", "web", ServiceKind.CLUSTER_IP, cluster_ips=(ip,))


# -- 1. only core v1 and discovery.k8s.io/v1 ------------------------------------------------


@pytest.mark.parametrize(
    "documents",
    [
        pytest.param([CORE_WEB_YAML, KNATIVE_WEB_YAML], id="core-first"),
        pytest.param([KNATIVE_WEB_YAML, CORE_WEB_YAML], id="knative-first"),
    ],
)
def test_another_group_never_replaces_a_core_service_in_one_file(
    tmp_path: Path, logged: pytest.LogCaptureFixture, documents: list[str]
) -> None:
    path = write(tmp_path / "all.yaml", "---\n".join(documents))
    assert load(path) == {WEB: CORE_WEB}
    assert logged.messages == []  # not ours: ignored without a line


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param(CORE_WEB_YAML, KNATIVE_WEB_YAML, id="core-file-first"),
        pytest.param(KNATIVE_WEB_YAML, CORE_WEB_YAML, id="knative-file-first"),
    ],
)
def test_another_group_never_replaces_a_core_service_across_files(
    tmp_path: Path, logged: pytest.LogCaptureFixture, first: str, second: str
) -> None:
    write(tmp_path / "a.yaml", first)
    write(tmp_path / "b.yaml", second)
    assert load(tmp_path) == {WEB: CORE_WEB}
    assert ManifestSource(tmp_path).initial() == [Upsert(CORE_WEB)]
    assert logged.messages == []  # not even a duplicate: they are two different objects


@pytest.mark.parametrize("name", ["0-knative.yaml", "z-knative.yaml"])  # before, after
def test_another_group_coming_or_going_never_touches_the_core_service(
    tmp_path: Path, name: str
) -> None:
    write(tmp_path / "m-core.yaml", CORE_WEB_YAML)
    source = ManifestSource(tmp_path)
    assert source.initial() == [Upsert(CORE_WEB)]
    write(tmp_path / name, KNATIVE_WEB_YAML)
    assert source.poll() == []
    write(tmp_path / name, KNATIVE_WEB_YAML.replace("10.96.6.66", "10.96.6.67"), mtime=1)
    assert source.poll() == []
    (tmp_path / name).unlink()
    assert source.poll() == []
    assert source.objects == {WEB: CORE_WEB}


def endpoint_slice_item(*, api_version: str | None) -> dict[str, object]:
    item: dict[str, object] = {
        "metadata": {
            "name": "web-abcde",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.244.1.5"]}],
        "ports": [{"name": "http", "port": 80}],
    }
    if api_version is not None:
        item = {"apiVersion": api_version, "kind": "EndpointSlice", **item}
    return item


SLICE_KEY = ObjectKey("EndpointSlice", "shop", "web-abcde")
SLICE = EndpointSlice(
    "shop",
    "web-abcde",
    "web",
    (EndpointGroup((Endpoint(("10.244.1.5",), ready=True),), (Port("http", 80, "TCP"),)),),
)


def slice_files(version: str) -> dict[str, str]:
    """One EndpointSlice at `version`, in each shape a dump can give it."""
    item = endpoint_slice_item(api_version=None)  # a typed list's items carry none
    typed_list = {"apiVersion": version, "kind": "EndpointSliceList", "items": [item]}
    item = endpoint_slice_item(api_version=version)
    kubectl_list = {"apiVersion": "v1", "kind": "List", "items": [item]}
    return {
        "object.yaml": yaml.safe_dump(endpoint_slice_item(api_version=version)),
        "kubectl-list.yaml": yaml.safe_dump(kubectl_list),
        "kubectl-list.json": json.dumps(kubectl_list),
        "typed-list.yaml": yaml.safe_dump(typed_list),  # streamed: the head comes last
        "typed-list.json": json.dumps(typed_list),  # streamed: a second pass for the kind
        "typed-list-flow.yaml": json.dumps(typed_list),  # YAML, left whole
    }


@pytest.mark.parametrize("name", list(slice_files("v1")))
@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("discovery.k8s.io/v1", {SLICE_KEY: SLICE}, id="v1-read"),
        pytest.param("discovery.k8s.io/v1beta1", {}, id="v1beta1-ignored"),
        pytest.param("v1", {}, id="core-v1-has-none"),
    ],
)
def test_only_discovery_v1_endpoint_slices_are_read(
    tmp_path: Path,
    logged: pytest.LogCaptureFixture,
    name: str,
    version: str,
    expected: dict[ObjectKey, KubeObject],
) -> None:
    path = write(tmp_path / name, slice_files(version)[name])
    assert load(path) == expected
    assert logged.messages == []


IMPORT_KEY = ObjectKey("ServiceImport", "shop", "db")
IMPORT = ServiceImport("shop", "db", headless=False, ips=("10.42.0.1",))
IMPORT_SLICE_KEY = ObjectKey("EndpointSlice", "shop", "db-cluster-a")
IMPORT_SLICE = EndpointSlice(
    "shop",
    "db-cluster-a",
    "db",
    (EndpointGroup((Endpoint(("10.1.0.5",), ready=True),), ()),),
    cluster="cluster-a",
)


def import_files(version: str) -> dict[str, str]:
    """A ServiceImport at `version` and a multicluster slice, in each shape a dump can give
    them (`kubectl get serviceimports,endpointslices -A`)."""
    item = builders.service_import("db", ips=["10.42.0.1"])
    item["apiVersion"] = version
    mcs_slice = builders.import_slice("db", "cluster-a", [builders.endpoint("10.1.0.5")])
    bare = {k: v for k, v in item.items() if k not in ("apiVersion", "kind")}
    typed_list = {"apiVersion": version, "kind": "ServiceImportList", "items": [bare]}
    kubectl_list = builders.as_list([item, mcs_slice])
    return {
        "objects.yaml": f"{yaml.safe_dump(item)}---\n{yaml.safe_dump(mcs_slice)}",
        "kubectl-list.yaml": yaml.safe_dump(kubectl_list),
        "kubectl-list.json": json.dumps(kubectl_list),
        "typed-list.yaml": f"{yaml.safe_dump(typed_list)}---\n{yaml.safe_dump(mcs_slice)}",
        "typed-list.json": json.dumps(typed_list),
    }


@pytest.mark.parametrize("name", list(import_files("v1")))
@pytest.mark.parametrize(
    ("version", "read"),
    [
        pytest.param("multicluster.x-k8s.io/v1alpha1", True, id="v1alpha1-read"),
        pytest.param("multicluster.x-k8s.io/v1beta1", False, id="v1beta1-ignored"),
    ],
)
def test_service_imports_and_multicluster_slices_are_read_from_a_dump(
    tmp_path: Path, logged: pytest.LogCaptureFixture, name: str, version: str, read: bool
) -> None:
    path = write(tmp_path / name, import_files(version)[name])
    expected: dict[ObjectKey, KubeObject] = {IMPORT_KEY: IMPORT} if read else {}
    if not name.startswith("typed-list.json"):  # that one holds the imports alone
        expected[IMPORT_SLICE_KEY] = IMPORT_SLICE
    assert load(path) == expected
    assert logged.messages == []


def test_items_of_a_knative_service_list_are_not_core_services(tmp_path: Path) -> None:
    # What the API returns for `ksvc`: a typed list whose items carry neither kind nor
    # apiVersion; its `ServiceList` kind alone would make them core Services.
    knative_list = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "ServiceList",
        "items": [
            {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"clusterIP": "1.2.3.4"}}
        ],
    }
    write(tmp_path / "a.json", json.dumps(knative_list))
    write(tmp_path / "b.yaml", yaml.safe_dump(knative_list))
    write(tmp_path / "c.yaml", CORE_WEB_YAML)
    assert load(tmp_path) == {WEB: CORE_WEB}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_typed_list_items_carry_the_lists_kind_and_api_version(tmp_path: Path, suffix: str) -> None:
    typed = {"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSliceList", "items": []}
    typed["items"] = [endpoint_slice_item(api_version=None)]
    dump = yaml.safe_dump if suffix == ".yaml" else json.dumps
    path = write(tmp_path / f"list{suffix}", dump(typed))
    assert [(kind, version) for _, kind, version in file_items(path)] == [
        ("EndpointSlice", "discovery.k8s.io/v1beta1")
    ]


# -- 2. one object in two files ------------------------------------------------------------


def test_two_files_defining_one_object_log_one_warning_naming_both(
    tmp_path: Path, logged: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "a.yaml", service_yaml("web", "10.96.0.1") + "---\n" + SHOP_YAML)
    write(tmp_path / "sub" / "b.yml", service_yaml("web", "10.96.0.2") + "---\n" + SHOP_YAML)
    write(tmp_path / "c.json", json.dumps({"apiVersion": "v1", "kind": "List", "items": []}))
    source = ManifestSource(tmp_path)
    source.initial()
    assert source.objects == {WEB: web("10.96.0.2"), SHOP_KEY: SHOP}
    assert logged.messages == [
        "Service shop/web is defined in a.yaml and sub/b.yml; sub/b.yml wins",
        "Namespace shop is defined in a.yaml and sub/b.yml; sub/b.yml wins",
    ]


def test_twice_in_one_file_and_once_in_another_is_one_pair(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", CORE_WEB_YAML)
    write(tmp_path / "b.yaml", "---\n".join([service_yaml("web", f"10.96.0.{n}") for n in (2, 3)]))
    objects, duplicates = manifests.read(tmp_path)
    assert objects == {WEB: web("10.96.0.3")}
    assert duplicates == [Duplicate(WEB, tmp_path / "a.yaml", tmp_path / "b.yaml", 2)]


def test_a_poll_warns_again_only_of_a_new_duplicate(
    tmp_path: Path, logged: pytest.LogCaptureFixture
) -> None:
    write(tmp_path / "a.yaml", service_yaml("web", "10.96.0.1"))
    write(tmp_path / "b.yaml", service_yaml("web", "10.96.0.2"))
    source = ManifestSource(tmp_path)
    source.initial()
    assert logged.messages == ["Service shop/web is defined in a.yaml and b.yaml; b.yaml wins"]

    def step(*, expected: list[str]) -> None:
        logged.clear()
        source.poll()
        assert [r.getMessage() for r in logged.records if r.levelno == logging.WARNING] == expected

    write(tmp_path / "x.yaml", service_yaml("other", "10.96.0.9"))
    step(expected=[])  # another file changed: the same duplicate, not repeated
    write(tmp_path / "b.yaml", service_yaml("web", "10.96.0.3"), mtime=1)
    step(expected=[])  # the winner edited: still the same two files
    assert source.objects[WEB] == web("10.96.0.3")
    write(tmp_path / "c.yaml", service_yaml("web", "10.96.0.4"))
    step(expected=["Service shop/web is defined in 3 files, from a.yaml to c.yaml; c.yaml wins"])
    (tmp_path / "b.yaml").unlink()
    (tmp_path / "c.yaml").unlink()
    step(expected=[])
    assert source.objects[WEB] == web("10.96.0.1")
    write(tmp_path / "b.yaml", service_yaml("web", "10.96.0.2"))
    step(expected=["Service shop/web is defined in a.yaml and b.yaml; b.yaml wins"])
    write(tmp_path / "b.yaml", "kind: [", mtime=2)
    step(expected=[])  # broken: an error line; the last good state and its warnings stand
    write(tmp_path / "b.yaml", service_yaml("web", "10.96.0.2"), mtime=3)
    step(expected=[])


def test_the_warning_is_one_bounded_line_whatever_the_names(
    tmp_path: Path, logged: pytest.LogCaptureFixture
) -> None:
    name = "n" * 5000
    folder = "d" * 200
    text = service_yaml(name, "10.96.0.1")
    write(tmp_path / "a.yaml", text)
    write(tmp_path / folder / "evil\nname.yaml", text)
    ManifestSource(tmp_path).initial()
    tail = f"{folder}/evil\\nname.yaml"[-100:]
    assert logged.messages == [
        f"Service shop/{'n' * 100} is defined in a.yaml and ...{tail}; ...{tail} wins"
    ]


def test_shown_file_names() -> None:
    root = Path("/srv/manifests")
    assert shown(root / "sub" / "a.yaml", root) == "sub/a.yaml"
    assert shown(Path("/elsewhere/a.yaml"), root) == "/elsewhere/a.yaml"
    assert shown(root / "a\x1b[2Jb.yaml", root) == "a\\x1b[2Jb.yaml"
    assert shown(Path("/" + "x" * 300)) == "..." + "x" * 100


# -- 3. YAML aliases -----------------------------------------------------------------------


def alias_bomb() -> str:
    """A billion laughs: seven levels of anchors, each naming the one before 100 times;
    16 KB that stand for 125 * 100**6 strings of 100 characters."""
    levels = ["  a0: &a0 [" + ", ".join([f'"{"x" * 100}"'] * 125) + "]"]
    levels += [f"  a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 100) + "]" for n in range(1, 7)]
    return "\n".join(
        [
            "apiVersion: v1",
            "kind: Service",
            "metadata: {name: bomb, namespace: shop}",
            "x-anchors:",
            *levels,
            "spec: {clusterIP: *a6, ports: *a6}",
            "",
        ]
    )


@pytest.fixture(params=["CSafeLoader", "SafeLoader"])
def yaml_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test of this part runs with the C loader and the pure Python one."""
    loader = getattr(yaml, request.param, None)
    if loader is None:
        pytest.skip(f"PyYAML without {request.param}")
    monkeypatch.setattr(manifestfiles, "_YAML_LOADER", loader)
    return str(request.param)


def test_an_alias_bomb_is_refused_unexpanded(
    tmp_path: Path, logged: pytest.LogCaptureFixture, yaml_loader: str
) -> None:
    bomb = alias_bomb()
    assert 16_000 < len(bomb) < 17_000
    path = write(tmp_path / "bomb.yaml", CORE_WEB_YAML + "---\n" + bomb)
    tracemalloc.start()
    try:
        with pytest.raises(manifests.ManifestError) as caught:
            load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000
    assert str(caught.value) == f"{path}: line 11: {REFUSED}"  # the file, refused whole
    assert logged.messages == []


ANCHORED_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: api
  namespace: shop
  labels: &labels {app: api}
  annotations: *labels
spec: {clusterIP: 10.96.0.11}
"""
LIST_WITH_ALIAS = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: &meta {name: api, namespace: shop}
  spec: {clusterIP: 10.96.0.11}
- apiVersion: v1
  kind: Service
  metadata: *meta
  spec: {clusterIP: 10.96.0.12}
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop}
"""
API = Service("shop", "api", ServiceKind.CLUSTER_IP, cluster_ips=("10.96.0.11",))


def test_an_alias_in_a_valid_service_refuses_its_file_with_one_line(
    tmp_path: Path, logged: pytest.LogCaptureFixture, yaml_loader: str
) -> None:
    path = write(tmp_path / "c.yaml", "---\n".join([CORE_WEB_YAML, ANCHORED_SERVICE, SHOP_YAML]))
    with pytest.raises(manifests.ManifestError) as caught:
        load(path)
    assert str(caught.value) == f"{path}: line 12: {REFUSED}"
    assert logged.messages == []


def test_an_alias_in_a_list_item_refuses_its_file(
    tmp_path: Path, logged: pytest.LogCaptureFixture, yaml_loader: str
) -> None:
    path = write(tmp_path / "list.yaml", LIST_WITH_ALIAS)
    with pytest.raises(manifests.ManifestError) as caught:
        load(path)
    assert str(caught.value) == f"{path}: line 10: {REFUSED}"
    # An anchor alone is harmless: without the item naming it, the list loads.
    without_alias = LIST_WITH_ALIAS.replace("  metadata: *meta\n", "  metadata: {name: x}\n")
    objects = load(write(path, without_alias))
    assert objects[ObjectKey("Service", "shop", "api")] == API and objects[SHOP_KEY] == SHOP
    assert logged.messages == []


def test_stars_that_are_not_aliases_still_load(
    tmp_path: Path, logged: pytest.LogCaptureFixture, yaml_loader: str
) -> None:
    text = CORE_WEB_YAML.replace(
        "metadata: {name: web, namespace: shop}",
        "metadata:\n  name: web\n  namespace: shop\n"
        "  annotations: {hosts: '*.example.com', glob: \"a*b\", plain: x*y}\n"
        "  labels:\n    star: '*'",
    )
    assert load(write(tmp_path / "c.yaml", text)) == {WEB: CORE_WEB}
    assert logged.messages == []


def test_json_has_no_aliases_to_refuse(tmp_path: Path, logged: pytest.LogCaptureFixture) -> None:
    raw = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "*web", "namespace": "shop"}}
    raw["spec"] = {"clusterIP": "10.96.0.10"}
    objects = load(write(tmp_path / "c.json", json.dumps({"kind": "List", "items": [raw]})))
    assert objects == {
        ObjectKey("Service", "shop", "*web"): Service(
            "shop", "*web", ServiceKind.CLUSTER_IP, cluster_ips=("10.96.0.10",)
        )
    }
    assert logged.messages == []


# -- all three through a real server -------------------------------------------------------


def test_a_server_on_a_hostile_folder(tmp_path: Path, start_server: ServerFactory) -> None:
    folder = tmp_path / "manifests"
    api = service_yaml("api", "10.96.100.20")
    write(folder / "a.yaml", "---\n".join([SHOP_YAML, CORE_WEB_YAML, api]))
    b_yaml = "---\n".join([KNATIVE_WEB_YAML, api.replace(".20", ".21")])
    write(folder / "b.yaml", b_yaml)
    server = start_server(folder)

    def addresses(name: str) -> list[str] | None:
        reply = server.udp(f"{name}.shop.svc.cluster.local", "A")
        return sorted(answer_data(reply, "A")) if reply.rcode() == dns.rcode.NOERROR else None

    def duplicate_lines() -> int:
        line = "Service shop/api is defined in a.yaml and b.yaml; b.yaml wins"
        return server.count_lines(lambda text: line in text)

    assert addresses("web") == ["10.96.0.10"]
    assert addresses("api") == ["10.96.100.21"]
    assert duplicate_lines() == 1, server.stderr_text()
    assert not any("knative" in line or "10.96.6.66" in line for line in server.lines)

    # An edit to b adding an aliased document is refused whole: b keeps its last good
    # content (api stays .21) while another file's change still applies.
    anchored = ANCHORED_SERVICE.replace("api", "anchored")
    write_atomically(folder / "b.yaml", "---\n".join([b_yaml.replace(".21", ".22"), anchored]))
    refused = f"{folder / 'b.yaml'}: line 21: {REFUSED}"
    assert server.wait_for_line(lambda text: refused in text, 3.0), server.stderr_text()
    write_atomically(folder / "c.yaml", service_yaml("extra", "10.96.100.50"))
    assert poll(lambda: addresses("extra") == ["10.96.100.50"], timeout=3.0)
    assert addresses("api") == ["10.96.100.21"]
    assert addresses("anchored") is None
    assert server.count_lines(lambda text: refused in text) == 1, server.stderr_text()

    write_atomically(folder / "b.yaml", b_yaml.replace(".21", ".22"))
    assert poll(lambda: addresses("api") == ["10.96.100.22"], timeout=3.0)
    assert addresses("web") == ["10.96.0.10"]
    assert duplicate_lines() == 1, server.stderr_text()
