"""The README's "Try it on the example cluster" commands, run as written with `dig`.

The server is started with README's `svcdns serve` line from the repository root; only the
port 5353 is replaced by a free one (CI may have 5353 taken). Without `dig` on PATH the
tests are skipped, except under CI, where that is a failure.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import REPO, ServerProcess, free_port

README = REPO / "README.md"
README_PORT = "5353"
SERVE = "svcdns serve --manifests examples/cluster.yaml --listen 127.0.0.1:5353 --upstream none"
DIG_WEB = "dig @127.0.0.1 -p 5353 web.shop.svc.cluster.local"
DIG_SRV = "dig @127.0.0.1 -p 5353 _http._tcp.web.shop.svc.cluster.local SRV"
DIG_PTR = "dig @127.0.0.1 -p 5353 -x 10.96.100.10"
DIG_TCP = "dig @127.0.0.1 -p 5353 +tcp db-peers.shop.svc.cluster.local"

WEB_A = "web.shop.svc.cluster.local. 5 IN A 10.96.100.10"
# What each README example must answer (whitespace-normalised dig answer lines).
EXPECTED_ANSWERS = {
    "web.shop.svc.cluster.local": [WEB_A],
    "_http._tcp.web.shop.svc.cluster.local": [
        "_http._tcp.web.shop.svc.cluster.local. 5 IN SRV 0 100 80 web.shop.svc.cluster.local."
    ],
    "db.shop.svc.cluster.local": [
        "db.shop.svc.cluster.local. 5 IN A 10.244.2.10",
        "db.shop.svc.cluster.local. 5 IN A 10.244.2.11",
    ],
    "db-0.db.shop.svc.cluster.local": ["db-0.db.shop.svc.cluster.local. 5 IN A 10.244.2.10"],
    "ext.shop.svc.cluster.local": ["ext.shop.svc.cluster.local. 5 IN CNAME www.example.com."],
    "10.96.100.10": ["10.100.96.10.in-addr.arpa. 5 IN PTR web.shop.svc.cluster.local."],
    "10-244-1-10.shop.pod.cluster.local": [
        "10-244-1-10.shop.pod.cluster.local. 5 IN A 10.244.1.10"
    ],
    "db-peers.shop.svc.cluster.local": [
        "db-peers.shop.svc.cluster.local. 5 IN A 10.244.2.10",
        "db-peers.shop.svc.cluster.local. 5 IN A 10.244.2.11",
        "db-peers.shop.svc.cluster.local. 5 IN A 10.244.2.12",
    ],
}


def readme_commands() -> list[str]:
    """The commands of README's code block that starts the example server, comments cut."""
    if not README.exists():
        return []
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", README.read_text(encoding="utf-8"), re.M | re.S)
    for block in blocks:
        if SERVE in block:
            lines = (line.split("#", 1)[0].strip() for line in block.splitlines())
            return [line for line in lines if line]
    return []


README_DIGS = [c for c in readme_commands() if c.startswith("dig ")]


def svcdns_command() -> list[str]:
    """`svcdns` as README runs it: the console script of this Python, else `-m svcdns`."""
    script = Path(sys.executable).with_name("svcdns")
    if script.exists():
        return [str(script)]
    found = shutil.which("svcdns")
    return [found] if found else [sys.executable, "-m", "svcdns"]


@pytest.fixture(scope="module")
def dig() -> str:
    path = shutil.which("dig")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("dig is not on PATH (install bind9-dnsutils); required under CI")
        pytest.skip("dig is not on PATH (install bind9-dnsutils); CI is not set")
    return path


@pytest.fixture(scope="module")
def readme_server() -> Iterator[tuple[ServerProcess, str]]:
    """README's serve command on a free port instead of 5353, run from the repo root."""
    assert SERVE in readme_commands(), "README no longer shows the example serve command"
    for _ in range(3):
        port = str(free_port())
        args = shlex.split(SERVE.replace(f":{README_PORT}", f":{port}"))
        server = ServerProcess([*svcdns_command(), *args[1:]], cwd=REPO)
        first = server.wait_for_line(lambda line: "(udp+tcp)" in line or "svcdns:" in line, 10)
        if first is not None and "cannot listen on" in first:
            server.stop()
            continue  # someone took the port in between: try another
        try:
            server.wait_ready()
            assert server.port == int(port)
            yield server, port
        finally:
            server.stop()
        return
    pytest.fail("could not start the README server on a free port")


def run_dig(dig: str, command: str, port: str) -> str:
    args = shlex.split(command.replace(f"-p {README_PORT}", f"-p {port}"))
    assert args[0] == "dig"
    result = subprocess.run(
        [dig, *args[1:]], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stderr}"
    return result.stdout


def answer_lines(output: str) -> list[str]:
    """The ANSWER SECTION of dig's output, whitespace-normalised."""
    section = re.search(r";; ANSWER SECTION:\n(.*?)(?:\n\n|\Z)", output, re.S)
    if section is None:
        return []
    return [" ".join(line.split()) for line in section.group(1).splitlines() if line.strip()]


def assert_noerror_authoritative(output: str) -> None:
    assert "status: NOERROR" in output, output
    assert re.search(r"flags: qr aa[ ;]", output), output


def test_readme_shows_the_tested_commands() -> None:
    commands = readme_commands()
    assert commands, "README.md has no code block with the example serve command"
    for command in (SERVE, DIG_WEB, DIG_SRV, DIG_PTR, DIG_TCP):
        assert command in commands, f"README no longer shows: {command}"


def test_dig_web_a(dig: str, readme_server: tuple[ServerProcess, str]) -> None:
    output = run_dig(dig, DIG_WEB, readme_server[1])
    assert_noerror_authoritative(output)
    assert answer_lines(output) == [WEB_A]


def test_dig_web_srv(dig: str, readme_server: tuple[ServerProcess, str]) -> None:
    output = run_dig(dig, DIG_SRV, readme_server[1])
    assert_noerror_authoritative(output)
    assert answer_lines(output) == EXPECTED_ANSWERS["_http._tcp.web.shop.svc.cluster.local"]
    assert "0 100 80 web.shop.svc.cluster.local." in output
    additional = re.search(r";; ADDITIONAL SECTION:\n(.*?)(?:\n\n|\Z)", output, re.S)
    assert additional is not None and "10.96.100.10" in additional.group(1), output


def test_dig_short_reverse(dig: str, readme_server: tuple[ServerProcess, str]) -> None:
    output = run_dig(dig, "dig @127.0.0.1 -p 5353 +short -x 10.96.100.10", readme_server[1])
    assert output.split() == ["web.shop.svc.cluster.local."]


def test_dig_over_tcp(dig: str, readme_server: tuple[ServerProcess, str]) -> None:
    server, port = readme_server
    output = run_dig(dig, DIG_TCP, port)
    assert_noerror_authoritative(output)
    assert "(TCP)" in output and f"#{port}" in output, output
    assert answer_lines(output) == EXPECTED_ANSWERS["db-peers.shop.svc.cluster.local"]
    assert server.proc.poll() is None


@pytest.mark.parametrize("command", README_DIGS or ["(README has no dig examples)"])
def test_every_readme_dig_example(
    dig: str, readme_server: tuple[ServerProcess, str], command: str
) -> None:
    assert command.startswith("dig "), "README lists no dig commands next to the serve command"
    output = run_dig(dig, command, readme_server[1])
    assert_noerror_authoritative(output)
    words = command.split()
    # The name is the last word, or the one before a type (`NAME SRV`).
    expected = EXPECTED_ANSWERS.get(words[-1], EXPECTED_ANSWERS.get(words[-2]))
    answers = answer_lines(output)
    assert answers, output
    if expected is not None:
        assert sorted(answers) == sorted(expected), f"{command}:\n{output}"
