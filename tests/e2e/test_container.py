"""deploy/Dockerfile built and run for real, as an operator runs it.

A Docker engine of our own (`.ci/docker start`: own data root, socket and pid file, no
bridge, no iptables) builds the image from a stand-in for python:3.11-slim made with
debootstrap (`.ci/docker base`), offline, from a wheelhouse in the build context. The
image then runs with `--network host --read-only` under its own user: it serves
examples/cluster.yaml, reads the test API server through a mounted kubeconfig, and stops
cleanly on `docker stop`. What the image does is checked against deploy/deployment.yaml,
and the image runs with the Deployment's own arguments and sysctl in a network namespace
of its own, answering on port 53 as UID 65532.

`.ci/run` starts the engine and passes DOCKER_HOST and SVCDNS_TEST_BASE_IMAGE; run alone,
this module starts (and stops) its own engine. Where no engine can run here (no dockerd,
not root, no cgroups or overlay) the tests are skipped with the reason, and `.ci/run`
prints that reason loudly.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.rdatatype
import pytest
import yaml
from fakeapi import FakeApiServer, tls_available
from helpers import (
    CLUSTER_YAML,
    REPO,
    answer_data,
    free_port,
    http_status,
    poll,
    tcp_query,
    udp_query,
)

CI_DOCKER = REPO / ".ci" / "docker"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
DEPLOYMENT = REPO / "deploy" / "deployment.yaml"
# What the build context holds: .dockerignore lets in exactly these (and wheelhouse/).
CONTEXT_FILES = ("pyproject.toml", "README.md", ".dockerignore", "svcdns")
MAX_GROWTH = 150 * 1024 * 1024  # the image over its base, in bytes
LAMEDUCK = 1.0
STOP_SLACK = 2.0
DEADLINE = 30.0
MANIFEST_IN_CONTAINER = "/etc/svcdns/cluster.yaml"
KUBECONFIG_IN_CONTAINER = "/etc/svcdns/kubeconfig"


@dataclass
class Engine:
    """A Docker engine to talk to, and the image that stands in for python:3.11-slim."""

    host: str
    base: str
    client: str

    def run(
        self, *args: str, check: bool = True, timeout: float = 600, **env: str
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [self.client, *args],
            env={**os.environ, "DOCKER_HOST": self.host, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            pytest.fail(f"docker {' '.join(args[:3])} failed:\n{result.stderr[-3000:]}")
        return result

    def inspect(self, what: str) -> dict[str, Any]:
        [info] = json.loads(self.run("inspect", what).stdout)
        return dict(info)


def _docker_client() -> str:
    """Debian's client (the engine's own version, BuildKit built in), else the one on PATH."""
    chosen = os.environ.get("SVCDNS_DOCKER") or (
        "/usr/bin/docker" if Path("/usr/bin/docker").exists() else shutil.which("docker")
    )
    if not chosen:
        pytest.skip("no docker client on this machine (apt-get install docker.io)")
    return chosen


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    unavailable = os.environ.get("SVCDNS_DOCKER_UNAVAILABLE")
    if unavailable:
        pytest.skip(f"no Docker engine here: {unavailable}")
    client = _docker_client()
    host, base = os.environ.get("DOCKER_HOST", ""), os.environ.get("SVCDNS_TEST_BASE_IMAGE", "")
    own = ""
    if not (host and base):
        own = str(tmp_path_factory.mktemp("docker"))
        started = subprocess.run(
            [str(CI_DOCKER), "start", own], capture_output=True, text=True, timeout=120
        )
        if started.returncode != 0:
            pytest.skip(f"no Docker engine here: {started.stderr.strip()[-500:]}")
        host = started.stdout.strip()
    try:
        if not base:
            made = subprocess.run(
                [str(CI_DOCKER), "base"],
                env={**os.environ, "DOCKER_HOST": host},
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert made.returncode == 0, made.stderr
            base = made.stdout.strip()
        yield Engine(host=host, base=base, client=client)
    finally:
        if own:
            subprocess.run([str(CI_DOCKER), "stop", own], timeout=60, check=False)


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build context an air-gapped operator has: the sources and a wheelhouse."""
    root = tmp_path_factory.mktemp("context")
    for name in CONTEXT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, root / name)
    (root / "deploy").mkdir()
    shutil.copy2(DOCKERFILE, root / "deploy" / "Dockerfile")
    wheels = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "-w",
            str(root / "wheelhouse"),
            f"{REPO}[fast]",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert wheels.returncode == 0, wheels.stderr[-3000:]
    return root


def _build(engine: Engine, context: Path, tag: str, *, buildkit: bool) -> str:
    # --network host: with no bridge the build's RUN steps need a network mode that exists;
    # nothing in them uses it (`--no-index`), which the wheelhouse build below proves by
    # succeeding with no route out of loopback other than the machine's own.
    engine.run(
        "build",
        "--network",
        "host",
        "--build-arg",
        f"BASE={engine.base}",
        "-f",
        str(context / "deploy" / "Dockerfile"),
        "-t",
        tag,
        str(context),
        DOCKER_BUILDKIT="1" if buildkit else "0",
    )
    return tag


@pytest.fixture(scope="module")
def image(engine: Engine, context: Path) -> Iterator[str]:
    tag = f"svcdns-test:{os.getpid()}"
    yield _build(engine, context, tag, buildkit=False)
    engine.run("rmi", "-f", tag, check=False)


@pytest.fixture(scope="module")
def deployment_container() -> dict[str, Any]:
    documents = yaml.safe_load_all(DEPLOYMENT.read_text(encoding="utf-8"))
    [deployment] = [doc for doc in documents if doc and doc.get("kind") == "Deployment"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {"pod": deployment["spec"]["template"]["spec"], **container}


def _timestamp(text: str) -> float:
    """Seconds since the epoch of an engine timestamp (RFC 3339, nanoseconds, UTC)."""
    seconds, _, fraction = text.rstrip("Z").partition(".")
    parsed = datetime.datetime.fromisoformat(seconds).replace(tzinfo=datetime.UTC)
    return parsed.timestamp() + float(f"0.{fraction or 0}")


class Container:
    """A detached `docker run --network host --read-only IMAGE serve ...`."""

    def __init__(self, engine: Engine, image: str, serve: Sequence[str], mount: str) -> None:
        self.engine = engine
        self.dns_port, self.http_port = free_port(), free_port()
        args = ["run", "-d", "--network", "host", "--read-only", "--volume", mount]
        args += [image, "serve", *serve, "--listen", f"127.0.0.1:{self.dns_port}"]
        args += ["--http", f"127.0.0.1:{self.http_port}", "--lameduck", str(LAMEDUCK)]
        self.started = time.monotonic()
        self.id = engine.run(*args).stdout.strip()

    def status(self, path: str) -> int:
        return http_status(f"http://127.0.0.1:{self.http_port}{path}")

    def logs(self) -> str:
        result = self.engine.run("logs", self.id, check=False)
        return (result.stdout + result.stderr)[-4000:]

    def wait_ready(self, path: str = "/ready") -> None:
        ready = poll(lambda: self.status(path) == 200, timeout=DEADLINE, interval=0.1)
        assert ready, f"{path} never turned 200:\n{self.logs()}"
        print(f"\n{path} 200 after {time.monotonic() - self.started:.2f} s from `docker run`")

    def stop(self) -> tuple[float, int]:
        """`docker stop` (SIGTERM): seconds from the signal to the container's exit, by the
        engine's own clock (not the CLI's round trips), and the exit code."""
        began = time.time()
        self.engine.run("stop", "--time", "20", self.id)
        state = self.engine.inspect(self.id)["State"]
        took = _timestamp(state["FinishedAt"]) - began
        exit_code = int(state["ExitCode"])
        print(f"\ndocker stop: {took:.2f} s (lameduck {LAMEDUCK} s), exit code {exit_code}")
        return took, exit_code

    def remove(self) -> None:
        self.engine.run("rm", "-f", self.id, check=False)


@pytest.fixture
def containers(engine: Engine) -> Iterator[list[Container]]:
    started: list[Container] = []
    yield started
    for container in started:
        container.remove()


# -- the image --------------------------------------------------------------------------


def test_image_is_small_runs_as_65532_and_answers_version(engine: Engine, image: str) -> None:
    size = int(engine.inspect(image)["Size"])
    base = int(engine.inspect(engine.base)["Size"])
    growth = size - base
    print(
        f"\nimage {size / 1e6:.0f} MB, base {base / 1e6:.0f} MB, svcdns adds {growth / 1e6:.0f} MB"
    )
    assert growth <= MAX_GROWTH
    config = engine.inspect(image)["Config"]
    assert config["User"] == "65532:65532"
    version = engine.run("run", "--rm", "--read-only", image, "version").stdout
    assert version.startswith("svcdns 0.1.0")
    usage = engine.run("run", "--rm", "--read-only", image, "--help").stdout
    assert usage.startswith("usage: svcdns")
    who = engine.run("run", "--rm", "--entrypoint", "id", image).stdout
    assert who.split()[:2] == ["uid=65532", "gid=65532"]


def test_image_holds_no_compiler_pip_cache_or_source(engine: Engine, image: str) -> None:
    probe = (
        "for tool in gcc cc g++ make; do command -v $tool && exit 1; done;"
        " for path in /src /opt/svcdns/pyproject.toml /root/.cache/pip /opt/svcdns/kubernetes/aio;"
        " do [ -e $path ] && echo $path && exit 1; done; exit 0"
    )
    result = engine.run("run", "--rm", "--entrypoint", "sh", image, "-c", probe, check=False)
    assert result.returncode == 0, f"found {result.stdout.strip()}"


def test_writes_nothing_at_run_time(engine: Engine, image: str) -> None:
    """No .pyc (nor anything else) lands in the container's layer, even where it could."""
    name = f"svcdns-diff-{os.getpid()}"
    engine.run("run", "--name", name, image, "records", "--manifests", "/dev/null")
    try:
        changes = engine.run("diff", name).stdout.split()
        assert changes == []
    finally:
        engine.run("rm", "-f", name, check=False)


def test_buildkit_builds_it_too(engine: Engine, context: Path, image: str) -> None:
    if Path(engine.client).resolve() != Path("/usr/bin/docker").resolve():
        pytest.skip("BuildKit needs the engine's own client (/usr/bin/docker) or buildx")
    tag = _build(engine, context, f"svcdns-test-buildkit:{os.getpid()}", buildkit=True)
    try:
        assert engine.inspect(tag)["Config"]["User"] == "65532:65532"
    finally:
        engine.run("rmi", "-f", tag, check=False)


# -- the image as the Deployment runs it -------------------------------------------------


def test_image_matches_the_deployment(
    engine: Engine, image: str, deployment_container: dict[str, Any]
) -> None:
    config = engine.inspect(image)["Config"]
    user, group = (int(part) for part in config["User"].split(":"))
    security = deployment_container["securityContext"]
    assert (security["runAsUser"], security["runAsGroup"]) == (user, group)
    assert security["readOnlyRootFilesystem"] is True
    assert config["Entrypoint"] == ["svcdns"]
    exposed = set(config["ExposedPorts"])
    declared = {
        f"{port['containerPort']}/{port['protocol'].lower()}"
        for port in deployment_container["ports"]
    }
    assert declared == exposed
    args = deployment_container["args"]
    assert args[0] == config["Cmd"][0] == "serve"
    http_port = int(args[args.index("--http") + 1].rpartition(":")[2])
    assert f"{http_port}/tcp" in exposed


def test_serves_the_example_dump_read_only(
    engine: Engine,
    image: str,
    containers: list[Container],
    deployment_container: dict[str, Any],
) -> None:
    manifest = f"{CLUSTER_YAML}:{MANIFEST_IN_CONTAINER}:ro"
    serve = ["--manifests", MANIFEST_IN_CONTAINER, "--upstream", "none"]
    container = Container(engine, image, serve, manifest)
    containers.append(container)
    # The Deployment's own probe paths, on the port its probes name.
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        container.wait_ready(deployment_container[probe]["httpGet"]["path"])
    port = container.dns_port
    web = udp_query(port, "web.shop.svc.cluster.local", "A")
    assert (web.rcode(), answer_data(web, "A")) == (0, ["10.96.100.10"])
    assert web.answer[0].ttl == 5
    db = tcp_query(port, "db.shop.svc.cluster.local", "A")
    assert sorted(answer_data(db, "A")) == ["10.244.2.10", "10.244.2.11"]
    srv = udp_query(port, "_http._tcp.web.shop.svc.cluster.local", "SRV")
    assert answer_data(srv, "SRV") == ["0 100 80 web.shop.svc.cluster.local."]
    ext = udp_query(port, "ext.shop.svc.cluster.local", "A")
    assert [rrset.rdtype for rrset in ext.answer] == [dns.rdatatype.CNAME]
    assert answer_data(ext, "CNAME") == ["www.example.com."]

    took, exit_code = container.stop()
    assert exit_code == 0, container.logs()
    assert took <= LAMEDUCK + STOP_SLACK, f"docker stop took {took:.1f} s"


def test_serves_from_the_api_with_a_mounted_kubeconfig(
    engine: Engine, image: str, containers: list[Container], tmp_path: Path
) -> None:
    # TLS when this machine can make a certificate: the kubeconfig then embeds the CA, as
    # kind's and kubeadm's do, which the client writes to a temporary file: with / read-only
    # and no --tmpfs, svcdns must find somewhere to put it.
    with FakeApiServer(tls=tls_available()) as api:
        api.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}})
        api.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"clusterIP": "10.96.7.7", "ports": [{"port": 80, "protocol": "TCP"}]},
            }
        )
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        kubeconfig.chmod(0o644)  # the container's user reads it
        mount = f"{kubeconfig}:{KUBECONFIG_IN_CONTAINER}:ro"
        serve = ["--kubeconfig", KUBECONFIG_IN_CONTAINER, "--upstream", "none"]
        container = Container(engine, image, serve, mount)
        containers.append(container)
        container.wait_ready("/ready")
        reply = udp_query(container.dns_port, "web.shop.svc.cluster.local", "A")
        assert answer_data(reply, "A") == ["10.96.7.7"]
        took, exit_code = container.stop()
        assert exit_code == 0, container.logs()
        assert took <= LAMEDUCK + STOP_SLACK, f"docker stop took {took:.1f} s"


# Run inside the container as its own user: the ops port's /health and /ready, and one
# query over UDP and TCP to each DNS address; prints what it got, one line each.
PROBE = r"""
import socket, struct, sys, urllib.request
http, *dns_addresses = sys.argv[1:]
for path in ("/health", "/ready"):
    print(path, urllib.request.urlopen(f"http://{http}{path}", timeout=2).status)
name = b"\x03web\x04shop\x03svc\x07cluster\x05local\x00"
query = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + name + b"\x00\x01\x00\x01"
for address in dns_addresses:
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as udp:
        udp.settimeout(2)
        udp.sendto(query, (host, int(port)))
        reply = udp.recv(512)
    with socket.create_connection((host, int(port)), timeout=2) as tcp:
        tcp.sendall(struct.pack("!H", len(query)) + query)
        size = struct.unpack("!H", tcp.recv(2))[0]
        reply_tcp = tcp.recv(size)
    for transport, data in (("udp", reply), ("tcp", reply_tcp)):
        answers = struct.unpack("!H", data[6:8])[0]
        last = ".".join(map(str, data[-4:]))
        print(address, transport, "rcode", data[3] & 15, "answers", answers, "address", last)
"""


def test_runs_with_the_deployments_own_arguments(
    engine: Engine, image: str, deployment_container: dict[str, Any]
) -> None:
    """The Deployment's args, ports and sysctl, as its pod runs them: its own network
    namespace, the image's user, port 53 bound by the unprivileged-port sysctl alone."""
    pod = deployment_container["pod"]
    sysctls = [f"{s['name']}={s['value']}" for s in pod["securityContext"]["sysctls"]]
    args = [str(arg) for arg in deployment_container["args"]]
    options = ["--network", "none", "--read-only", "--cap-drop", "ALL"]
    options += ["--security-opt", "no-new-privileges"]
    for sysctl in [*sysctls, "net.ipv6.conf.all.disable_ipv6=0"]:
        options += ["--sysctl", sysctl]
    options += [
        "--volume",
        f"{CLUSTER_YAML}:{MANIFEST_IN_CONTAINER}:ro",
        "--env",
        "POD_IP=10.0.0.9",
    ]
    # In a pod the source is the API through its service account; here, the example dump.
    serve = [*args, "--manifests", MANIFEST_IN_CONTAINER, "--upstream", "none"]
    name = f"svcdns-deployment-{os.getpid()}"
    engine.run("run", "-d", "--name", name, *options, image, *serve)
    try:
        http = args[args.index("--http") + 1].replace("0.0.0.0", "127.0.0.1")
        listen = [args[i + 1] for i, arg in enumerate(args) if arg == "--listen"]
        dns_addresses = [
            address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "[::1]") for address in listen
        ]

        def probe() -> subprocess.CompletedProcess[str]:
            command = ["exec", name, "python3", "-c", PROBE, http, *dns_addresses]
            return engine.run(*command, check=False)

        result = poll(lambda: (r := probe()).returncode == 0 and r, timeout=DEADLINE, interval=0.2)
        logs = engine.run("logs", name, check=False)
        assert result, f"no answer inside the container:\n{logs.stdout}{logs.stderr}"
        lines = result.stdout.splitlines()
        assert lines[:2] == ["/health 200", "/ready 200"]
        expected = [
            f"{address} {transport} rcode 0 answers 1 address 10.96.100.10"
            for address in dns_addresses
            for transport in ("udp", "tcp")
        ]
        assert lines[2:] == expected
        assert engine.run("exec", name, "id", "-u").stdout.strip() == "65532"
    finally:
        engine.run("rm", "-f", name, check=False)
