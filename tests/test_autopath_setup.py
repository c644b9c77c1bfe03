"""--autopath's setup: refused without --pods verified (one line, no traceback), and the
node's search domains read from resolv.conf as a pod's resolver would search them."""

from pathlib import Path

import pytest
from helpers import CLUSTER_YAML, run_svcdns

from svcdns.config import ConfigError, build
from svcdns.core.zonedata import PodMode
from svcdns.recursion import resolv_conf_search


@pytest.mark.parametrize("pods", [None, "insecure", "disabled"])
def test_autopath_needs_verified_pods(pods: str | None) -> None:
    with pytest.raises(ConfigError, match=r"^--autopath needs --pods verified"):
        build({"autopath": True, "pods": pods})


def test_autopath_with_verified_pods_is_accepted() -> None:
    config = build({"autopath": True, "pods": "verified"})
    assert (config.autopath, config.pods) == (True, PodMode.VERIFIED)
    assert build({}).autopath is False


def test_the_command_says_so_in_one_line() -> None:
    result = run_svcdns(["serve", "--manifests", str(CLUSTER_YAML), "--autopath"])
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "svcdns: --autopath needs --pods verified (a client is known by its pod's IP)"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "nameserver 10.0.0.2\nsearch corp.example. Lab.Example\n",
            ["corp.example", "lab.example"], id="node-domains",
        ),
        pytest.param(
            "search default.svc.cluster.local svc.cluster.local cluster.local corp.example\n",
            ["corp.example"], id="the-clusters-own-left-out",
        ),
        pytest.param(
            "domain old.example\nsearch a.example\nsearch b.example c.example\n",
            ["b.example", "c.example"], id="the-last-line-wins-as-in-glibc",
        ),
        pytest.param("nameserver 10.0.0.2\n", [], id="none"),
    ],
)  # fmt: skip
def test_node_search_domains(tmp_path: Path, text: str, expected: list[str]) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(text)
    assert resolv_conf_search(resolv, zone="cluster.local") == expected


def test_no_resolv_conf_no_domains(tmp_path: Path) -> None:
    assert resolv_conf_search(tmp_path / "missing", zone="cluster.local") == []
