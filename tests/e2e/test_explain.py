"""`svcdns explain NAME [TYPE]`: the answer as dig shows it, then why, one test per reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import CLUSTER_YAML, headless_service, namespace, run_svcdns, to_yaml


def explained(*args: str, manifests: Path = CLUSTER_YAML) -> tuple[str, list[str]]:
    """(the dig-style answer, the reasons) of one `svcdns explain` run."""
    result = run_svcdns(["explain", *args, "--manifests", str(manifests), "--upstream", "none"])
    assert result.returncode == 0, result.stderr
    answer, _, reasons = result.stdout.partition("\n\n")
    return answer, [line.removeprefix(";; ") for line in reasons.splitlines() if line]


def test_a_clusterip_name_names_its_service_and_the_answer() -> None:
    answer, reasons = explained("web.shop.svc.cluster.local")
    assert "status: NOERROR" in answer and "10.96.100.10" in answer
    assert reasons == [
        "Service shop/web has the ClusterIP(s) 10.96.100.10.",
        "the name answers its ClusterIP(s), whatever its endpoints (spec 2.3.1).",
    ]


def test_a_headless_name_lists_ready_and_not_ready_endpoints_with_their_pods() -> None:
    _, reasons = explained("db.shop.svc.cluster.local")
    assert reasons[0] == "Service shop/db is headless (clusterIP: None)."
    assert "10.244.2.10 (pod db-0)" in reasons[1] and "10.244.2.11 (pod db-1)" in reasons[1]
    assert reasons[2].startswith("not ready, left out: 10.244.2.12 (pod db-2)")


def test_an_endpoint_name_names_its_slice_and_pod() -> None:
    _, reasons = explained("db-0.db.shop.svc.cluster.local")
    assert reasons[1].startswith("endpoint 10.244.2.10 of EndpointSlice ")
    assert reasons[1].endswith(", pod db-0: ready.")


def test_no_such_namespace() -> None:
    answer, reasons = explained("web.nosuch.svc.cluster.local")
    assert "status: NXDOMAIN" in answer
    assert reasons == ["no namespace nosuch: no Namespace object and no Service in it."]


def test_namespace_filtered_out() -> None:
    _, reasons = explained("web.shop.svc.cluster.local", "--namespaces", "tools")
    assert reasons == ["namespace shop is not served: it is not in --namespaces."]


def test_no_such_service_lists_the_services_of_the_namespace() -> None:
    _, reasons = explained("nope.shop.svc.cluster.local")
    assert reasons[0].startswith("no Service nope in namespace shop (its Services: ")
    assert "web" in reasons[0]


def test_a_service_without_a_ready_endpoint(tmp_path: Path) -> None:
    slice_: dict[str, Any] = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "lonely-1",
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "lonely"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {
                "addresses": ["10.244.7.7"],
                "conditions": {"ready": False},
                "targetRef": {"kind": "Pod", "name": "lonely-abc"},
            }
        ],
    }
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text(to_yaml(namespace("shop"), headless_service("lonely"), slice_))
    answer, reasons = explained("lonely.shop.svc.cluster.local", manifests=manifests)
    assert "status: NXDOMAIN" in answer
    assert reasons[1] == (
        "no ready endpoint, so NXDOMAIN; not ready: 10.244.7.7 (pod lonely-abc) from lonely-1."
    )


def test_a_port_that_does_not_exist_lists_the_ports_that_do() -> None:
    _, reasons = explained("_nope._tcp.web.shop.svc.cluster.local", "SRV")
    assert reasons[1] == "no port named nope with protocol TCP (it has: http/TCP, metrics/TCP)."


def test_an_external_name_that_is_an_ip(tmp_path: Path) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "legacy", "namespace": "shop"},
        "spec": {"type": "ExternalName", "externalName": "192.0.2.1"},
    }
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text(to_yaml(namespace("shop"), service))
    _, reasons = explained("legacy.shop.svc.cluster.local", manifests=manifests)
    assert reasons == [
        "Service shop/legacy is an ExternalName for 192.0.2.1.",
        "its external name is an IP address: Kubernetes gives it no record.",
    ]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param((), "forwarding is off (--upstream none): REFUSED.", id="no-forwarding"),
        pytest.param(
            ("--stub-domain", "github.com=10.0.0.53"),
            "it is forwarded to 10.0.0.53:53 (stub domain github.com).",
            id="stub-domain",
        ),
    ],
)
def test_a_name_outside_the_zones_says_where_it_would_go(
    extra: tuple[str, ...], expected: str
) -> None:
    _, reasons = explained("api.github.com", *extra)
    assert reasons == [f"api.github.com is outside the zone cluster.local: {expected}"]


def test_a_bad_type_is_a_usage_error() -> None:
    result = run_svcdns(["explain", "web.shop.svc.cluster.local", "NOPE", "--manifests", "x"])
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
