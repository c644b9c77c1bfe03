"""svcdns against Knot DNS serving the same records, on the same machine, in the same run.

Knot DNS is a fast C authoritative server; given the zone `svcdns records` prints it
answers the same questions, so the ratio svcdns/Knot says what svcdns costs relative to a
well-engineered authoritative server whatever the machine. Knot runs one UDP, one TCP and
one background worker (one core's worth of answering, like one svcdns process).

What it does:

1. Installs `knot` and `dnsperf` with apt-get when `knotd` or `dnsperf` is missing (as root).
2. Generates the cluster and query files with bench/cluster.py into the workdir, unless
   they are already there (default workdir /tmp/svcdns-bench-<size>; the files are cached).
3. Starts `svcdns serve --manifests cluster.json` and times start to `/ready` = 200.
4. Splits `svcdns records` into zone files (cluster.local and one zone per reverse /8 or
   ip6.arpa /16, each with its own SOA and NS), starts `knotd` and times start to SOA
   answers of every zone.
5. Asks both servers a sample of each query file (dnspython, UDP as dnsperf sends it;
   TCP when truncated) and compares rcode, TC and the answer RRsets (order-insensitive,
   TTLs included); fails when more than 3% differ.
6. Warm-up: one unrecorded pass through each query file per server (svcdns caches
   answers as wire bytes; pods repeat their names, so the warm state is the one that
   counts). Then full load: `dnsperf -c 4 -q 100 -l SECONDS` per query file, interleaved
   svcdns, Knot, Knot, svcdns, `--rounds` times: queries/s, average latency, lost %.
7. Fixed rate: `dnsperf -Q RATE` with RATE = min(50,000/s, 60% of Knot's full-load hits
   rate) or `--rate`, on the hits file, with `-v` to get every query's latency (dnsperf
   2.10 has no percentile output; p99 comes from these per-query latencies): p99 and CPU
   time per answered query from /proc/PID/stat (utime + stime of the server and its children).
8. Prints a Markdown table (svcdns | Knot | svcdns/Knot) and writes results.json into
   the workdir; both servers are stopped by PID on the way out, also on error or Ctrl-C.

This machine's cores are shared by dnsperf and the server under test: with 2 cores,
dnsperf itself may be what limits Knot's full-load rate (then the qps ratio flatters
svcdns); the fixed-rate CPU time per answer is the figure that does not depend on it.

    python bench/knot.py [--size small|large] [--seconds 10] [--rounds 2] [--workdir DIR]
                         [--rate QPS] [--svcdns-arg=--workers=2 ...] [--regenerate]
    bench/knot.sh ...   # the same, with the project's venv
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import cluster  # bench/cluster.py, beside this file (as processes.py)
import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
from processes import CLOCK_TICKS, cpu_seconds, descendants, free_port

HERE = Path(__file__).resolve().parent

ZONE = "cluster.local"
MIXES = ("hits", "pod-mix")
SAMPLE = 300  # queries per file checked against both servers
MISMATCH_LIMIT = 0.03
MAX_RATE = 50_000


# --------------------------------------------------------------------------- processes


def peak_rss_mb(pid: int) -> float:
    """Sum of VmHWM over the process tree, in MB (10^6 bytes)."""
    total_kb = 0
    for each in descendants(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total_kb += int(line.split()[1])
    return total_kb * 1024 / 1e6


def system_busy_seconds() -> float:
    """CPU time all processes of the machine used so far (first line of /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


class OtherLoad:
    """How many cores processes other than ours (servers, dnsperf, this one) kept busy."""

    def __init__(self, server_pids: list[int]) -> None:
        self.pids = server_pids
        self.start = self.sample()

    def sample(self) -> tuple[float, float, float]:
        ours = os.times()
        mine = ours.user + ours.system + ours.children_user + ours.children_system
        mine += sum(cpu_seconds(pid, tree=True) for pid in self.pids)
        return time.monotonic(), system_busy_seconds(), mine

    def cores(self) -> float:
        now = self.sample()
        wall, busy, mine = (b - a for a, b in zip(self.start, now, strict=True))
        return max(0.0, (busy - mine) / wall)


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: TextIO
    ready_seconds: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}; see {self.log.name}"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log.close()


def start(
    name: str, command: list[str], port: int, log_path: Path, env: dict[str, str] | None = None
) -> Server:
    log = log_path.open("w")
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent, env=env
    )
    return Server(name, process, port, log)


def wait_until(server: Server, ready: Any, timeout: float, what: str) -> float:
    """Poll `ready()` every 20 ms; seconds from the process start until it was true."""
    started = time.monotonic()
    deadline = started + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        if ready():
            return time.monotonic() - started
        time.sleep(0.02)
    raise RuntimeError(f"{server.name}: {what} not within {timeout:.0f} s")


# --------------------------------------------------------------------------- setup


def ensure_tools() -> dict[str, str]:
    """Paths of knotd and dnsperf; apt-get installs them when missing."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])

    def find() -> dict[str, str | None]:
        return {tool: shutil.which(tool, path=search) for tool in ("knotd", "dnsperf")}

    tools = find()
    if None in tools.values():
        if os.geteuid() != 0:
            raise RuntimeError("knotd or dnsperf missing: apt-get install -y knot dnsperf")
        print("installing knot and dnsperf with apt-get ...", flush=True)
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "knot", "dnsperf"], check=True, env=env)
        tools = find()
    missing = [tool for tool, path in tools.items() if path is None]
    if missing:
        raise RuntimeError(f"still missing after apt-get: {', '.join(missing)}")
    return {tool: str(path) for tool, path in tools.items()}


def ensure_cluster(size: str, workdir: Path, regenerate: bool) -> None:
    needed = ("cluster.json", "hits.txt", "pod-mix.txt")
    stamp = workdir / "cluster-size.txt"  # what the cached files were generated as
    cached = stamp.exists() and stamp.read_text().strip() == size
    if cached and not regenerate and all((workdir / name).exists() for name in needed):
        print(f"cluster: reusing {workdir}", flush=True)
        return
    print(f"cluster: generating {size} into {workdir} ...", flush=True)
    summary = cluster.generate(size, workdir, yaml_too=False)
    stamp.write_text(f"{size}\n")
    print(f"cluster: {summary['objects']} in {summary['seconds']} s", flush=True)


def reverse_zone(owner: str) -> str | None:
    """The Knot zone of a reverse owner name: a.in-addr.arpa (a /8) or 4 nibbles (a /16)."""
    labels = owner.rstrip(".").split(".")
    if owner.endswith(".in-addr.arpa.") and len(labels) >= 3:
        return ".".join(labels[-3:])
    if owner.endswith(".ip6.arpa.") and len(labels) >= 6:
        return ".".join(labels[-6:])
    return None


def write_zones(records: str, directory: Path) -> dict[str, int]:
    """Split `svcdns records` output into one file per zone; returns records per zone."""
    directory.mkdir(parents=True, exist_ok=True)
    zones: dict[str, list[str]] = {ZONE: []}
    soa = ns = None
    skipped = 0
    for line in records.splitlines():
        if not line.strip() or line.startswith((";", "$")):
            continue
        owner, ttl, _class, rtype, rdata = line.split(None, 4)
        owner = owner.lower()
        if owner == f"{ZONE}." and rtype == "SOA":
            soa = (ttl, rdata)
        if owner == f"{ZONE}." and rtype == "NS":
            ns = (ttl, rdata)
        if owner == f"{ZONE}." or owner.endswith(f".{ZONE}."):
            zones[ZONE].append(line)
        elif zone := reverse_zone(owner):
            zones.setdefault(zone, []).append(line)
        else:
            skipped += 1
    if soa is None or ns is None:
        raise RuntimeError(f"svcdns records printed no SOA/NS for {ZONE}")
    if skipped:
        print(f"zones: {skipped} records outside {ZONE} and the reverse trees skipped")
    counts = {}
    for zone, lines in zones.items():
        if zone != ZONE:  # each reverse zone gets its own apex, like cluster.local's
            apex = [f"{zone}.\t{soa[0]}\tIN\tSOA\t{soa[1]}", f"{zone}.\t{ns[0]}\tIN\tNS\t{ns[1]}"]
            lines = apex + lines
        (directory / f"{zone}.zone").write_text("\n".join(lines) + "\n")
        counts[zone] = len(lines)
    return counts


KNOT_CONF = """\
server:
    rundir: "{run}"
    listen: 127.0.0.1@{port}
    udp-workers: {udp_workers}
    tcp-workers: 1
    background-workers: 1

control:
    listen: "{run}/knot.sock"

log:
  - target: stderr
    any: info

database:
    storage: "{run}/db"

template:
  - id: default
    storage: "{zones}"
    file: "%s.zone"
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off

zone:
{zone_list}
"""


def zones_of(manifests: Path, knot_dir: Path) -> dict[str, int]:
    """`svcdns records` of the manifests, written as Knot's zone files; records per zone."""
    records = subprocess.run(
        [sys.executable, "-m", "svcdns", "records", "--manifests", str(manifests)],
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE.parent,
        timeout=900,
    ).stdout
    return write_zones(records, knot_dir / "zones")


def write_knot_conf(directory: Path, zones: list[str], port: int, *, udp_workers: int = 1) -> Path:
    run = directory / "run"
    if run.exists():
        shutil.rmtree(run)
    (run / "db").mkdir(parents=True)
    text = KNOT_CONF.format(
        run=run,
        port=port,
        udp_workers=udp_workers,
        zones=directory / "zones",
        zone_list="\n".join(f"  - domain: {zone}" for zone in zones),
    )
    path = directory / "knot.conf"
    path.write_text(text)
    return path


def http_ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def soa_answers(port: int, zones: list[str]) -> bool:
    for zone in zones:
        query = dns.message.make_query(zone, "SOA")
        try:
            response = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
        except (dns.exception.Timeout, OSError):
            return False
        if response.rcode() != dns.rcode.NOERROR or not response.answer:
            return False
    return True


# --------------------------------------------------------------------------- checking


def ask(port: int, name: str, rtype: str) -> tuple[dns.message.Message, bool]:
    """The response (over TCP when UDP came back truncated) and whether UDP truncated."""
    query = dns.message.make_query(name, rtype)
    response = dns.query.udp(query, "127.0.0.1", port=port, timeout=2)
    truncated = bool(response.flags & dns.flags.TC)
    if truncated:
        response = dns.query.tcp(query, "127.0.0.1", port=port, timeout=5)
    return response, truncated


def answer_set(response: dns.message.Message) -> set[tuple[str, str, int, frozenset[str]]]:
    return {
        (
            rrset.name.to_text().lower(),
            dns.rdatatype.to_text(rrset.rdtype),
            rrset.ttl,
            frozenset(rdata.to_text().lower() for rdata in rrset),
        )
        for rrset in response.answer
    }


def describe(response: dns.message.Message, truncated: bool) -> str:
    rrs = sorted(f"{rr.to_text()}" for rrset in response.answer for rr in rrset)
    text = ", ".join(rrs[:3]) + (f" (+{len(rrs) - 3})" if len(rrs) > 3 else "")
    return f"{dns.rcode.to_text(response.rcode())}{' TC' if truncated else ''} [{text}]"


def compare(svcdns_port: int, knot_port: int, files: dict[str, Path]) -> dict[str, Any]:
    """Same rcode, TC and answers from both servers for a sample of each query file."""
    checked = mismatched = truncated = 0
    shown: list[str] = []
    rcodes: dict[str, int] = {}
    for mix, path in files.items():
        lines = path.read_text().splitlines()
        for line in random.Random(f"check-{mix}").sample(lines, min(SAMPLE, len(lines))):
            name, rtype = line.split()
            ours, our_tc = ask(svcdns_port, name, rtype)
            theirs, their_tc = ask(knot_port, name, rtype)
            checked += 1
            truncated += their_tc
            rcode = dns.rcode.to_text(theirs.rcode())
            rcodes[rcode] = rcodes.get(rcode, 0) + 1
            same = (
                ours.rcode() == theirs.rcode()
                and our_tc == their_tc
                and answer_set(ours) == answer_set(theirs)
            )
            if not same:
                mismatched += 1
                if len(shown) < 10:
                    shown.append(
                        f"  {mix}: {line}\n    svcdns {describe(ours, our_tc)}"
                        f"\n    knot   {describe(theirs, their_tc)}"
                    )
    print(
        f"check: {checked} queries, {mismatched} differ; Knot's rcodes {rcodes}, "
        f"{truncated} truncated over UDP (compared over TCP)"
    )
    for text in shown:
        print(text)
    return {
        "checked": checked,
        "mismatched": mismatched,
        "truncated": truncated,
        "knot_rcodes": rcodes,
    }


# --------------------------------------------------------------------------- dnsperf


@dataclass
class Perf:
    server: str
    mix: str
    sent: int
    completed: int
    lost_pct: float
    qps: float
    avg_latency_ms: float
    rcodes: dict[str, int]
    rate: int | None = None
    p99_latency_ms: float | None = None
    cpu_us_per_answer: float | None = None
    latencies_ms: list[float] = field(default_factory=list, repr=False)


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    if not match:
        raise RuntimeError(f"dnsperf output has no {pattern!r}:\n{text[-2000:]}")
    return float(match.group(1))


def dnsperf(
    tool: str,
    server: Server,
    mix: str,
    queries: Path,
    seconds: float,
    *,
    rate: int | None = None,
    verbose_to: Path | None = None,
    passes: int | None = None,
    extra: tuple[str, ...] = (),
) -> Perf:
    command = [tool, "-s", "127.0.0.1", "-p", str(server.port), "-d", str(queries)]
    command += ["-c", "4", "-q", "100", "-l", str(seconds), *extra]
    if rate is not None:
        command += ["-Q", str(rate)]
    if verbose_to is not None:
        command.append("-v")
    if passes is not None:
        command += ["-n", str(passes)]
    server.check_alive()
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(verbose_to.open("w+")) if verbose_to else subprocess.PIPE
        done = subprocess.run(
            command, stdout=out, stderr=subprocess.PIPE, text=True, timeout=seconds + 60
        )
        text = verbose_to.read_text() if verbose_to is not None else done.stdout
    if done.returncode != 0:
        raise RuntimeError(f"dnsperf failed ({done.returncode}): {done.stderr[-1000:]}")
    stats = text[text.rfind("Statistics:") :]
    codes = re.search(r"Response codes:\s+(.*)", stats)
    rcodes = {
        code: int(count)
        for code, count in re.findall(r"([A-Z]+) (\d+) \(", codes.group(1) if codes else "")
    }
    perf = Perf(
        server=server.name,
        mix=mix,
        sent=int(number(r"Queries sent:\s+(\d+)", stats)),
        completed=int(number(r"Queries completed:\s+(\d+)", stats)),
        lost_pct=number(r"Queries lost:\s+\d+ \(([\d.]+)%\)", stats),
        qps=number(r"Queries per second:\s+([\d.]+)", stats),
        avg_latency_ms=number(r"Average Latency \(s\):\s+([\d.]+)", stats) * 1000,
        rcodes=rcodes,
        rate=rate,
    )
    if verbose_to is not None:
        perf.latencies_ms = [
            float(line.rsplit(None, 1)[1]) * 1000
            for line in text[: text.rfind("Statistics:")].splitlines()
            if line.startswith("> ") and re.search(r" \d+\.\d+$", line)
        ]
        if perf.latencies_ms:
            perf.p99_latency_ms = percentile(perf.latencies_ms, 0.99)
        verbose_to.unlink()  # hundreds of MB at high rates; the figures are kept
    return perf


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def fixed_rate(
    tool: str, server: Server, queries: Path, seconds: float, rate: int, scratch: Path
) -> Perf:
    before = cpu_seconds(server.pid, tree=True)
    perf = dnsperf(tool, server, "hits", queries, seconds, rate=rate, verbose_to=scratch)
    used = cpu_seconds(server.pid, tree=True) - before
    perf.cpu_us_per_answer = used / max(perf.completed, 1) * 1e6
    return perf


# --------------------------------------------------------------------------- report


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def summarize(full: list[Perf], rated: dict[str, Perf], servers: dict[str, Server]) -> list[Any]:
    """Rows of (figure, svcdns value, knot value, format)."""

    def over(server: str, mix: str, attribute: str) -> float:
        return mean([getattr(p, attribute) for p in full if p.server == server and p.mix == mix])

    rows: list[Any] = []
    for mix in MIXES:
        rows.append((f"queries/s, {mix}, full load", *(over(s, mix, "qps") for s in servers), 0))
    for mix in MIXES:
        rows.append(
            (
                f"avg latency ms, {mix}, full load",
                *(over(s, mix, "avg_latency_ms") for s in servers),
                2,
            )
        )
    for mix in MIXES:
        rows.append((f"lost %, {mix}, full load", *(over(s, mix, "lost_pct") for s in servers), 2))
    rate = next(iter(rated.values())).rate
    rows += [
        (f"answered/s at fixed rate {rate}/s", *(rated[s].qps for s in servers), 0),
        (
            "avg latency ms, fixed rate",
            *(rated[s].avg_latency_ms for s in servers),
            3,
        ),
        ("p99 latency ms, fixed rate", *(rated[s].p99_latency_ms or 0.0 for s in servers), 3),
        ("lost %, fixed rate", *(rated[s].lost_pct for s in servers), 2),
        ("CPU µs per answer, fixed rate", *(rated[s].cpu_us_per_answer or 0.0 for s in servers), 1),
        ("peak RSS MB", *(peak_rss_mb(servers[s].pid) for s in servers), 1),
        ("time to ready s", *(servers[s].ready_seconds for s in servers), 3),
    ]
    return rows


def table(rows: list[Any]) -> str:
    lines = ["| figure | svcdns | Knot | svcdns/Knot |", "| --- | ---: | ---: | ---: |"]
    for figure, ours, theirs, digits in rows:
        ratio = f"{ours / theirs:.2f}" if theirs else "n/a"
        lines.append(f"| {figure} | {ours:,.{digits}f} | {theirs:,.{digits}f} | {ratio} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(cluster.SIZES), default="large")
    parser.add_argument("--seconds", type=float, default=10.0, help="per dnsperf run")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, help="default /tmp/svcdns-bench-<size>")
    parser.add_argument(
        "--rate", type=int, help="fixed rate, queries/s (default: min(50000, 60%% of Knot's))"
    )
    parser.add_argument("--regenerate", action="store_true", help="rewrite the cluster files")
    parser.add_argument(
        "--no-warmup", action="store_true", help="skip the unrecorded pass through each file"
    )
    parser.add_argument(
        "--knot-workers", type=int, default=1, help="Knot's UDP workers (with --workers=N)"
    )
    parser.add_argument(
        "--svcdns-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `svcdns serve`, repeatable (--svcdns-arg=--workers=2)",
    )
    args = parser.parse_args(argv)
    args.workdir = (args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")).resolve()
    return args


def run(args: argparse.Namespace, servers: dict[str, Server]) -> dict[str, Any]:
    tools = ensure_tools()
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_cluster(args.size, workdir, args.regenerate)
    manifests = workdir / "cluster.json"
    files = {mix: workdir / f"{mix}.txt" for mix in MIXES}

    print("svcdns records ...", flush=True)
    started = time.monotonic()
    knot_dir = workdir / "knot"
    counts = zones_of(manifests, knot_dir)
    print(f"zones: {counts} ({time.monotonic() - started:.1f} s)", flush=True)

    port, http_port = free_port(), free_port()
    command = [sys.executable, "-m", "svcdns", "serve", "--manifests", str(manifests)]
    command += ["--listen", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http_port}"]
    # Default flags: dnsperf asks from one address, as any benchmark, and must get the
    # full rate (no per-client cap; fairness only under overload).
    command += ["--upstream", "none", *args.svcdns_arg]
    servers["svcdns"] = svcdns = start("svcdns", command, port, workdir / "svcdns.log")
    svcdns.ready_seconds = wait_until(svcdns, lambda: http_ready(http_port), 900, "/ready 200")
    print(f"svcdns: ready in {svcdns.ready_seconds:.2f} s on port {port}", flush=True)

    port = free_port()
    conf = write_knot_conf(knot_dir, list(counts), port, udp_workers=args.knot_workers)
    servers["knot"] = knot = start(
        "knot", [tools["knotd"], "-c", str(conf)], port, workdir / "knot.log"
    )
    knot.ready_seconds = wait_until(knot, lambda: soa_answers(port, list(counts)), 300, "SOA")
    print(f"knot: ready in {knot.ready_seconds:.2f} s on port {port}", flush=True)

    check = compare(svcdns.port, knot.port, files)
    if check["mismatched"] > MISMATCH_LIMIT * check["checked"]:
        raise RuntimeError(f"{check['mismatched']} of {check['checked']} answers differ")

    others = OtherLoad([svcdns.pid, knot.pid])
    if not args.no_warmup:  # svcdns caches wire answers: measure it warm, as pods see it
        for mix, path in files.items():
            for name in ("svcdns", "knot"):
                perf = dnsperf(tools["dnsperf"], servers[name], mix, path, 120, passes=1)
                print(f"warm-up {mix:<7} {name:<6} {perf.completed} queries", flush=True)
    full: list[Perf] = []
    for round_number in range(1, args.rounds + 1):
        for mix, path in files.items():
            for name in ("svcdns", "knot", "knot", "svcdns"):
                perf = dnsperf(tools["dnsperf"], servers[name], mix, path, args.seconds)
                full.append(perf)
                print(
                    f"round {round_number} {mix:<7} {name:<6} {perf.qps:9.0f} q/s "
                    f"avg {perf.avg_latency_ms:6.2f} ms lost {perf.lost_pct:5.2f}% {perf.rcodes}",
                    flush=True,
                )
    knot_hits = mean([p.qps for p in full if p.server == "knot" and p.mix == "hits"])
    rate = args.rate or int(min(MAX_RATE, 0.6 * knot_hits))
    rated: dict[str, Perf] = {}
    for name in ("svcdns", "knot"):
        rated[name] = perf = fixed_rate(
            tools["dnsperf"], servers[name], files["hits"], args.seconds, rate,
            workdir / f"dnsperf-{name}.verbose",
        )  # fmt: skip
        print(
            f"fixed {rate}/s {name:<6} answered {perf.qps:9.0f} q/s avg "
            f"{perf.avg_latency_ms:.3f} ms p99 {perf.p99_latency_ms or 0:.3f} ms "
            f"lost {perf.lost_pct:.2f}% CPU {perf.cpu_us_per_answer:.1f} µs/answer",
            flush=True,
        )

    rows = summarize(full, rated, {name: servers[name] for name in ("svcdns", "knot")})
    other_cores = others.cores()
    print()
    print(table(rows))
    if other_cores > 0.1:
        print(
            f"\nwarning: other processes used {other_cores:.2f} of {os.cpu_count()} cores "
            "during the runs; the figures are noisy"
        )
    for name, perf in rated.items():
        if perf.qps < 0.95 * rate:
            print(
                f"\n{name} could not keep up with {rate}/s (answered {perf.qps:.0f}/s): its "
                "fixed-rate figures are at saturation, latency is queueing behind -q 100."
            )
    return {
        "size": args.size,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "svcdns_args": args.svcdns_arg,
        "knot_udp_workers": args.knot_workers,
        "zones": counts,
        "check": check,
        "fixed_rate": rate,
        "table": {row[0]: {"svcdns": row[1], "knot": row[2]} for row in rows},
        "full_load_runs": [strip(p) for p in full],
        "fixed_rate_runs": [strip(p) for p in rated.values()],
        "versions": versions(tools),
        "cpus": os.cpu_count(),
        "other_processes_cores": round(other_cores, 3),
    }


def strip(perf: Perf) -> dict[str, Any]:
    data = dict(perf.__dict__)
    data.pop("latencies_ms")
    return data


def versions(tools: dict[str, str]) -> dict[str, str]:
    def output(command: list[str]) -> str:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        return done.stdout + done.stderr

    dnsperf_version = re.search(r"Version (\S+)", output([tools["dnsperf"], "-h"]))
    git = ["git", "-C", str(HERE.parent)]
    commit = output([*git, "rev-parse", "--short", "HEAD"]).strip()
    dirty = output([*git, "status", "--porcelain", "--untracked-files=no", "--", "svcdns"])
    return {
        "svcdns": commit + (" + uncommitted changes" if dirty.strip() else ""),
        "knotd": output([tools["knotd"], "-V"]).strip(),
        "dnsperf": dnsperf_version.group(1) if dnsperf_version else "?",
        "python": sys.version.split()[0],
    }


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so the servers are stopped."""

    def handler(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers: dict[str, Server] = {}
    try:
        with sigterm_as_exit():
            results = run(args, servers)
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"knot.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("knot.py: interrupted; servers stopped", file=sys.stderr)
        return 130
    finally:
        for server in servers.values():
            server.stop()
    path = args.workdir / "results.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
