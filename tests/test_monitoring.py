"""deploy/monitoring against the real things: promtool checks the PrometheusRule's groups
and fires each alert (tests/monitoring/rules_test.yaml), and every metric an alert or a
dashboard panel names is in the /metrics of a running svcdns: the alerts' with default
flags, the dashboard's with `--metrics-names coredns` (its by-type panel needs it).

promtool comes with Debian's `prometheus` package (.ci/run installs it): missing, the
promtool tests fail rather than skip.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.rcode
import pytest
import yaml
from helpers import CLUSTER_YAML, ServerFactory, answer_data, get, ops_url, poll, write_atomically
from prometheus_client.parser import text_string_to_metric_families
from upstream import UpstreamServer

REPO = Path(__file__).resolve().parent.parent
MONITORING = REPO / "deploy" / "monitoring"
RULE = MONITORING / "prometheusrule.yaml"
DASHBOARD = MONITORING / "svcdns-dashboard.json"
RULES_TEST = Path(__file__).resolve().parent / "monitoring" / "rules_test.yaml"
# A metric name in PromQL: svcdns's, CoreDNS's, the process collector's. (`up` is
# Prometheus's own, made per target, never in /metrics.)
METRIC = re.compile(r"\b(?:svcdns|coredns|process)_[a-z0-9_]+\b")
WEB = "web.shop.svc.cluster.local"
FORWARDED = "www.example.org"


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool not found: apt-get install prometheus (Debian ships it there)"
    return found


def _groups() -> list[dict[str, Any]]:
    [rule] = [d for d in yaml.safe_load_all(RULE.read_text(encoding="utf-8")) if d]
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def _rule_expressions() -> list[str]:
    return [r["expr"] for group in _groups() for r in group["rules"]]


def _dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def _names(expressions: list[str]) -> set[str]:
    return {name for expr in expressions for name in METRIC.findall(expr)}


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """The PrometheusRule's `spec` as a plain rules file, beside a copy of the unit tests."""
    (tmp_path / "rules.yaml").write_text(
        yaml.safe_dump({"groups": _groups()}, sort_keys=False), encoding="utf-8"
    )
    shutil.copy(RULES_TEST, tmp_path / RULES_TEST.name)
    return tmp_path


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_promtool_checks_the_rules(rules_dir: Path) -> None:
    result = _run([_promtool(), "check", "rules", "rules.yaml"], rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(_rule_expressions())} rules found" in result.stdout


def test_promtool_fires_each_alert_on_its_series(rules_dir: Path) -> None:
    result = _run([_promtool(), "test", "rules", RULES_TEST.name], rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    tested = set(re.findall(r"alertname: (\w+)", RULES_TEST.read_text(encoding="utf-8")))
    alerts = {r["alert"] for group in _groups() for r in group["rules"]}
    assert tested == alerts, f"alerts without a promtool test: {sorted(alerts - tested)}"


def test_promtool_fails_a_broken_expectation(rules_dir: Path) -> None:
    """The unit tests can fail: the same series, the down alert expected as a warning."""
    test = rules_dir / RULES_TEST.name
    text = test.read_text(encoding="utf-8")
    critical = "{severity: critical, coredns_alert: CoreDNSDown}"
    assert critical in text
    test.write_text(text.replace(critical, critical.replace("critical", "warning")), "utf-8")
    result = _run([_promtool(), "test", "rules", RULES_TEST.name], rules_dir)
    assert result.returncode != 0 and "SvcdnsDown" in result.stdout + result.stderr


def _sample_names(base: str) -> set[str]:
    text = get(f"{base}/metrics")[2]
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(records={FORWARDED: "192.0.2.10"}).start()
    yield server
    server.stop()


def _exercise(server: Any, manifests: Path) -> None:
    """A query of each kind a panel plots: UDP and TCP, forwarded, and an object change."""
    assert server.udp(WEB).rcode() == dns.rcode.NOERROR
    assert server.tcp(WEB).rcode() == dns.rcode.NOERROR  # timed: every TCP query is
    assert server.udp(FORWARDED).rcode() == dns.rcode.NOERROR
    text = manifests.read_text(encoding="utf-8")
    write_atomically(manifests, text.replace("10.96.100.10", "10.96.100.99"))
    assert poll(lambda: answer_data(server.udp(WEB), "A") == ["10.96.100.99"], timeout=5)


@pytest.mark.parametrize("names", ["svcdns", "coredns"])
def test_every_metric_the_alerts_and_dashboard_use_is_served(
    names: str, start_server: ServerFactory, upstream: UpstreamServer, tmp_path: Path
) -> None:
    manifests = tmp_path / "cluster.yaml"
    shutil.copy(CLUSTER_YAML, manifests)
    server = start_server(
        manifests, "--metrics-names", names, upstream=f"127.0.0.1:{upstream.port}"
    )
    _exercise(server, manifests)
    served = _sample_names(ops_url(server))
    alerts, dashboard = _names(_rule_expressions()), _names(_dashboard_expressions())
    assert len(alerts) >= 5 and len(dashboard) >= 15, (alerts, dashboard)
    assert not alerts - served, f"alerts use metrics svcdns does not serve: {alerts - served}"
    own = {n for n in dashboard if not n.startswith("coredns_")}
    assert not own - served, f"the dashboard uses metrics not served: {own - served}"
    if names == "coredns":
        assert not dashboard - served, f"not served with coredns names: {dashboard - served}"
    else:
        assert not {n for n in served if n.startswith("coredns_")}
