"""One object's content never costs other names (issue 13, fault 1), over real sockets.

A Service port name of 63 characters is valid Kubernetes; `_<name>._tcp...` is then a
64-octet label DNS cannot carry. Before the fix, the encoder raised inside the batch apply
and every Service after it in the dump was lost (NXDOMAIN while /ready said 200), and
`svcdns records` ended in a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dns.rcode
from builders import cluster_ip_service, endpoint_slice, headless_service, namespace, to_yaml
from helpers import (
    ServerFactory,
    answer_data,
    assert_authoritative,
    http_status,
    ops_url,
    run_svcdns,
)

LONG_PORT = "p" * 63
ZONE = "cluster.local"


def with_long_port(name: str, ip: str) -> dict[str, Any]:
    service = cluster_ip_service(name, ip)
    service["spec"]["ports"] = [
        {"name": LONG_PORT, "port": 8443, "protocol": "TCP"},
        {"name": "http", "port": 80, "protocol": "TCP"},
    ]
    return service


def dump(tmp_path: Path) -> Path:
    # Sorted as kubectl prints them: `aaa` before the faulty `web`, `zzz` and `db` after.
    path = tmp_path / "cluster.yaml"
    path.write_text(
        to_yaml(
            namespace("shop"),
            cluster_ip_service("aaa", "10.96.0.1"),
            with_long_port("web", "10.96.0.2"),
            cluster_ip_service("zzz", "10.96.0.3"),
            headless_service("db"),
            endpoint_slice("db", ["10.244.0.7"]),
        ),
        encoding="utf-8",
    )
    return path


def test_a_dump_with_a_63_character_port_name_serves_every_other_name(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(dump(tmp_path))
    for name, ip in (("aaa", "10.96.0.1"), ("web", "10.96.0.2"), ("zzz", "10.96.0.3")):
        reply = server.udp(f"{name}.shop.svc.{ZONE}", "A")
        assert_authoritative(reply)
        assert answer_data(reply, "A") == [ip]
        assert reply.answer[0].ttl == 5
    srv = server.udp(f"_http._tcp.web.shop.svc.{ZONE}", "SRV")
    assert answer_data(srv, "SRV") == [f"0 100 80 web.shop.svc.{ZONE}."]
    assert answer_data(server.udp(f"db.shop.svc.{ZONE}", "A"), "A") == ["10.244.0.7"]
    assert server.udp(f"nothing.shop.svc.{ZONE}", "A").rcode() == dns.rcode.NXDOMAIN
    assert http_status(f"{ops_url(server)}/ready") == 200
    said = [line for line in server.lines if "left out" in line]
    assert len(said) == 1, server.stderr_text()
    assert "Service shop/web: 1 record(s) left out" in said[0] and len(said[0]) < 500


def test_records_prints_every_record_that_can_be_encoded(tmp_path: Path) -> None:
    result = run_svcdns(["records", "--manifests", str(dump(tmp_path))])
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    for expected in (
        f"aaa.shop.svc.{ZONE}.\t5\tIN\tA\t10.96.0.1",
        f"web.shop.svc.{ZONE}.\t5\tIN\tA\t10.96.0.2",
        f"zzz.shop.svc.{ZONE}.\t5\tIN\tA\t10.96.0.3",
        f"_http._tcp.web.shop.svc.{ZONE}.\t5\tIN\tSRV\t0 100 80 web.shop.svc.{ZONE}.",
        f"db.shop.svc.{ZONE}.\t5\tIN\tA\t10.244.0.7",
    ):
        assert expected in lines, result.stdout
    assert not any(LONG_PORT in line for line in lines)
    assert result.stderr.count("left out") == 1, result.stderr
