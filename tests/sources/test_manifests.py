"""Manifests source: formats, folders, broken files, skipped objects, change events."""

import json
import logging
import os
from pathlib import Path

import pytest

from svcdns.core.model import Delete, Namespace, ObjectKey, Service, Upsert, diff
from svcdns.sources.manifests import ManifestError, ManifestSource, load

SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.10}
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_kubectl_list_and_multi_document_yaml(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: Namespace, metadata: {name: shop}}\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg, namespace: shop}}\n"
        "---\n" + SERVICE_YAML + "---\n"
    )
    objects = load(write(tmp_path / "c.yaml", text))
    assert set(objects) == {ObjectKey("Namespace", "", "shop"), ObjectKey("Service", "shop", "web")}


def test_typed_api_list_items_take_the_lists_kind(tmp_path: Path) -> None:
    body = {
        "kind": "ServiceList",
        "apiVersion": "v1",
        "items": [
            {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"clusterIP": "None"}}
        ],
    }
    objects = load(write(tmp_path / "svc.json", json.dumps(body)))
    assert isinstance(objects[ObjectKey("Service", "shop", "web")], Service)


def test_folder_reads_yaml_yml_and_json_recursively(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", SERVICE_YAML)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub" / "b.yml", "kind: Namespace\nmetadata: {name: tools}\n")
    write(tmp_path / "c.json", json.dumps({"kind": "Namespace", "metadata": {"name": "x"}}))
    write(tmp_path / "notes.txt", "not a manifest: {")
    assert len(load(tmp_path)) == 3


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        pytest.param("bad.yaml", "kind: Service\n  metadata: [", "invalid YAML: line", id="yaml"),
        pytest.param("bad.json", '{"kind": ', "invalid JSON", id="json"),
        pytest.param("list.yaml", "- a\n- b\n", "not an object", id="not-a-mapping"),
    ],
)
def test_broken_file_is_one_line_naming_it(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(ManifestError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        load(tmp_path / "nope.yaml")


def test_object_missing_a_field_is_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = SERVICE_YAML + "---\nkind: Service\nmetadata: {name: broken, namespace: shop}\n"
    with caplog.at_level(logging.WARNING):
        objects = load(write(tmp_path / "c.yaml", text))
    assert list(objects) == [ObjectKey("Service", "shop", "web")]
    assert [r.getMessage() for r in caplog.records] == [
        f"{tmp_path / 'c.yaml'}: Service shop/broken skipped: spec.clusterIP missing"
    ]


def test_diff_gives_upserts_for_changes_and_deletes_for_removals() -> None:
    shop, tools = Namespace("shop"), Namespace("tools")
    old = {ObjectKey("Namespace", "", "shop"): shop, ObjectKey("Namespace", "", "tools"): tools}
    new = {
        ObjectKey("Namespace", "", "shop"): shop,
        ObjectKey("Namespace", "", "x"): Namespace("x"),
    }
    assert diff(old, new) == [Upsert(Namespace("x")), Delete(ObjectKey("Namespace", "", "tools"))]


def test_poll_keeps_the_last_good_state_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path / "c.yaml", SERVICE_YAML)
    source = ManifestSource(path)
    assert len(source.initial()) == 1
    assert source.poll() == []  # unchanged
    write(path, "kind: [")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse clocks
    with caplog.at_level(logging.ERROR):
        assert source.poll() == []
        assert source.poll() == []  # same broken file: not logged again
    assert len(caplog.records) == 1
    assert caplog.records[0].getMessage().startswith(f"keeping the last good state: {path}: ")
    assert list(source.objects) == [ObjectKey("Service", "shop", "web")]
    write(path, SERVICE_YAML.replace("10.96.0.10", "10.96.0.99"))
    (event,) = source.poll()
    assert isinstance(event, Upsert) and isinstance(event.obj, Service)
    assert event.obj.cluster_ips == ("10.96.0.99",)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("kind: Service\nwhen: 2026-13-45\n", "ValueError", id="impossible-date"),
        pytest.param("[" * 5000 + "]" * 5000, "", id="deep-nesting"),
    ],
)
def test_any_parser_failure_is_a_manifest_error(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "odd.yaml", text)
    with pytest.raises(ManifestError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value) and "\n" not in str(caught.value)


# -- a broken or refused file keeps its last good content ----------------------------------

ALIAS_ONLY_YAML = """\
apiVersion: v1
kind: Service
metadata: &meta {name: web, namespace: shop}
spec: {clusterIP: 10.96.0.10}
x-copy: *meta
"""
# What makes a file unusable: a YAML syntax error, and a document refused for an alias.
BROKEN_FILES = [
    pytest.param("kind: [\n", "invalid YAML", id="syntax-error"),
    pytest.param(ALIAS_ONLY_YAML, "line 5: YAML alias refused", id="alias-only-document"),
    pytest.param(
        SERVICE_YAML.replace("web", "other") + "---\n" + ALIAS_ONLY_YAML,
        "line 10: YAML alias refused",
        id="alias-in-second-document",
    ),
    pytest.param(
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n"
        "  metadata: &m {name: shop}\n- apiVersion: v1\n  kind: Namespace\n  metadata: *m\n",
        "line 9: YAML alias refused",
        id="alias-in-a-list-item",
    ),
]
WEB_KEY = ObjectKey("Service", "shop", "web")
SHOP_KEY = ObjectKey("Namespace", "", "shop")


def service_yaml(name: str, ip: str) -> str:
    return SERVICE_YAML.replace("name: web", f"name: {name}").replace("10.96.0.10", ip)


def rewrite(path: Path, text: str, *, mtime: int) -> None:
    """`text` into `path` with a new mtime even on a coarse clock: the poll sees the edit."""
    path.write_text(text)
    os.utime(path, ns=(mtime, mtime))


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("text", "problem"), BROKEN_FILES)
def test_a_broken_or_refused_file_keeps_its_last_good_content(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, problem: str
) -> None:
    path = write(tmp_path / "c.yaml", SERVICE_YAML)
    source = ManifestSource(path)
    assert source.initial() == [Upsert(load(path)[WEB_KEY])]
    rewrite(path, text, mtime=1)
    with caplog.at_level(logging.WARNING):
        assert source.poll() == []  # nothing deleted, nothing half-applied
        assert source.poll() == []  # unchanged: not read (nor logged) again
    assert list(source.objects) == [WEB_KEY]
    (line,) = [r.getMessage() for r in caplog.records]  # one line, and nothing else
    assert line.startswith(f"keeping the last good state: {path}: ")
    assert problem in line
    rewrite(path, service_yaml("web", "10.96.0.99"), mtime=2)
    (event,) = source.poll()
    assert isinstance(event, Upsert) and isinstance(event.obj, Service)
    assert event.obj.cluster_ips == ("10.96.0.99",)


@pytest.mark.parametrize(("text", "problem"), BROKEN_FILES)
def test_a_broken_file_of_a_folder_keeps_its_content_while_the_others_change(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, problem: str
) -> None:
    a = write(tmp_path / "a.yaml", service_yaml("web", "10.96.0.10"))
    b = write(tmp_path / "b.yaml", service_yaml("api", "10.96.0.20"))
    c = tmp_path / "c.yaml"
    api = ObjectKey("Service", "shop", "api")
    source = ManifestSource(tmp_path)
    source.initial()
    web = source.objects[WEB_KEY]
    rewrite(a, text, mtime=1)
    rewrite(b, service_yaml("api", "10.96.0.21"), mtime=1)
    with caplog.at_level(logging.ERROR):
        assert source.poll() == [Upsert(load(b)[api])]  # b's edit, and only that
        rewrite(b, service_yaml("api", "10.96.0.22"), mtime=2)
        assert source.poll() == [Upsert(load(b)[api])]  # a is not logged again
        write(c, text)  # a new file broken from the start: nothing to keep, nothing added
        assert source.poll() == []
    assert source.objects == {WEB_KEY: web, api: load(b)[api]}
    assert [line.split(": ")[1] for line in errors(caplog)] == [str(a), str(c)]
    assert all(problem in line for line in errors(caplog))
    a.unlink()  # a file gone takes its last good content with it
    assert source.poll() == [Delete(WEB_KEY)]


@pytest.mark.parametrize(("text", "problem"), BROKEN_FILES)
def test_a_broken_or_refused_file_at_start_is_an_error(
    tmp_path: Path, text: str, problem: str
) -> None:
    write(tmp_path / "a.yaml", SERVICE_YAML)
    path = write(tmp_path / "b.yaml", text)
    with pytest.raises(ManifestError) as caught:
        ManifestSource(tmp_path).initial()
    assert str(caught.value).startswith(f"{path}: ") and problem in str(caught.value)


def test_a_service_comes_with_its_first_slice_and_one_without_slices_comes_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dump lists every Service before any slice: each Service is held for the batch of
    its first slice, so its records are computed once, with its endpoints."""
    from svcdns.core import state as state_module
    from svcdns.core.state import ClusterState
    from svcdns.core.zonedata import ZoneSettings

    services = [
        {"kind": "Service", "metadata": {"name": n, "namespace": "shop"}, "spec": {"clusterIP": ip}}
        for n, ip in (("web", "10.96.0.1"), ("api", "10.96.0.2"), ("lone", "10.96.0.3"))
    ]
    slices = [
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{n}-{x}",
                "namespace": "shop",
                "labels": {"kubernetes.io/service-name": n},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip]}],
        }
        for n, x, ip in (("api", "a", "10.244.0.1"), ("web", "a", "10.244.0.2"))
    ]
    path = write(tmp_path / "c.json", json.dumps({"kind": "List", "items": services + slices}))
    events = ManifestSource(path).initial()
    names = [(type(e.obj).__name__, e.obj.name) for e in events if isinstance(e, Upsert)]
    assert names == [
        ("Service", "api"),
        ("EndpointSlice", "api-a"),
        ("Service", "web"),
        ("EndpointSlice", "web-a"),
        ("Service", "lone"),
    ]
    computed: list[str] = []
    real = state_module.service_zone

    def counting(service: Service, *args: object) -> object:
        computed.append(service.name)
        return real(service, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(state_module, "service_zone", counting)
    state = ClusterState(ZoneSettings())
    state.apply_all(events, now=0)
    assert sorted(computed) == ["api", "lone", "web"]


def test_the_server_process_never_imports_the_json_parser() -> None:
    """The first load parses in a child process: the server holds no ijson (1.6 MB)."""
    import subprocess
    import sys

    code = "import sys, svcdns.cli, svcdns.serve, svcdns.feed; print('ijson' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert found.stdout.strip() == "False", found.stderr
