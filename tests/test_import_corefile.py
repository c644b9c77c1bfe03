"""`svcdns import-corefile FILE`: the Corefile grammar, the mapping onto svcdns's settings,
the command's output and exit status, and that each printed YAML starts a real server.

The fixtures in tests/fixtures/corefiles/ are the default Corefiles of kubeadm, EKS, AKS,
GCE (kube-up), k3s, RKE2, minikube and OpenShift, each naming its source in its first lines.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzzing import fuzz
from helpers import CLUSTER_YAML, ServerFactory, run_svcdns
from hypothesis import given
from hypothesis import strategies as st
from upstream import UpstreamServer

from svcdns import import_corefile
from svcdns.config import build, read_file
from svcdns.corefile import CorefileError, Directive, parse
from svcdns.corefile_map import map_corefile
from svcdns.corefile_plugins import seconds

FIXTURES = Path(__file__).parent / "fixtures" / "corefiles"
DISTRIBUTIONS = sorted(p.stem for p in FIXTURES.glob("*.Corefile"))

# What every default Corefile gives, and the lines every one leaves to the operator: the
# liveness and readiness probes, which svcdns answers on its one http address.
LISTEN = ["0.0.0.0:53", "[::]:53"]  # what `.:53` is: every address of both families
KUBEADM_LIKE = {
    "listen": LISTEN,
    "zone": "cluster.local",
    "pods": "insecure",
    "http": "0.0.0.0:9153",
    "metrics-names": "coredns",
}


def imported(text: str, tmp_path: Path) -> tuple[int, dict[str, Any], list[str], str]:
    """(exit status, the YAML loaded, the stderr lines, the YAML text) of one import."""
    path = tmp_path / "Corefile"
    path.write_text(text, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    status = import_corefile.main(str(path), out=out, err=err)
    return status, yaml.safe_load(out.getvalue()) or {}, err.getvalue().splitlines(), out.getvalue()


def unmapped_lines(text: str) -> list[tuple[int, str]]:
    """(line, directive name) of every line that does not map."""
    return [(x.line, x.text.split()[0]) for x in map_corefile(parse(text)).unmapped]


# -- the distributions' default Corefiles ---------------------------------------------------

CASES = [
    pytest.param(
        "kubeadm",
        {
            **KUBEADM_LIKE,
            "ttl": 30,
            "max-concurrent": 1000,
            "cache-ttl": 30,
            "rotate": True,
            "lameduck": 5,
        },
        [(7, "health"), (10, "ready")],
        id="kubeadm",
    ),
    pytest.param(
        "eks",
        {**KUBEADM_LIKE, "cache-ttl": 30, "rotate": True, "lameduck": 5},
        [(9, "health"), (12, "ready")],
        id="eks",
    ),
    pytest.param(
        "aks",
        {**KUBEADM_LIKE, "ttl": 30, "cache-ttl": 30, "rotate": True, "lameduck": 5},
        [(9, "ready"), (10, "health"), (24, "import"), (26, "import")],
        id="aks",
    ),
    pytest.param(
        "gce",
        {
            **KUBEADM_LIKE,
            "ttl": 30,
            "max-concurrent": 1000,
            "cache-ttl": 30,
            "rotate": True,
            "lameduck": 5,
        },
        [(8, "health"), (11, "ready")],
        id="gce",
    ),
    pytest.param(
        "k3s",
        {**KUBEADM_LIKE, "cache-ttl": 30, "rotate": True},
        [(6, "health"), (7, "ready"), (12, "hosts"), (23, "import"), (25, "import")],
        id="k3s",
    ),
    pytest.param(
        "rke2",
        {**KUBEADM_LIKE, "ttl": 30, "cache-ttl": 30, "rotate": True, "lameduck": 10},
        [(10, "health"), (13, "ready")],
        id="rke2",
    ),
    pytest.param(
        "minikube",
        {
            **KUBEADM_LIKE,
            "ttl": 30,
            "max-concurrent": 1000,
            "cache-ttl": 30,
            "rotate": True,
            "lameduck": 5,
            "log-queries": True,
        },
        [(9, "health"), (12, "ready"), (19, "hosts")],
        id="minikube",
    ),
    pytest.param(
        "openshift",
        {
            "zone": "cluster.local",
            "pods": "insecure",
            "http": "127.0.0.1:9153",
            "metrics-names": "coredns",
            "cache-ttl": 900,
            "listen": ["0.0.0.0:5353", "[::]:5353"],
            "rotate": False,
            "lameduck": 20,
        },
        [(8, "bufsize"), (13, "health"), (16, "ready"), (26, "denial"), (31, "chaos")],
        id="openshift",
    ),
]


def test_every_fixture_has_a_row() -> None:
    assert sorted(case.values[0] for case in CASES) == DISTRIBUTIONS  # type: ignore[index]
    assert len(DISTRIBUTIONS) >= 5


@pytest.mark.parametrize(("name", "keys", "unmapped"), CASES)
def test_a_distributions_corefile_maps_to_these_keys_and_leaves_these_lines(
    name: str, keys: dict[str, Any], unmapped: list[tuple[int, str]], tmp_path: Path
) -> None:
    text = (FIXTURES / f"{name}.Corefile").read_text(encoding="utf-8")
    status, loaded, errors, _ = imported(text, tmp_path)
    assert loaded == keys
    assert unmapped_lines(text) == unmapped
    assert status == 1  # every default Corefile probes /health and /ready on ports of their own
    assert [e.split(":")[1] for e in errors[:-1]] == [str(line) for line, _ in unmapped]
    assert errors[-1] == f"svcdns: import-corefile: {len(unmapped)} line(s) not mapped"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_each_printed_yaml_is_a_config_svcdns_takes(name: str, tmp_path: Path) -> None:
    text = (FIXTURES / f"{name}.Corefile").read_text(encoding="utf-8")
    _, _, _, printed = imported(text, tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text(printed, encoding="utf-8")
    built = build(read_file(config))
    assert built.zone == "cluster.local"


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_each_key_cites_its_corefile_line(name: str, tmp_path: Path) -> None:
    text = (FIXTURES / f"{name}.Corefile").read_text(encoding="utf-8")
    lines = text.splitlines()
    _, loaded, _, printed = imported(text, tmp_path)
    for entry in printed.splitlines():
        if entry.split(":")[0] in loaded:
            cited = int(entry.split("# line ")[1].split(":")[0])
            word = entry.split("# line ")[1].split(": ", 1)[1].split()[0]
            assert word in lines[cited - 1] or word in ("no", "the"), entry


def test_probes_on_the_metrics_address_make_kubeadms_corefile_map_completely(
    tmp_path: Path,
) -> None:
    """kubeadm's Corefile with /health and /ready moved to prometheus's :9153, where svcdns
    serves them: nothing is left to decide."""
    text = (FIXTURES / "kubeadm.Corefile").read_text(encoding="utf-8")
    moved = text.replace("    ready\n", "    ready :9153\n").replace("health {", "health :9153 {")
    status, loaded, errors, printed = imported(moved, tmp_path)
    assert (status, errors) == (0, [])
    assert loaded["lameduck"] == 5
    assert "#   line 10: ready :9153: svcdns serves /ready on its http address" in printed


# -- end to end: the printed YAML starts a server that answers ----------------------------


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_each_printed_yaml_starts_a_server_that_answers(
    name: str, tmp_path: Path, start_server: ServerFactory
) -> None:
    result = run_svcdns(["import-corefile", str(FIXTURES / f"{name}.Corefile")])
    assert result.returncode == 1, result.stderr
    config = tmp_path / "config.yaml"
    config.write_text(result.stdout, encoding="utf-8")
    server = start_server(CLUSTER_YAML, "--config", str(config))
    reply = server.udp("web.shop.svc.cluster.local")
    assert [r.to_text() for rrset in reply.answer for r in rrset] == ["10.96.100.10"]


def test_a_stub_domain_block_is_forwarded_by_the_server_it_makes(
    tmp_path: Path, start_server: ServerFactory
) -> None:
    upstream = UpstreamServer(records={"db.consul.local": "192.0.2.30"}).start()
    try:
        corefile = tmp_path / "Corefile"
        corefile.write_text(
            ".:53 {\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n"
            "        pods insecure\n    }\n    forward . 192.0.2.1\n    cache 30\n"
            "    loadbalance\n}\n"
            f"consul.local:53 {{\n    errors\n    cache 30\n    forward . {upstream.address}\n}}\n",
            encoding="utf-8",
        )
        result = run_svcdns(["import-corefile", str(corefile)])
        assert result.returncode == 0, result.stderr
        assert yaml.safe_load(result.stdout)["stub-domain"] == {"consul.local": [upstream.address]}
        config = tmp_path / "config.yaml"
        config.write_text(result.stdout, encoding="utf-8")
        server = start_server(CLUSTER_YAML, "--config", str(config), upstream=None)
        reply = server.udp("db.consul.local")
        assert [r.to_text() for rrset in reply.answer for r in rrset] == ["192.0.2.30"]
    finally:
        upstream.stop()


# -- the command's contract -----------------------------------------------------------------


def test_a_complete_mapping_exits_0_with_nothing_on_stderr(tmp_path: Path) -> None:
    status, loaded, errors, _ = imported(
        ".:53 {\n  errors\n  kubernetes cluster.local {\n    pods verified\n  }\n"
        "  prometheus :9153\n  forward . 10.0.0.53 10.0.0.54:5353\n  cache 60\n  loop\n"
        "  reload\n  loadbalance\n}\n",
        tmp_path,
    )
    assert (status, errors) == (0, [])
    assert loaded == {
        "listen": LISTEN,
        "zone": "cluster.local",
        "pods": "verified",
        "upstream": ["10.0.0.53", "10.0.0.54:5353"],
        "cache-ttl": 60,
        "rotate": True,
        "http": "0.0.0.0:9153",
        "metrics-names": "coredns",
    }


def test_a_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_svcdns(["import-corefile", str(tmp_path / "nope")])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "No such file" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        pytest.param(".:53 {\n  errors\n", "line 1: this '{' is never closed", id="unclosed"),
        pytest.param("}\n", "line 1: a '}' closes no block", id="stray-close"),
        pytest.param(
            '.:53 {\n  hosts "a\n', "line 2: a quoted string is never closed", id="open-quote"
        ),
        pytest.param(".:53 {\n}\nexample.org\n", "line 3: expected '{'", id="keys-no-brace"),
        pytest.param("(s) {\n import s\n}\n.:53 {\n import s\n}\n", "loop", id="import-loop"),
    ],
)
def test_an_unparsable_corefile_exits_2_with_one_line(text: str, says: str, tmp_path: Path) -> None:
    path = tmp_path / "Corefile"
    path.write_text(text, encoding="utf-8")
    result = run_svcdns(["import-corefile", str(path)])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_no_file_is_a_usage_error_in_one_line() -> None:
    result = run_svcdns(["import-corefile"])
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "FILE" in result.stderr


def test_binary_and_huge_files_are_refused_in_one_line(tmp_path: Path) -> None:
    binary, huge = tmp_path / "binary", tmp_path / "huge"
    binary.write_bytes(b"\xff\xfe.:53 {\n}\n")
    huge.write_bytes(b"#" * (import_corefile.MAX_BYTES + 1))
    for path, says in ((binary, "not UTF-8"), (huge, "larger than")):
        err = io.StringIO()
        assert import_corefile.main(str(path), out=io.StringIO(), err=err) == 2
        assert says in err.getvalue() and err.getvalue().count("\n") == 1


def test_messages_quote_at_most_about_100_characters_of_input(tmp_path: Path) -> None:
    long = "x" * 5000
    status, _, errors, printed = imported(
        f".:53 {{\n  kubernetes cluster.local\n  {long} {long}\n}}\n", tmp_path
    )
    assert status == 1
    assert all(len(line) < 400 for line in errors + printed.splitlines())
    with pytest.raises(CorefileError) as raised:
        parse(f"{long} {{\n")
    assert len(str(raised.value)) < 200


# -- the grammar --------------------------------------------------------------------------


def test_a_server_block_takes_several_keys_spaces_or_commas() -> None:
    parsed = parse(".:53 cluster.local:53 {\n}\nexample.org:53,\n  example.net:53 {\n}\n")
    assert [b.keys for b in parsed.blocks] == [
        (".:53", "cluster.local:53"),
        ("example.org:53", "example.net:53"),
    ]


def test_nested_blocks_keep_their_directives_and_lines() -> None:
    (block,) = parse(
        ".:53 {\n  kubernetes cluster.local in-addr.arpa ip6.arpa {\n    pods insecure\n"
        "    fallthrough in-addr.arpa ip6.arpa\n  }\n  health { lameduck 5s }\n}\n"
    ).blocks
    kubernetes, health = block.directives
    assert kubernetes.args == ("cluster.local", "in-addr.arpa", "ip6.arpa")
    assert [(d.name, d.args, d.line) for d in kubernetes.block] == [
        ("pods", ("insecure",), 3),
        ("fallthrough", ("in-addr.arpa", "ip6.arpa"), 4),
    ]
    assert health.block == (Directive("lameduck", ("5s",), 6),)


def test_comments_start_only_where_a_token_starts() -> None:
    (block,) = parse("# a Corefile\n.:53 { # the root\n  hosts a#b # a comment\n}\n").blocks
    assert block.directives == (Directive("hosts", ("a#b",), 3),)


def test_quoted_strings_keep_spaces_escaped_quotes_and_braces() -> None:
    (block,) = parse('.:53 {\n  template "a b" "say \\"hi\\"" "{"\n}\n').blocks
    assert block.directives[0].args == ("a b", 'say "hi"', "{")


def test_env_placeholders_are_filled_and_an_unset_one_is_reported() -> None:
    parsed = parse(".:53 {\n  kubernetes {$DOMAIN}\n  forward . {$DNS}\n}\n", {"DOMAIN": "k8s.lan"})
    assert parsed.blocks[0].directives[0].args == ("k8s.lan",)
    assert parsed.blocks[0].directives[1].args == (".", "")
    assert parsed.unset == ((3, "DNS"),)
    assert (3, "{$DNS}") in unmapped_lines(".:53 {\n  kubernetes x\n  forward . {$DNS}\n}\n")


def test_snippets_are_spliced_in_and_file_imports_are_named_unsupported() -> None:
    text = (
        "(common) {\n  errors\n  cache 30\n}\n.:53 {\n  import common\n"
        "  kubernetes cluster.local\n  import custom/*.override\n}\nimport custom/*.server\n"
    )
    parsed = parse(text)
    assert [d.name for d in parsed.blocks[0].directives] == [
        "errors",
        "cache",
        "kubernetes",
        "import",
    ]
    assert [d.line for d in parsed.blocks[0].directives[:2]] == [2, 3]
    assert unmapped_lines(text) == [(8, "import"), (10, "import")]


def test_one_server_block_may_go_without_braces() -> None:
    (block,) = parse("example.org\nkubernetes cluster.local\nerrors\n").blocks
    assert block.keys == ("example.org",) and [d.name for d in block.directives] == [
        "kubernetes",
        "errors",
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [("5s", 5.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0), ("2.5s", 2.5)],
)
def test_go_durations(text: str, value: float) -> None:
    assert seconds(text) == value


@pytest.mark.parametrize("text", ["", "5", "5x", "s", "-1s"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError):
        seconds(text)


# -- the mapping, one plugin at a time ----------------------------------------------------

MAIN = ".:53 {{\n  kubernetes cluster.local {{\n    pods insecure\n  }}\n{body}\n}}\n"
# What MAIN alone maps to: CoreDNS without cache, loadbalance or `forward .` said explicitly.
BASE = {
    "listen": LISTEN,
    "zone": "cluster.local",
    "pods": "insecure",
    "cache-size": 0,
    "rotate": False,
    "upstream": "none",
}
GONE = None  # a key of BASE the row's line replaces without a value of its own

MAPPING = [
    pytest.param(
        "  forward . 8.8.8.8 dns://8.8.4.4:53",
        {"upstream": ["8.8.8.8", "8.8.4.4:53"]},
        [],
        id="forward-addresses",
    ),
    pytest.param(
        "  forward . tls://9.9.9.9", {"upstream": GONE}, [(5, "forward")], id="forward-tls"
    ),
    pytest.param(
        "  forward . 8.8.8.8 {\n    policy random\n  }",
        {"upstream": ["8.8.8.8"]},
        [(6, "policy")],
        id="forward-policy-random",
    ),
    pytest.param(
        "  forward . 8.8.8.8 {\n    force_tcp\n    max_concurrent 50\n  }",
        {"upstream": ["8.8.8.8"], "force-tcp": True, "max-concurrent": 50},
        [],
        id="forward-options",
    ),
    pytest.param(
        "  forward corp.example 10.0.0.53\n  forward . 8.8.8.8",
        {"stub-domain": {"corp.example": ["10.0.0.53"]}, "upstream": ["8.8.8.8"]},
        [],
        id="forward-stub-in-main-block",
    ),
    pytest.param(
        "  cache 30 {\n    success 5000 60\n    serve_stale 1h verify\n  }",
        {"cache-ttl": 60, "cache-size": 5000, "serve-stale": 3600},
        [],
        id="cache-success-stale",
    ),
    pytest.param(
        "  cache 30 {\n    serve_stale\n    prefetch 10\n  }",
        {"cache-ttl": 30, "cache-size": GONE, "serve-stale": 3600},
        [(6, "serve_stale"), (7, "prefetch")],
        id="cache-stale-immediate-prefetch",
    ),
    # With `pods insecure` (MAIN's): CoreDNS searches nothing, svcdns would not start.
    pytest.param("  autopath @kubernetes", {}, [(5, "autopath")], id="autopath-pods-insecure"),
    pytest.param(
        "  transfer {\n    to 10.0.0.1 192.0.2.0/24\n  }",
        {"transfer-to": "10.0.0.1,192.0.2.0/24"},
        [],
        id="transfer-to",
    ),
    pytest.param(
        "  rewrite name a.example b.example\n  template IN A x.example\n"
        "  etcd skydns.local\n  hosts /etc/hosts",
        {},
        [(5, "rewrite"), (6, "template"), (7, "etcd"), (8, "hosts")],
        id="no-equivalent",
    ),
    pytest.param("  log . {\n    class denial\n  }", {}, [(5, "log")], id="log-denial-only"),
    pytest.param("  log", {"log-queries": True}, [], id="log-every-query"),
    pytest.param('  log . "{remote} {name}"', {"log-queries": True}, [], id="log-a-format"),
    pytest.param("  bind 127.0.0.1 ::1", {"listen": ["127.0.0.1:53", "[::1]:53"]}, [], id="bind"),
    pytest.param(
        "  prometheus",
        {"http": "127.0.0.1:9153", "metrics-names": "coredns"},
        [],
        id="prometheus-default",
    ),
    pytest.param(
        "  loadbalance weighted /w",
        {"rotate": GONE},
        [(5, "loadbalance")],
        id="loadbalance-weighted",
    ),
    pytest.param(
        "  health 127.0.0.1:9153 {\n    lameduck 1m\n  }",
        {"lameduck": 60},
        [(5, "health")],
        id="health-elsewhere",
    ),
    pytest.param(
        "  health :9153 {\n    lameduck 1m\n  }\n  ready :9153\n  prometheus :9153",
        {"lameduck": 60, "http": "0.0.0.0:9153", "metrics-names": "coredns"},
        [],
        id="probes-on-the-metrics-address",
    ),
    pytest.param(
        "  errors\n  loop\n  reload 10s\n  forward . 8.8.8.8\n  cache 30\n  cache 30",
        {"upstream": ["8.8.8.8"], "cache-ttl": 30, "cache-size": GONE},
        [],
        id="a-repeated-plugin-with-the-same-value",
    ),
    pytest.param(
        "  cache 30\n  cache 60",
        {"cache-ttl": 30, "cache-size": GONE},
        [(6, "cache")],
        id="a-repeated-plugin-with-another-value",
    ),
]


@pytest.mark.parametrize(
    ("autopath", "keys", "unmapped"),
    [
        pytest.param("autopath @kubernetes", {"autopath": True}, [], id="mapped"),
        pytest.param(
            "autopath cluster.local @kubernetes", {}, [(2, "autopath")], id="zone-arguments"
        ),
        pytest.param("autopath /etc/resolv.conf", {}, [(2, "autopath")], id="resolv-conf-file"),
    ],
)
def test_autopath_maps_with_pods_verified_whatever_the_plugin_order(
    autopath: str, keys: dict[str, Any], unmapped: list[tuple[int, str]], tmp_path: Path
) -> None:
    """CoreDNS orders its plugins itself: autopath before kubernetes in the file is the same
    server, and `pods verified` is what lets it search."""
    text = f".:53 {{\n  {autopath}\n  kubernetes cluster.local {{\n    pods verified\n  }}\n}}\n"
    _, loaded, _, _ = imported(text, tmp_path)
    expected = {k: v for k, v in {**BASE, "pods": "verified", **keys}.items() if v is not GONE}
    assert loaded == expected
    assert unmapped_lines(text) == unmapped


@pytest.mark.parametrize(("body", "keys", "unmapped"), MAPPING)
def test_a_plugin_maps_to_these_keys_and_leaves_these_lines(
    body: str, keys: dict[str, Any], unmapped: list[tuple[int, str]], tmp_path: Path
) -> None:
    text = MAIN.format(body=body)
    _, loaded, _, _ = imported(text, tmp_path)
    expected = {k: v for k, v in {**BASE, **keys}.items() if v is not GONE}
    assert loaded == expected
    assert unmapped_lines(text) == unmapped


@pytest.mark.parametrize(
    ("text", "keys", "unmapped"),
    [
        pytest.param(
            "cluster.local {\n  kubernetes\n}\n.:53 example.org:53 {\n  forward . 1.1.1.1\n}\n",
            {
                "listen": LISTEN,
                "zone": "cluster.local",
                "pods": "disabled",
                "upstream": ["1.1.1.1"],
                "cache-size": 0,
                "rotate": False,
            },
            [],
            id="a-root-block-with-another-zone-too",
        ),
        pytest.param(
            ".:53 {\n  kubernetes cluster.local\n  forward . 1.1.1.1\n  loadbalance\n}\n"
            "corp.example {\n  cache 30\n  forward . 10.0.0.53\n}\n",
            {
                "listen": LISTEN,
                "zone": "cluster.local",
                "pods": "disabled",
                "upstream": ["1.1.1.1"],
                "rotate": True,
                "cache-size": 0,
                "stub-domain": {"corp.example": ["10.0.0.53"]},
            },
            [(7, "cache")],
            id="a-stub-cache-where-the-main-block-has-none",
        ),
        pytest.param(
            ".:53 {\n  kubernetes cluster.local\n}\n",
            {
                "listen": LISTEN,
                "zone": "cluster.local",
                "pods": "disabled",
                "cache-size": 0,
                "rotate": False,
                "upstream": "none",
            },
            [],
            id="coredns-defaults-made-explicit",
        ),
        pytest.param(
            ".:53 {\n  kubernetes cluster.local example.local\n}\n",
            {
                "listen": LISTEN,
                "zone": "cluster.local",
                "pods": "disabled",
                "cache-size": 0,
                "rotate": False,
                "upstream": "none",
            },
            [(2, "kubernetes")],
            id="a-second-cluster-zone",
        ),
        pytest.param(
            ".:53 {\n  kubernetes k8s.lan {\n    pods verified\n    endpoint_pod_names\n"
            "    namespaces shop tools\n    labels app in (web, db)\n    ttl 9999\n"
            "    multicluster clusterset.local\n    fallthrough\n  }\n}\n",
            {
                "listen": LISTEN,
                "zone": "k8s.lan",
                "pods": "verified",
                "endpoint-pod-names": True,
                "namespaces": ["shop", "tools"],
                "labels": "app in (web, db)",
                "multicluster": "clusterset.local",
                "cache-size": 0,
                "rotate": False,
                "upstream": "none",
            },
            [(7, "ttl"), (9, "fallthrough")],
            id="kubernetes-options",
        ),
        pytest.param(
            ".:53 {\n  kubernetes cluster.local clusterset.local {\n"
            "    multicluster clusterset.local other.local\n  }\n}\n",
            {
                "listen": LISTEN,
                "zone": "cluster.local",
                "pods": "disabled",
                "multicluster": "clusterset.local",
                "cache-size": 0,
                "rotate": False,
                "upstream": "none",
            },
            [(3, "multicluster")],
            id="multicluster-zone-among-the-plugins-zones",
        ),
        pytest.param(
            "cluster.local:53 {\n  kubernetes\n}\n.:53 {\n  forward . 1.1.1.1\n  cache 10\n}\n",
            {
                "listen": LISTEN,
                "zone": "cluster.local",
                "pods": "disabled",
                "upstream": ["1.1.1.1"],
                "cache-ttl": 10,
                "rotate": False,
            },
            [],
            id="kubernetes-and-root-blocks",
        ),
        pytest.param(
            ".:53 {\n  kubernetes cluster.local\n  forward . 1.1.1.1\n}\n"
            "corp.example:53 {\n  forward . 10.0.0.53 {\n    force_tcp\n  }\n}\n"
            "other.example:5353 {\n  forward . 10.0.0.54\n}\n"
            "tls://secure.example {\n  forward . 10.0.0.55\n}\n",
            {
                "listen": LISTEN,
                "zone": "cluster.local",
                "pods": "disabled",
                "upstream": ["1.1.1.1"],
                "cache-size": 0,
                "rotate": False,
                "stub-domain": {"corp.example": ["10.0.0.53"]},
            },
            [(7, "force_tcp"), (10, "other.example:5353"), (13, "tls://secure.example")],
            id="stub-blocks",
        ),
    ],
)
def test_a_whole_corefile_maps_to_these_keys_and_leaves_these_lines(
    text: str, keys: dict[str, Any], unmapped: list[tuple[int, str]], tmp_path: Path
) -> None:
    _, loaded, _, _ = imported(text, tmp_path)
    assert loaded == keys
    assert unmapped_lines(text) == unmapped


def _lines(directives: tuple[Directive, ...], whole: set[int]) -> set[int]:
    """The lines of `directives` and of their blocks', but for blocks reported `whole`."""
    return {
        n
        for d in directives
        for n in {d.line} | (set() if d.line in whole else _lines(d.block, whole))
    }


@pytest.mark.parametrize("name", DISTRIBUTIONS)
def test_every_directive_line_is_mapped_needs_nothing_or_is_reported(name: str) -> None:
    parsed = parse((FIXTURES / f"{name}.Corefile").read_text(encoding="utf-8"))
    mapping = map_corefile(parsed)
    accounted = {v.line for v in (*mapping.settings.values(), *mapping.stubs.values())} | {
        x.line for x in (*mapping.nothing_needed, *mapping.unmapped)
    }
    # A plugin judged whole (`hosts {...}` not mapped, `log . { class error }` not needed)
    # answers for its block's lines too.
    whole = {x.line for x in (*mapping.unmapped, *mapping.nothing_needed)}
    written = _lines(tuple(d for b in parsed.blocks for d in b.directives) + parsed.top, whole)
    assert written - accounted == set()


# -- fuzzed: any text parses or is one CorefileError; any parse prints a loadable YAML -------

PIECES = [
    ".:53 {",
    ".:5353 {",
    "example.org {",
    "tls://secure.example {",
    "(s) {",
    "import s",
    "import custom/*.server",
    "}",
    "{",
    '"',
    "#",
    "{$X}",
    ",",
    "\n",
    "kubernetes cluster.local in-addr.arpa ip6.arpa {",
    "kubernetes a.b c.d {",
    "pods verified",
    "pods nope",
    "ttl 60",
    "ttl 99999",
    "namespaces a b",
    "labels x=y",
    "endpoint_pod_names",
    "kubeconfig /k c",
    "startup_timeout 5s",
    "fallthrough",
    "fallthrough in-addr.arpa",
    "multicluster x",
    "forward . 1.2.3.4 {",
    "forward . a.b",
    "forward corp.example 10.0.0.1",
    "forward . tls://1.1.1.1",
    "forward . /etc/resolv.conf",
    "force_tcp",
    "max_concurrent 7",
    "max_concurrent x",
    "policy random",
    "except a.b",
    "cache 30 {",
    "cache",
    "success 100 20",
    "denial 5 5",
    "serve_stale 10s verify",
    "disable success cluster.local",
    "health :9153 {",
    "health",
    "lameduck 3s",
    "lameduck x",
    "ready",
    "prometheus :9999",
    "prometheus localhost:1",
    "log",
    "log . {",
    "class error",
    "bind 127.0.0.1",
    "bind eth0",
    "transfer {",
    "to *",
    "to 10.0.0.1",
    "loadbalance",
    "errors",
    "loop",
    "reload 10s",
    "hosts {",
    "rewrite name a b",
    "autopath @kubernetes",
]


@fuzz
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.lists(st.booleans(), max_size=40))
def test_fuzz_any_corefile_parses_or_is_one_error_and_its_yaml_loads(
    pieces: list[str], breaks: list[bool]
) -> None:
    text = "".join(
        p + ("\n" if b else " ") for p, b in zip(pieces, breaks + [True] * 40, strict=False)
    )
    try:
        parsed = parse(text, {})
    except CorefileError as error:
        assert "\n" not in str(error)
        return
    printed = import_corefile.to_yaml(map_corefile(parsed), source="fuzzed")
    config = yaml.safe_load(printed) or {}
    build({str(k).replace("-", "_"): v for k, v in config.items()})
