"""The client view `--autopath` reads: which namespace's pods hold an IP (`pod_namespace`).

A pod IP reused by a new pod in another namespace before the old pod's delete arrives is
held by two namespaces at once: no namespace is guessed (coredns/coredns#3765).
"""

from typing import Any

import pytest

from svcdns.core.convert import from_dict
from svcdns.core.model import Delete, ObjectKey, Upsert
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import PodMode, ZoneSettings

T0 = 1_700_000_000


def pod(name: str, ns: str, ip: str, phase: str = "Running") -> dict[str, Any]:
    meta = {"name": name, "namespace": ns}
    return {"kind": "Pod", "metadata": meta, "status": {"phase": phase, "podIP": ip}}


def verified() -> ClusterState:
    return ClusterState(ZoneSettings(pods=PodMode.VERIFIED))


def upsert(state: ClusterState, raw: dict[str, Any]) -> None:
    obj = from_dict(raw)
    assert obj is not None
    state.apply(Upsert(obj), now=T0)


def delete(state: ClusterState, ns: str, name: str) -> None:
    state.apply(Delete(ObjectKey("Pod", ns, name)), now=T0)


def test_a_pod_ip_names_its_namespace() -> None:
    state = verified()
    upsert(state, pod("web-0", "shop", "10.244.1.10"))
    assert state.pod_namespace("10.244.1.10") == "shop"
    assert state.pod_namespace("10.244.1.11") is None


def test_two_pods_of_one_namespace_on_one_ip_still_name_it() -> None:
    state = verified()
    upsert(state, pod("web-0", "shop", "10.244.1.10"))
    upsert(state, pod("web-1", "shop", "10.244.1.10"))
    delete(state, "shop", "web-0")
    assert state.pod_namespace("10.244.1.10") == "shop"
    delete(state, "shop", "web-1")
    assert state.pod_namespace("10.244.1.10") is None


def test_an_ip_reused_before_the_old_pods_delete_names_no_namespace() -> None:
    state = verified()
    upsert(state, pod("old", "shop", "10.244.1.10"))
    upsert(state, pod("new", "tools", "10.244.1.10"))
    assert state.pod_namespace("10.244.1.10") is None  # which one is current: unknown
    delete(state, "shop", "old")
    assert state.pod_namespace("10.244.1.10") == "tools"  # the delete came: the new pod's


def test_a_finished_pod_gives_its_ip_up_to_the_new_one() -> None:
    state = verified()
    upsert(state, pod("job", "shop", "10.244.1.10"))
    upsert(state, pod("job", "shop", "10.244.1.10", phase="Succeeded"))
    upsert(state, pod("new", "tools", "10.244.1.10"))
    assert state.pod_namespace("10.244.1.10") == "tools"


def test_an_ambiguous_ip_settles_on_the_last_holder_whichever_leaves() -> None:
    state = verified()
    for name, ns in (("a", "one"), ("b", "two"), ("c", "three")):
        upsert(state, pod(name, ns, "10.244.1.10"))
    delete(state, "two", "b")
    assert state.pod_namespace("10.244.1.10") is None
    delete(state, "one", "a")
    assert state.pod_namespace("10.244.1.10") == "three"


@pytest.mark.parametrize("mode", [PodMode.INSECURE, PodMode.DISABLED])
def test_kept_only_with_verified_pods(mode: PodMode) -> None:
    state = ClusterState(ZoneSettings(pods=mode))
    upsert(state, pod("web-0", "shop", "10.244.1.10"))
    assert state.pod_namespace("10.244.1.10") is None
