"""Name arithmetic: dashed addresses both ways, labels, reverse names."""

import pytest

from svcdns.core.names import dashed, is_dns_label, reverse_name, undashed, under


@pytest.mark.parametrize(
    ("address", "label"),
    [
        pytest.param("10.244.1.5", "10-244-1-5", id="ipv4"),
        pytest.param("fd00:10::1", "fd00-10--1", id="ipv6-compressed"),
        pytest.param("2001:db8::", "2001-db8--0", id="ipv6-trailing-dash-gets-zero"),
        pytest.param("::1", "0--1", id="ipv6-leading-dash-gets-zero"),
    ],
)
def test_dashed_round_trips(address: str, label: str) -> None:
    assert dashed(address) == label
    assert undashed(label) == address
    assert is_dns_label(label)


@pytest.mark.parametrize(
    "label",
    [
        pytest.param("10-244-1", id="three-octets"),
        pytest.param("10-244-1-500", id="octet-out-of-range"),
        pytest.param("web-0", id="pod-name"),
        pytest.param("", id="empty"),
    ],
)
def test_undashed_rejects_non_addresses(label: str) -> None:
    assert undashed(label) is None


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        pytest.param("db-0", True, id="hostname"),
        pytest.param("a" * 63, True, id="63-chars"),
        pytest.param("a" * 64, False, id="64-chars"),
        pytest.param("-a", False, id="leading-dash"),
        pytest.param("a-", False, id="trailing-dash"),
        pytest.param("Bad_Name", False, id="underscore-and-upper"),
    ],
)
def test_is_dns_label(text: str, valid: bool) -> None:
    assert is_dns_label(text) is valid


def test_reverse_names() -> None:
    assert reverse_name("10.96.0.10") == "10.0.96.10.in-addr.arpa"
    assert reverse_name("fd00::1").endswith(".0.0.d.f.ip6.arpa")
    assert reverse_name("fd00::1").startswith("1.0.0.0.")


def test_under_is_label_aligned() -> None:
    assert under("cluster.local", "cluster.local")
    assert under("web.shop.svc.cluster.local", "cluster.local")
    assert not under("evilcluster.local", "cluster.local")


@pytest.mark.parametrize("address", ["10.244.1.5", "0.0.0.0", "255.255.255.255", "fd00:10::1"])
def test_reverse_owner_is_the_reverse_name_and_its_wire(address: str) -> None:
    from svcdns.core.wire import name_wire, reverse_owner

    assert reverse_owner(address) == (reverse_name(address), name_wire(reverse_name(address)))
