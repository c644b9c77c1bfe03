"""A pod's-eye view: glibc's resolver, with a pod's resolv.conf, against svcdns on port 53.

Runs in a private network and mount namespace (`unshare -mn`): svcdns listens on
127.0.0.1:53 there, and /etc/resolv.conf and /etc/nsswitch.conf are bind-mounted over with
what kubelet writes for a pod in namespace `shop`, so `getent` resolves short names through
the search path exactly as a pod would. A second DNS server on 127.0.0.2 is svcdns's
upstream for names outside the cluster. Nothing leaves the namespace.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

POD_RESOLV_CONF = """\
nameserver 127.0.0.1
search shop.svc.cluster.local svc.cluster.local cluster.local
options ndots:5
"""

SCRIPT = """\
set -u
ip link set lo up
mount --bind {resolv} /etc/resolv.conf
mount --bind {nsswitch} /etc/nsswitch.conf
{python} {upstream} 127.0.0.2 5300 api.example.com=192.0.2.10 >/dev/null 2>&1 &
upstream=$!
{python} -m svcdns serve --manifests {manifests} --listen 127.0.0.1:53 --http none \
    --upstream 127.0.0.2:5300 2>{log} &
server=$!
ready=no
for _ in $(seq 200); do
  if getent hosts kubernetes.default.svc.cluster.local >/dev/null; then ready=yes; break; fi
  sleep 0.05
done
echo "ready=$ready"
for name in web api.tools db-0.db web.shop.svc.cluster.local api.example.com; do
  echo "hosts $name=$(getent hosts "$name" | tr -s ' ' | tr '\\n' ';')"
done
echo "ahosts dual=$(getent ahosts dual | awk '{{print $1}}' | sort -u | tr '\\n' ' ')"
start=$(date +%s%N)
getent hosts no-such-service; echo "missing rc=$?"
echo "missing ms=$(( ($(date +%s%N) - start) / 1000000 ))"
kill $server $upstream; wait $server
"""


def unshare_permitted() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-mn", "true"], capture_output=True, timeout=10)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not unshare_permitted(), reason="unshare -mn is not permitted here (needs root or userns)"
)


@pytest.fixture(scope="module")
def pod_view(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("pod")
    resolv = folder / "resolv.conf"
    resolv.write_text(POD_RESOLV_CONF)
    nsswitch = folder / "nsswitch.conf"
    nsswitch.write_text("hosts: dns\n")  # no /etc/hosts, no mDNS: only what svcdns says
    log = folder / "svcdns.log"
    script = SCRIPT.format(
        resolv=resolv,
        nsswitch=nsswitch,
        python=sys.executable,
        log=log,
        manifests=REPO / "examples" / "cluster.yaml",
        upstream=REPO / "tests" / "upstream.py",
    )
    result = subprocess.run(
        ["unshare", "-mn", "bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    output = result.stdout + result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    assert lines.get("ready") == "yes", f"{output}\n{log.read_text() if log.exists() else ''}"
    return lines


def test_short_name_resolves_through_the_namespace_search_path(pod_view: dict[str, str]) -> None:
    assert pod_view["hosts web"] == "10.96.100.10 web.shop.svc.cluster.local;"


def test_service_in_another_namespace(pod_view: dict[str, str]) -> None:
    assert pod_view["hosts api.tools"] == "10.96.200.5 api.tools.svc.cluster.local;"


def test_headless_endpoint_by_hostname(pod_view: dict[str, str]) -> None:
    assert pod_view["hosts db-0.db"] == "10.244.2.10 db-0.db.shop.svc.cluster.local;"


def test_fully_qualified_name(pod_view: dict[str, str]) -> None:
    assert pod_view["hosts web.shop.svc.cluster.local"] == (
        "10.96.100.10 web.shop.svc.cluster.local;"
    )


def test_dual_stack_ahosts_gives_both_families(pod_view: dict[str, str]) -> None:
    assert pod_view["ahosts dual"].split() == ["10.96.100.30", "fd00:10:96::1e"]


def test_an_external_name_is_forwarded_after_the_search_path(pod_view: dict[str, str]) -> None:
    # ndots:5: the three search-path guesses are NXDOMAIN from the zone, then the name
    # itself goes to the upstream on 127.0.0.2.
    assert pod_view["hosts api.example.com"] == "192.0.2.10 api.example.com;"


def test_missing_name_fails_fast(pod_view: dict[str, str]) -> None:
    # glibc walks all three search domains plus the name itself: every step NXDOMAIN.
    assert pod_view["missing rc"] == "2"
    assert int(pod_view["missing ms"]) < 1000
