"""`svcdns explain NAME [TYPE]`: the answer as dig shows it, then why, one test per reason."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import builders
import pytest
from builders import endpoint, headless_service, namespace, slice_of, to_yaml
from helpers import CLUSTER_YAML, run_svcdns


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


DB = "db.shop.svc.cluster.local"
WEB = "web.shop.svc.cluster.local"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "_http._tcp.web.shop.svc.cluster.local",
            [
                "Service shop/web has the ClusterIP(s) 10.96.100.10.",
                f"SRV 80 {WEB}: port http/TCP of the Service; the target is the Service name, "
                "which answers its ClusterIP(s) 10.96.100.10 (spec 2.3.2).",
            ],
            id="clusterip-targets-the-service-name",
        ),
        pytest.param(
            f"_mysql._tcp.{DB}",
            [
                "Service shop/db is headless (clusterIP: None).",
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-kwpt4.",
                f"SRV 3306 db-1.{DB}: endpoint 10.244.2.11 (pod db-1) of EndpointSlice db-kwpt4.",
                "not ready, left out: 10.244.2.12 (pod db-2) from db-kwpt4.",
            ],
            id="headless-target-per-ready-endpoint",
        ),
        pytest.param(
            "_pg._tcp.legacy-db.shop.svc.cluster.local",
            [
                "Service shop/legacy-db is headless (clusterIP: None).",
                "SRV 5432 pg-main.legacy-db.shop.svc.cluster.local: "
                "endpoint 10.244.3.7 of Endpoints legacy-db.",
                "not ready, left out: 10.244.3.8 from legacy-db.",
            ],
            id="headless-legacy-endpoints",
        ),
        pytest.param(
            "_http._tcp.plain.shop.svc.cluster.local",
            [
                "Service shop/plain has the ClusterIP(s) 10.96.100.20.",
                "no port named http with protocol TCP (it has: no named port); "
                "an unnamed port has no SRV (spec 2.3.2): 8080/TCP.",
            ],
            id="unnamed-port",
        ),
        pytest.param(
            WEB,
            [
                "Service shop/web has the ClusterIP(s) 10.96.100.10.",
                "one SRV per port of the Service, unnamed ones too, to the Service name itself, "
                "which answers its ClusterIP(s) (as CoreDNS; the spec is silent).",
                f"SRV 80 {WEB}: port http/TCP of the Service.",
                f"SRV 9090 {WEB}: port metrics/TCP of the Service.",
            ],
            id="clusterip-service-name-every-port",
        ),
        pytest.param(
            "plain.shop.svc.cluster.local",
            [
                "Service shop/plain has the ClusterIP(s) 10.96.100.20.",
                "one SRV per port of the Service, unnamed ones too, to the Service name itself, "
                "which answers its ClusterIP(s) (as CoreDNS; the spec is silent).",
                "SRV 8080 plain.shop.svc.cluster.local: unnamed port 8080/TCP of the Service.",
            ],
            id="clusterip-service-name-unnamed-port",
        ),
        pytest.param(
            DB,
            [
                "Service shop/db is headless (clusterIP: None).",
                "one SRV per port of each ready endpoint, unnamed ones too, to the endpoint's "
                "name (as CoreDNS; the spec is silent).",
                f"SRV 3306 db-0.{DB}: port mysql/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-kwpt4.",
                f"SRV 3306 db-1.{DB}: port mysql/TCP of endpoint 10.244.2.11 (pod db-1) "
                "of EndpointSlice db-kwpt4.",
                "not ready, left out: 10.244.2.12 (pod db-2) from db-kwpt4.",
            ],
            id="headless-service-name-each-endpoint",
        ),
        pytest.param(
            f"db-0.{DB}",
            [
                "Service shop/db is headless (clusterIP: None).",
                "one SRV per port of the endpoint, unnamed ones too, to the endpoint name "
                "itself (as CoreDNS; the spec is silent).",
                f"SRV 3306 db-0.{DB}: port mysql/TCP of endpoint 10.244.2.10 (pod db-0) "
                "of EndpointSlice db-kwpt4.",
            ],
            id="endpoint-name",
        ),
        pytest.param(
            f"10-244-1-10.{WEB}",
            [
                "Service shop/web has the ClusterIP(s) 10.96.100.10.",
                "one SRV per port of the endpoint, unnamed ones too, to the endpoint name "
                "itself (as CoreDNS; the spec is silent).",
                f"SRV 8080 10-244-1-10.{WEB}: port http/TCP of endpoint 10.244.1.10 (pod web-0) "
                "of EndpointSlice web-6m4kj.",
                f"SRV 9090 10-244-1-10.{WEB}: port metrics/TCP of endpoint 10.244.1.10 "
                "(pod web-0) of EndpointSlice web-6m4kj.",
            ],
            id="endpoint-name-behind-a-clusterip",
        ),
        pytest.param(
            "_http._tcp.ext.shop.svc.cluster.local",
            [
                "Service shop/ext is an ExternalName for www.example.com.",
                "an ExternalName has only the CNAME at its own name: no SRV (spec 2.5).",
            ],
            id="external-name",
        ),
    ],
)
def test_srv_traces_each_target(name: str, expected: list[str]) -> None:
    answer, reasons = explained(name, "SRV")
    assert reasons == expected
    answered = re.findall(r"\sSRV\s+\d+ \d+ (\d+) (\S+)\.$", answer, re.M)
    traced = [tuple(line.split(":")[0].split()[1:]) for line in expected if line[:4] == "SRV "]
    assert traced == answered  # every record explained is a record answered, and no other


def _address_in_two_slices(tmp_path: Path) -> Path:
    """shop/db: 10.244.2.10 in slice db-a (port 3306) and db-b (port 3307, which also lists
    the not-ready 10.244.2.11)."""
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text(
        to_yaml(
            namespace("shop"),
            headless_service("db"),
            _slice("db-a", [("10.244.2.10", "db-0", True)], port=3306),
            _slice("db-b", [("10.244.2.10", "db-0", True), ("10.244.2.11", "", False)], port=3307),
        )
    )
    return manifests


def test_srv_of_an_address_in_two_slices_names_each_slice_and_its_port(tmp_path: Path) -> None:
    manifests = _address_in_two_slices(tmp_path)
    _, reasons = explained(f"_mysql._tcp.{DB}", "SRV", manifests=manifests)
    assert reasons[1:] == [
        f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a.",
        f"SRV 3307 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-b.",
        "not ready, left out: 10.244.2.11 from db-b.",
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ("-x", "10.244.2.10"),
            [
                f"PTR db-0.{DB}: Service shop/db (headless), "
                "endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-kwpt4 (spec 2.4.4).",
                "PTR 10-244-2-10.db-peers.shop.svc.cluster.local: Service shop/db-peers "
                "(headless), endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-peers-ls48q "
                "(spec 2.4.4).",
            ],
            id="endpoint-of-two-services",
        ),
        pytest.param(
            ("10.100.96.10.in-addr.arpa", "PTR"),
            [f"PTR {WEB}: Service shop/web (ClusterIP), its ClusterIP 10.96.100.10 (spec 2.3.4)."],
            id="clusterip-by-reverse-name",
        ),
        pytest.param(
            ("-x", "fd00:10:96::1e"),
            [
                "PTR dual.shop.svc.cluster.local: Service shop/dual (ClusterIP), "
                "its ClusterIP fd00:10:96::1e (spec 2.3.4)."
            ],
            id="clusterip-ipv6",
        ),
        pytest.param(
            ("-x", "10.244.1.10"),
            [
                "PTR 10-244-1-10.plain.shop.svc.cluster.local: Service shop/plain (ClusterIP), "
                "endpoint 10.244.1.10 (pod web-0) of EndpointSlice plain-4n4q2 "
                "(as CoreDNS; the spec is silent).",
                f"PTR 10-244-1-10.{WEB}: Service shop/web (ClusterIP), "
                "endpoint 10.244.1.10 (pod web-0) of EndpointSlice web-6m4kj "
                "(as CoreDNS; the spec is silent).",
            ],
            id="endpoint-behind-two-clusterips",
        ),
    ],
)
def test_ptr_names_the_service_and_endpoint_behind_each_record(
    args: tuple[str, ...], expected: list[str]
) -> None:
    answer, reasons = explained(*args)
    assert "status: NOERROR" in answer
    assert reasons == [
        "a cluster address: one PTR for each Service or endpoint name that holds it.",
        *expected,
    ]
    for line in expected:  # every record explained is a record answered
        assert f"PTR     {line.split()[1].rstrip(':')}." in answer


def test_ptr_of_an_address_in_two_slices_names_both(tmp_path: Path) -> None:
    manifests = _address_in_two_slices(tmp_path)
    _, reasons = explained("-x", "10.244.2.10", manifests=manifests)
    assert reasons[1:] == [
        f"PTR db-0.{DB}: Service shop/db (headless), "
        "endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a; "
        "endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-b (spec 2.4.4)."
    ]


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("-x", "10.244.2"), id="not-an-address"),
        pytest.param(("-x", "10.244.2.10", DB), id="both-a-name-and-an-address"),
        pytest.param((), id="neither"),
    ],
)
def test_explain_x_usage_errors(args: tuple[str, ...]) -> None:
    result = run_svcdns(["explain", *args, "--manifests", str(CLUSTER_YAML)])
    assert result.returncode == 1
    assert result.stderr.startswith("svcdns: explain: ")
    assert len(result.stderr.strip().splitlines()) == 1


def _slice(name: str, endpoints: list[tuple[str, str, bool]], *, port: int) -> dict[str, Any]:
    """An EndpointSlice of Service shop/db: (address, hostname and pod, ready) per endpoint,
    and one port named mysql."""
    items = [endpoint(a, ready=ready, hostname=pod, pod=pod) for a, pod, ready in endpoints]
    return slice_of("db", name, items, ports=[builders.port("mysql", port)])


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


def _troubleshooting_examples() -> list[tuple[list[str], list[str]]]:
    """README TROUBLESHOOTING's `$ svcdns explain` blocks: (arguments, lines shown)."""
    text = (CLUSTER_YAML.parent.parent / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## TROUBLESHOOTING\n", 1)[1].split("\n## ", 1)[0]
    examples = []
    for block in re.findall(r"^```\n(\$ svcdns explain .*?)^```", section, re.M | re.S):
        command, *shown = block.splitlines()
        examples.append((shlex.split(command)[2:], shown))
    return examples


def test_readme_troubleshooting_examples_are_what_explain_prints() -> None:
    examples = _troubleshooting_examples()
    assert len(examples) >= 3  # A, SRV and PTR
    for args, shown in examples:
        result = run_svcdns(args)
        assert result.returncode == 0, result.stderr
        printed = {" ".join(line.split()) for line in result.stdout.splitlines()}
        for line in shown:  # the header's id differs from run to run; "..." is a cut
            if line not in ("...", "") and not line.startswith(";; ->>HEADER<<-"):
                assert " ".join(line.split()) in printed, (args, line)
