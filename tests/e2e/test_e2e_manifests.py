"""End-to-end tests of the manifests source and the zone options, through a real server.

Edits to a manifests file or folder show up within the poll interval; a broken edit keeps
the last good state with one error line; objects DNS cannot use are skipped with a warning.
Also `svcdns records` and the options --namespaces, --pods, --ttl and --zone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest
from builders import (
    as_list,
    cluster_ip_service,
    endpoint_slice,
    headless_service,
    namespace,
    to_yaml,
)
from helpers import (
    CLUSTER_YAML,
    ServerFactory,
    ServerProcess,
    answer_data,
    assert_authoritative,
    assert_single_soa,
    poll,
    rrset_texts,
    run_svcdns,
    soa_serial,
    write_atomically,
)

WEB = "web.shop.svc.cluster.local"
NEW = "new.shop.svc.cluster.local"
VISIBLE_WITHIN = 1.5  # seconds from a write to the answer changing
POLL_DEADLINE = 3.0


def addresses(server: ServerProcess, qname: str) -> list[str] | None:
    """The A addresses of a name, or None when it does not answer NOERROR."""
    reply = server.udp(qname, "A")
    if reply.rcode() != dns.rcode.NOERROR:
        return None
    return sorted(answer_data(reply, "A"))


def rcode_of(server: ServerProcess, qname: str, rdtype: str = "A") -> int:
    return int(server.udp(qname, rdtype).rcode())


def small_manifest(*extra: dict[str, object], web_ip: str | None = "10.96.100.10") -> str:
    items = [namespace("shop")]
    if web_ip is not None:
        items.append(cluster_ip_service("web", web_ip))
    return to_yaml(*items, *extra)


def wait_visible(condition: Callable[[], object], started: float, what: str) -> None:
    assert poll(condition, timeout=POLL_DEADLINE), f"{what}: not visible within {POLL_DEADLINE} s"
    elapsed = time.monotonic() - started
    assert elapsed <= VISIBLE_WITHIN, f"{what}: took {elapsed:.2f} s (limit {VISIBLE_WITHIN} s)"


# -- live reload ---------------------------------------------------------------------------


def test_manifest_edit_becomes_visible(tmp_path: Path, start_server: ServerFactory) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(small_manifest(), encoding="utf-8")
    server = start_server(path)
    assert addresses(server, WEB) == ["10.96.100.10"]
    assert rcode_of(server, NEW) == dns.rcode.NXDOMAIN
    serial_before = soa_serial(server)

    write_atomically(
        path, small_manifest(cluster_ip_service("new", "10.96.100.77"), web_ip="10.96.100.99")
    )
    written = time.monotonic()
    wait_visible(
        lambda: (
            addresses(server, WEB) == ["10.96.100.99"]
            and addresses(server, NEW) == ["10.96.100.77"]
        ),
        written,
        "edited web and added new",
    )
    assert soa_serial(server) >= serial_before

    write_atomically(path, small_manifest(cluster_ip_service("new", "10.96.100.77"), web_ip=None))
    written = time.monotonic()
    wait_visible(
        lambda: rcode_of(server, WEB) == dns.rcode.NXDOMAIN, written, "deleted web is NXDOMAIN"
    )
    assert addresses(server, NEW) == ["10.96.100.77"]


# A file that cannot be used as a whole: a syntax error, or a document refused for an alias
# (here the file's only document, so refusing it alone would empty the file).
UNUSABLE_FILES = [
    pytest.param("items:\n  - kind: Service\n   bad: [unclosed\n", "invalid YAML", id="syntax"),
    pytest.param(
        "apiVersion: v1\nkind: Service\nmetadata: &meta {name: web, namespace: shop}\n"
        "spec: {clusterIP: 10.96.100.99}\nx-again: *meta\n",
        "YAML alias refused",
        id="alias",
    ),
]


@pytest.mark.parametrize(("text", "problem"), UNUSABLE_FILES)
def test_broken_edit_keeps_last_good_state(
    tmp_path: Path, start_server: ServerFactory, text: str, problem: str
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(small_manifest(), encoding="utf-8")
    server = start_server(path)
    assert addresses(server, WEB) == ["10.96.100.10"]

    def is_keep_line(line: str) -> bool:
        return str(path) in line and "keeping the last good state" in line

    write_atomically(path, text)
    line = server.wait_for_line(is_keep_line, timeout=POLL_DEADLINE)
    assert line is not None, f"no 'keeping the last good state' line:\n{server.stderr_text()}"
    assert problem in line
    # Keep asking for a while (several poll intervals): the old answer stays, logged once.
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        reply = server.udp(WEB, "A")
        assert_authoritative(reply)
        assert answer_data(reply, "A") == ["10.96.100.10"]
        time.sleep(0.1)
    assert server.count_lines(is_keep_line) == 1, server.stderr_text()

    write_atomically(path, small_manifest(web_ip="10.96.100.99"))
    written = time.monotonic()
    wait_visible(lambda: addresses(server, WEB) == ["10.96.100.99"], written, "fixed file")
    assert server.count_lines(is_keep_line) == 1, server.stderr_text()


@pytest.mark.parametrize(("text", "problem"), UNUSABLE_FILES)
def test_broken_file_at_start_exits_with_one_line(tmp_path: Path, text: str, problem: str) -> None:
    # Nothing good to keep yet: the server does not start half a file, and says why.
    path = tmp_path / "cluster.yaml"
    path.write_text(small_manifest() + "---\n" + text, encoding="utf-8")
    for command in ("serve", "records"):
        args = [command, "--manifests", str(path)]
        if command == "serve":
            args += ["--listen", "127.0.0.1:0", "--http", "none", "--upstream", "none"]
        result = run_svcdns(args)
        assert result.returncode == 1, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith(f"svcdns: {path}: ") and problem in line
        assert result.stdout == ""


def test_folder_of_manifests(tmp_path: Path, start_server: ServerFactory) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "a.yaml").write_text(
        to_yaml(
            namespace("shop"), cluster_ip_service("web", "10.96.100.10"), headless_service("db")
        ),
        encoding="utf-8",
    )
    slices = as_list([endpoint_slice("db", ["10.244.2.10", "10.244.2.11"])])
    (folder / "b.json").write_text(json.dumps(slices), encoding="utf-8")
    server = start_server(folder)
    assert addresses(server, WEB) == ["10.96.100.10"]
    assert addresses(server, "db.shop.svc.cluster.local") == ["10.244.2.10", "10.244.2.11"]

    write_atomically(folder / "c.yml", to_yaml(cluster_ip_service("extra", "10.96.100.50")))
    written = time.monotonic()
    wait_visible(
        lambda: addresses(server, "extra.shop.svc.cluster.local") == ["10.96.100.50"],
        written,
        "service in a new file",
    )
    assert addresses(server, WEB) == ["10.96.100.10"]


def test_object_missing_a_needed_field_is_skipped_with_warning(
    tmp_path: Path, start_server: ServerFactory
) -> None:
    no_ip = cluster_ip_service("broken", "10.96.100.66")
    del no_ip["spec"]["clusterIP"], no_ip["spec"]["clusterIPs"]
    unlabelled = endpoint_slice("db", ["10.244.9.9"], name="orphan-xyz")
    del unlabelled["metadata"]["labels"]
    path = tmp_path / "cluster.yaml"
    path.write_text(
        small_manifest(
            no_ip,
            headless_service("db"),
            endpoint_slice("db", ["10.244.2.10"]),
            unlabelled,
        ),
        encoding="utf-8",
    )
    server = start_server(path)
    for name in ("Service shop/broken", "EndpointSlice shop/orphan-xyz"):
        warning = next((line for line in server.lines if name in line), None)
        assert warning is not None, f"no warning naming {name}:\n{server.stderr_text()}"
        assert "WARNING" in warning and "skipped" in warning
    assert rcode_of(server, "broken.shop.svc.cluster.local") == dns.rcode.NXDOMAIN
    assert addresses(server, WEB) == ["10.96.100.10"]
    assert addresses(server, "db.shop.svc.cluster.local") == ["10.244.2.10"]


# -- svcdns records ------------------------------------------------------------------------


def _label_order(owner: str) -> tuple[str, ...]:
    return tuple(reversed(owner.rstrip(".").split(".")))


def test_records_prints_sorted_zone_file_lines() -> None:
    result = run_svcdns(["records", "--manifests", "examples/cluster.yaml"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "web.shop.svc.cluster.local.\t5\tIN\tA\t10.96.100.10" in lines
    assert 'dns-version.cluster.local.\t28800\tIN\tTXT\t"1.1.0"' in lines
    assert "10.100.96.10.in-addr.arpa.\t5\tIN\tPTR\tweb.shop.svc.cluster.local." in lines
    for line in lines:
        owner, ttl, rdclass, rdtype, rdata = line.split("\t")
        assert owner.endswith(".") and int(ttl) >= 0 and rdclass == "IN", line
        dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rdtype), rdata)
    owners = [line.split("\t")[0] for line in lines]
    assert lines[0].startswith("cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. ")
    inside = [o for o in owners if o.endswith("cluster.local.")]
    reverse = [o for o in owners if o.endswith(".arpa.")]
    assert owners == inside + reverse, "the cluster zone first, then the reverse names"
    assert inside == sorted(inside, key=_label_order)
    assert reverse == sorted(reverse, key=_label_order)
    assert reverse, "the reverse names are printed"


def test_records_output_is_stable() -> None:
    first = run_svcdns(["records", "--manifests", "examples/cluster.yaml"])
    second = run_svcdns(["records", "--manifests", "examples/cluster.yaml"])
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


# -- zone options --------------------------------------------------------------------------


def test_namespaces_option_limits_the_served_namespaces(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--namespaces", "shop")
    assert addresses(server, WEB) == ["10.96.100.10"]
    assert rcode_of(server, "api.tools.svc.cluster.local") == dns.rcode.NXDOMAIN
    assert rcode_of(server, "tools.svc.cluster.local") == dns.rcode.NXDOMAIN
    assert rcode_of(server, "kube-dns.kube-system.svc.cluster.local") == dns.rcode.NXDOMAIN


def test_pods_verified_answers_only_existing_pod_addresses(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--pods", "verified")
    reply = server.udp("10-244-1-10.shop.pod.cluster.local", "A")
    assert_authoritative(reply)
    assert rrset_texts(reply) == ["10-244-1-10.shop.pod.cluster.local. 5 IN A 10.244.1.10"]
    reply = server.udp("10-1-2-3.shop.pod.cluster.local", "A")
    assert_authoritative(reply, dns.rcode.NXDOMAIN)
    assert_single_soa(reply)


def test_pods_disabled_answers_no_pod_names(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--pods", "disabled")
    for name in ("10-244-1-10.shop.pod.cluster.local", "10-1-2-3.shop.pod.cluster.local"):
        reply = server.udp(name, "A")
        assert_authoritative(reply, dns.rcode.NXDOMAIN)
    assert addresses(server, WEB) == ["10.96.100.10"]


def test_pods_insecure_is_the_default(cluster_server: ServerProcess) -> None:
    assert addresses(cluster_server, "10-1-2-3.shop.pod.cluster.local") == ["10.1.2.3"]


def test_ttl_option_sets_record_ttls(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--ttl", "30")
    reply = server.udp(WEB, "A")
    assert_authoritative(reply)
    assert rrset_texts(reply) == [f"{WEB}. 30 IN A 10.96.100.10"]
    reply = server.udp(f"_http._tcp.{WEB}", "SRV")
    assert [rrset.ttl for rrset in reply.answer + reply.additional] == [30, 30]
    assert_single_soa(server.udp("nosuch.shop.svc.cluster.local", "A"), ttl=30)


def test_zone_option_changes_the_cluster_domain(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--zone", "example.internal")
    assert server.zone == "example.internal"
    reply = server.udp("web.shop.svc.example.internal", "A")
    assert_authoritative(reply)
    assert rrset_texts(reply) == ["web.shop.svc.example.internal. 5 IN A 10.96.100.10"]
    reply = server.udp(WEB, "A")
    assert reply.rcode() == dns.rcode.REFUSED
    assert reply.answer == []
    nxdomain = server.udp("nosuch.shop.svc.example.internal", "A")
    assert_authoritative(nxdomain, dns.rcode.NXDOMAIN)
    assert_single_soa(nxdomain, zone="example.internal")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_headless_service_answers_ready_endpoints_only(
    cluster_server: ServerProcess, transport: str
) -> None:
    reply: dns.message.Message = getattr(cluster_server, transport)("db.shop.svc.cluster.local")
    assert_authoritative(reply)
    assert sorted(answer_data(reply, "A")) == ["10.244.2.10", "10.244.2.11"]
