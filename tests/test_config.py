"""Config: flags and --config file merged (flags win), every bad value one clear line."""

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from svcdns.cli import _parser
from svcdns.config import (
    LIVE_SETTINGS,
    RESTART_SETTINGS,
    Config,
    ConfigError,
    ListenAddress,
    build,
    flag_name,
    parse_listen,
    read_file,
    sighup_changes,
)
from svcdns.core.zonedata import PodMode


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("127.0.0.1:5353", ListenAddress("127.0.0.1", 5353), id="v4"),
        pytest.param("[::1]:53", ListenAddress("::1", 53), id="v6"),
        pytest.param("10.0.0.1", ListenAddress("10.0.0.1", 53), id="v4-default-port"),
        pytest.param("::", ListenAddress("::", 53), id="v6-bare"),
        pytest.param(":5353", ListenAddress("0.0.0.0", 5353), id="port-only"),
        pytest.param("127.0.0.1:0", ListenAddress("127.0.0.1", 0), id="port-zero"),
    ],
)
def test_parse_listen(text: str, expected: ListenAddress) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    "text", ["nonsense", "localhost:53", "127.0.0.1:70000", "[::1]x", "1.2.3.4:port"]
)
def test_parse_listen_rejects(text: str) -> None:
    with pytest.raises(ConfigError, match="--listen"):
        parse_listen(text)


def test_defaults() -> None:
    config = build({})
    assert config.listen == (ListenAddress("0.0.0.0", 53),)
    assert (config.zone, config.ttl, config.pods) == ("cluster.local", 5, PodMode.INSECURE)
    assert config.upstream is None and config.namespaces is None


@pytest.mark.parametrize(
    ("values", "message"),
    [
        pytest.param({"ttl": "-1"}, "--ttl -1", id="negative-ttl"),
        pytest.param({"ttl": "abc"}, "--ttl 'abc': not a number", id="ttl-not-a-number"),
        pytest.param({"workers": "x"}, "--workers 'x'", id="workers-not-a-number"),
        pytest.param({"tcp_idle_timeout": "0"}, "--tcp-idle-timeout", id="idle-zero"),
        pytest.param({"tcp_max_connections": 0}, "--tcp-max-connections", id="max-conn-zero"),
        pytest.param({"pods": "bogus"}, "--pods 'bogus'", id="pods"),
        pytest.param({"zone": ".."}, "--zone", id="zone"),
        pytest.param({"zone": "a" * 64 + ".local"}, "not a domain name", id="zone-long-label"),
        pytest.param({"zone": ".".join(["a" * 63] * 4)}, "longer than", id="zone-too-long"),
        pytest.param({"workers": 0}, "--workers", id="workers"),
        pytest.param({"upstream": ["dns.google"]}, "--upstream 'dns.google'", id="upstream-name"),
        pytest.param({"upstream": ["1.2.3.4:0"]}, "--upstream", id="upstream-port"),
        pytest.param({"stub_domain": ["corp.example"]}, "--stub-domain", id="stub-no-servers"),
        pytest.param({"stub_domain": ["corp=x"]}, "--stub-domain 'x'", id="stub-bad-server"),
        pytest.param({"allow_recursion": "10.0.0.0/33"}, "--allow-recursion", id="acl-cidr"),
        pytest.param({"max_concurrent": 0}, "--max-concurrent", id="max-concurrent"),
        pytest.param({"cache_size": -1}, "--cache-size", id="cache-size"),
    ],
)
def test_bad_values(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build(values)


def test_values_are_normalised() -> None:
    config = build(
        {"zone": "Cluster.Local.", "namespaces": "shop, tools", "upstream": ["none"], "ttl": "30"}
    )
    assert config.zone == "cluster.local"
    assert config.namespaces == frozenset({"shop", "tools"})
    assert config.upstream == ()
    assert config.ttl == 30


def test_config_file_keys_match_flags(tmp_path: Path) -> None:
    path = tmp_path / "svcdns.yaml"
    path.write_text("endpoint-pod-names: true\nttl: 10\nlisten: ['127.0.0.1:5300']\n")
    values = read_file(path)
    assert values == {"endpoint_pod_names": True, "ttl": 10, "listen": ["127.0.0.1:5300"]}
    config = build({**values, "ttl": "20"})  # a flag wins over the file
    assert config.endpoint_pod_names and config.ttl == 20
    assert config.listen == (ListenAddress("127.0.0.1", 5300),)


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--config"):
        read_file(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="mapping"):
        read_file(tmp_path / "list.yaml")


def test_nameserver_addresses_follow_the_listen_addresses() -> None:
    config = build({"listen": ["127.0.0.1:53", "[::1]:53", "0.0.0.0:5353"]})
    assert config.nameserver_addresses() == ("127.0.0.1", "::1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("false", False), ("no", False), ("yes", True), (0, False)],
)
def test_switches_from_a_config_file(value: object, expected: bool) -> None:
    assert build({"endpoint_pod_names": value}).endpoint_pod_names is expected


def test_switch_with_a_bad_value() -> None:
    with pytest.raises(ConfigError, match="--endpoint-pod-names 'maybe'"):
        build({"endpoint_pod_names": "maybe"})


def test_forwarding_settings_are_parsed() -> None:
    config = build(
        {
            "upstream": ["10.0.0.2", "[fd00::53]:5353"],
            "stub_domain": ["Corp.Example=10.1.0.53,10.1.0.54:5353"],
            "allow_recursion": "10.0.0.0/8, 192.168.1.7",
            "force_tcp": True,
        }
    )
    assert config.upstream == ("10.0.0.2", "[fd00::53]:5353")
    assert config.stub_domains == (("corp.example", ("10.1.0.53", "10.1.0.54:5353")),)
    assert config.allow_recursion == ("10.0.0.0/8", "192.168.1.7/32")
    assert config.force_tcp and config.max_concurrent == 1000 and config.cache_size == 10_000
    assert build({"stub_domain": {"corp.example": ["10.1.0.53"]}}).stub_domains == (
        ("corp.example", ("10.1.0.53",)),
    )


def test_default_upstreams_are_the_nameservers_of_resolv_conf(tmp_path: Path) -> None:
    from svcdns.net.forward import Upstream
    from svcdns.recursion import resolv_conf_upstreams

    resolv = tmp_path / "resolv.conf"
    resolv.write_text(
        "# a node's\nsearch example.internal\nnameserver 10.0.0.2\n"
        "nameserver fe80::1%eth0\nnameserver not-an-address\noptions ndots:2\n"
    )
    assert resolv_conf_upstreams(resolv) == [Upstream("10.0.0.2"), Upstream("fe80::1")]
    assert resolv_conf_upstreams(tmp_path / "missing") == []


# -- SIGHUP: every setting is applied while serving or named as needing a restart ----------

SETTINGS = [setting.name for setting in dataclasses.fields(Config)]


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_live_or_needs_a_restart(name: str) -> None:
    lists = [name in LIVE_SETTINGS, name in RESTART_SETTINGS]
    # --config names the file SIGHUP reads again: it is in neither.
    assert lists.count(True) == (0 if name == "config_file" else 1), lists


@pytest.mark.parametrize("name", SETTINGS)
def test_a_change_to_any_setting_is_named_on_sighup(name: str) -> None:
    old = Config()
    new = dataclasses.replace(old, **{name: object()})  # any value unequal to the old one
    named = [] if name == "config_file" else [flag_name(name)]
    expected = (named, []) if name in LIVE_SETTINGS else ([], named)
    assert sighup_changes(old, new) == expected  # (applied, needs a restart)
    assert sighup_changes(old, dataclasses.replace(old)) == ([], [])


def test_every_setting_names_a_flag_of_serve() -> None:
    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    flags = set(commands.choices["serve"]._option_string_actions)
    assert {flag_name(name) for name in SETTINGS} <= flags
    assert (flag_name("stub_domains"), flag_name("config_file")) == ("--stub-domain", "--config")


def test_readme_lists_what_sighup_applies_and_what_needs_a_restart() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith("| `--config FILE`")]
    live, _, rest = row.partition("SIGHUP reads it again")[2].partition("These need a restart")
    restart = rest.partition("One log line")[0]

    def named(text: str) -> set[str]:
        return {f"--{name}" for name in re.findall(r"`([a-z-]+)`", text)}

    assert named(live) == {flag_name(name) for name in LIVE_SETTINGS}
    assert named(restart) == {flag_name(name) for name in RESTART_SETTINGS}
