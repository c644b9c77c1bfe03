"""--autopath from a pod's eye: glibc's resolver, a pod's resolv.conf, svcdns on port 53,
and the queries counted that reach svcdns and its upstream (issue 16).

As tests/e2e/test_pod_resolver.py: a private network and mount namespace (`unshare -mn`),
/etc/resolv.conf bind-mounted with what kubelet writes for a pod of namespace `shop` (and a
node search domain, `example.internal`), svcdns on 127.0.0.1:53 and an upstream on
127.0.0.2. The pod is `client` of namespace `shop` with the address 127.0.0.1, the one its
queries come from. `getent ahosts` asks A and AAAA, as getaddrinfo does. The same lookups
run against svcdns without and with `--autopath`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from test_pod_resolver import unshare_permitted

REPO = Path(__file__).resolve().parents[2]

POD_RESOLV_CONF = """\
nameserver 127.0.0.1
search shop.svc.cluster.local svc.cluster.local cluster.local example.internal
options ndots:5
"""

# The pod that asks: its IP is the address its queries come from inside the namespace.
CLIENT_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: shop}
status:
  phase: Running
  podIP: 127.0.0.1
  podIPs: [{ip: 127.0.0.1}]
"""

UPSTREAM = """\
import signal, sys, threading
sys.path.insert(0, {tests!r})
from upstream import UpstreamServer
server = UpstreamServer(host="127.0.0.2", port=5300, records={{"api.example.com": "192.0.2.10"}})
server.start()
def report(*_):
    for name, _ in list(server.questions):
        print("asked", name.rstrip(".").lower(), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, report)
threading.Event().wait()
"""

SCRIPT = """\
set -u
ip link set lo up
ip addr add 127.0.0.2/8 dev lo 2>/dev/null
# An address of each family that is not loopback: getaddrinfo (AI_ADDRCONFIG) asks A and AAAA.
ip addr add fd00::1/128 dev lo
mount --bind {resolv} /etc/resolv.conf
mount --bind {nsswitch} /etc/nsswitch.conf
{python} {upstream} >{asked} 2>&1 &
upstream=$!
{python} -m svcdns serve --manifests {manifests} --listen 127.0.0.1:53 --http none \
    --upstream 127.0.0.2:5300 --log-queries {flags} 2>{log} &
server=$!
ready=no
for _ in $(seq 200); do
  if getent hosts kubernetes.default.svc.cluster.local >/dev/null; then ready=yes; break; fi
  sleep 0.05
done
echo "ready=$ready"
for name in api.example.com api.tools web; do
  echo "ahosts $name=$(getent ahosts "$name" | awk '{{print $1}}' | sort -u | tr '\\n' ' ')"
done
getent ahosts no-such-name >/dev/null; echo "missing rc=$?"
kill $server; wait $server
kill $upstream; wait $upstream
"""


def pod_lookups(folder: Path, flags: str) -> dict[str, str]:
    """What the pod resolved, and how many questions for each name svcdns and the upstream
    saw (`svcdns NAME`, `upstream NAME`: counted by the name's first label)."""
    folder.mkdir()
    manifests = folder / "manifests"
    manifests.mkdir()
    (manifests / "cluster.yaml").write_text((REPO / "examples" / "cluster.yaml").read_text())
    (manifests / "client.yaml").write_text(CLIENT_POD)
    (folder / "resolv.conf").write_text(POD_RESOLV_CONF)
    (folder / "nsswitch.conf").write_text("hosts: dns\n")
    (folder / "upstream.py").write_text(UPSTREAM.format(tests=str(REPO / "tests")))
    log, asked = folder / "svcdns.log", folder / "asked.txt"
    script = SCRIPT.format(
        resolv=folder / "resolv.conf",
        nsswitch=folder / "nsswitch.conf",
        python=sys.executable,
        upstream=folder / "upstream.py",
        asked=asked,
        manifests=manifests,
        flags=flags,
        log=log,
    )
    result = subprocess.run(
        ["unshare", "-mn", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    logged = log.read_text() if log.exists() else ""
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert seen.get("ready") == "yes", f"{result.stdout}{result.stderr}\n{logged}"
    queries = [line.split("query ", 1)[1].split()[1] for line in logged.splitlines()
               if "query " in line]  # fmt: skip
    upstream = [
        line.split()[1] for line in asked.read_text().splitlines() if line.startswith("asked ")
    ]
    for name in ("api.example.com", "api.tools", "web", "no-such-name"):
        seen[f"svcdns {name}"] = str(
            sum(q.lower().startswith(name + ".") or q.lower() == name for q in queries)
        )
        seen[f"upstream {name}"] = str(sum(q.startswith(name + ".") or q == name for q in upstream))
    return seen


@pytest.fixture(scope="module")
def counts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    if not unshare_permitted():
        pytest.fail("unshare -mn is not permitted here: the pod's-eye test cannot run")
    folder = tmp_path_factory.mktemp("autopath")
    return {
        "without": pod_lookups(folder / "without", "--pods verified"),
        "with": pod_lookups(folder / "with", "--pods verified --autopath"),
    }


@pytest.mark.parametrize("mode", ["without", "with"])
def test_the_pod_resolves_the_same_addresses(counts: dict[str, dict[str, str]], mode: str) -> None:
    seen = counts[mode]
    assert seen["ahosts api.example.com"].split() == ["192.0.2.10"]
    assert seen["ahosts api.tools"].split() == ["10.96.200.5"]
    assert seen["ahosts web"].split() == ["10.96.100.10"]
    assert seen["missing rc"] == "2"


def test_an_external_name_costs_two_queries_instead_of_ten(
    counts: dict[str, dict[str, str]],
) -> None:
    # Without: A and AAAA for each of the 4 search names and the bare name (5 x 2) reach
    # svcdns. With: the first guess of each family is answered with the bare name's records.
    assert counts["without"]["svcdns api.example.com"] == "10"
    assert counts["with"]["svcdns api.example.com"] == "2"
    # The upstream is asked the same names either way: the node domain's guess, then the
    # bare name, each family (svcdns asks them now, the pod did before).
    assert counts["without"]["upstream api.example.com"] == "4"
    assert counts["with"]["upstream api.example.com"] == "4"


def test_a_short_name_of_another_namespace_costs_one_query_a_family(
    counts: dict[str, dict[str, str]],
) -> None:
    assert counts["without"]["svcdns api.tools"] == "4"  # shop.svc guess, then svc: x 2
    assert counts["with"]["svcdns api.tools"] == "2"
    assert counts["with"]["upstream api.tools"] == "0"


def test_a_name_of_the_pods_namespace_is_unchanged(counts: dict[str, dict[str, str]]) -> None:
    assert counts["without"]["svcdns web"] == counts["with"]["svcdns web"] == "2"


def test_a_missing_name_still_fails_and_the_pod_walks_as_before(
    counts: dict[str, dict[str, str]],
) -> None:
    # Every guess NXDOMAIN: the first one's NXDOMAIN goes back and the pod walks the rest
    # itself (as CoreDNS does): no fewer queries. The upstream is not asked more: the pod's
    # own walk finds the names svcdns looked up in the forward cache (negative answers).
    assert counts["without"]["svcdns no-such-name"] == "10"
    assert counts["with"]["svcdns no-such-name"] == "10"
    assert counts["without"]["upstream no-such-name"] == "4"
    assert counts["with"]["upstream no-such-name"] == "4"
