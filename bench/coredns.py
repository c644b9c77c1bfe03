"""svcdns, CoreDNS and Knot DNS on one cluster, N runs: ready, memory, q/s, CPU, p99.

    python bench/coredns.py --coredns /tmp/coredns/coredns [--size large] [--runs 3]
        [--seconds 10] [--rounds 2] [--rate 20000 --rate 50000] [--no-knot]
        [--svcdns-workers N] [--knot-workers N] [--workdir DIR] [--out JSON]
        [--svcdns-root DIR]

1. The cluster files of bench/knot.py (cluster.json, hits.txt, pod-mix.txt in
   /tmp/svcdns-bench-<size>, generated only when missing) are served over the Kubernetes
   API by bench/churn_api.py `api --tls` in a process of its own (propagation.py's
   ApiProcess; HTTPS because client-go sends the kubeconfig's token over TLS only).
   A tiny upstream (coredns_compare.Upstream) answers what svcdns or CoreDNS forwards
   (reverse names outside the cluster; Knot needs none: the query files ask only names
   in its zones).
2. Knot DNS (`--knot`, on when knotd is found) loads zone files, not the API: they are
   made once, before the runs, from the same cluster.json by knot.zones_of (`svcdns
   records` split into cluster.local and the reverse zones, as bench/knot.py does), so
   Knot answers the same records; its time to ready is from exec to SOA answers of every
   zone (reading local zone files, which is not the same work as listing from an API).
   Knot runs knot.py's configuration: 1 UDP worker (`--knot-workers N`), 1 TCP, 1
   background worker.
3. A run: one server at a time, against that API: svcdns (`serve --kubeconfig`,
   per-client limit off, the same upstream; `--svcdns-workers N` passes `--workers N`),
   CoreDNS with `GOMAXPROCS=1`, CoreDNS with every core, then Knot. CoreDNS runs
   kubeadm's Corefile (coredns_compare.corefile: kubernetes with `pods insecure`,
   fallthrough for the reverse zones, `ttl 30`; prometheus, forward, `cache 30`,
   loadbalance) on loopback. `--runs N` (default 3) repeats the whole sequence, so a
   disturbance of the machine hits one run of every server rather than one server.
4. Ready (svcdns, CoreDNS): from exec to the right A answer for an endpoint's name (it
   needs both the Services and the EndpointSlices listed), asked with dnspython every
   20 ms. Knot, once ready, must give that same right answer too (same cluster).
5. Warm-up (one unrecorded pass through each query file), then full load: dnsperf
   `-c 4 -q 100 -l SECONDS` per file, `--rounds` times (their mean is the run's figure):
   answers/s, and CPU µs per answer (utime + stime of the server's process tree, /proc).
   Then each fixed rate (`-Q RATE`, hits file; default 20,000/s, which every server
   keeps up with, and 50,000/s, the issue's figure, which CoreDNS cannot): CPU µs per
   answer, p99 and lost %. A server that answered under 95% of a rate is saturated
   there: its CPU and p99 at that rate are queueing behind `-q 100`, not the rate, and
   the table says "saturated" instead of a figure. Peak RSS is VmHWM at the end.
6. One Markdown table (svcdns | CoreDNS 1 core | CoreDNS all cores | Knot | svcdns/Knot):
   each cell is the median over runs and, when runs differ, their range (min-max); the
   ratio is of the medians. coredns-results.json in the workdir (or `--out`) has every
   run's raw figures (rewritten after each server, so an interrupted run keeps what it
   measured). The servers' logs are coredns-bench-<server>.log in the workdir (names
   bench/knot.py does not use, so the two can share it). Every process started here is
   stopped by its PID, also on error, Ctrl-C or SIGTERM; all traffic is on 127.0.0.1.
   Not part of the pytest suite (CI has no CoreDNS).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import knot  # bench/knot.py, beside this file: dnsperf, fixed_rate, Server, zones_of, ...
from coredns_compare import Upstream, corefile
from processes import cpu_seconds, free_port
from propagation import API_LOAD_TIMEOUT, ApiProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
READY_TIMEOUT = 300.0
NAMES = {
    "svcdns": "svcdns",
    "coredns-1": "CoreDNS 1 core",
    "coredns-all": "CoreDNS all cores",
    "knot": "Knot",
}
RATES = (20_000, 50_000)
KEPT_UP = 0.95  # answered/s over the asked rate under which a server is saturated
SBIN = ("/usr/sbin", "/sbin")  # knotd lives there on Debian, often outside a user's PATH


def known_name(queries: Path) -> tuple[str, str]:
    """An endpoint's name from churn_api's query file and its address: answered once the
    server has both Services and EndpointSlices."""
    for line in queries.read_text(encoding="ascii").splitlines():
        name = line.split()[0]
        labels = name.split(".")
        if len(labels) == 6 and labels[0].count("-") == 3:  # a-b-c-d.svc.ns.svc.cluster.local
            return name, labels[0].replace("-", ".")
    raise RuntimeError(f"no endpoint name in {queries}")


def answers(port: int, name: str, address: str) -> bool:
    try:
        query = dns.message.make_query(name, "A")
        reply = dns.query.udp(query, "127.0.0.1", port=port, timeout=0.2)
    except (dns.exception.Timeout, OSError):
        return False
    return any(rd.to_text() == address for rrset in reply.answer for rd in rrset)


def launch(
    name: str, argv: list[str], port: int, log: Path, cwd: Path, env: dict[str, str]
) -> tuple[knot.Server, float]:
    """The server, and the monotonic time just before its exec."""
    out = log.open("w")
    started = time.monotonic()
    try:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    except OSError:
        out.close()
        raise
    return knot.Server(name, process, port, out), started


def wait_ready(server: knot.Server, started: float, ready: Callable[[], bool], what: str) -> float:
    """Seconds from `started` (the exec) to `ready()`, asked every 20 ms."""
    while time.monotonic() < started + READY_TIMEOUT:
        server.check_alive()
        if ready():
            return time.monotonic() - started
        time.sleep(0.02)
    raise RuntimeError(f"{server.name}: no {what} in {READY_TIMEOUT:.0f} s")


def measure(
    args: argparse.Namespace,
    folder: Path,
    server: knot.Server,
    files: dict[str, Path],
    dnsperf: str,
    other_pids: list[int],
) -> dict[str, Any]:
    """One server's figures, from ready on (server.ready_seconds is set)."""
    others = knot.OtherLoad([server.pid, *other_pids])
    result: dict[str, Any] = {"ready_seconds": round(server.ready_seconds, 3)}
    for mix, path in files.items():
        knot.dnsperf(dnsperf, server, mix, path, 120, passes=1)  # warm-up
    for mix, path in files.items():
        rounds = []
        for _ in range(args.rounds):
            before = cpu_seconds(server.pid, tree=True)
            perf = knot.dnsperf(dnsperf, server, mix, path, args.seconds)
            cpu = cpu_seconds(server.pid, tree=True) - before
            rounds.append(
                {
                    "qps": perf.qps,
                    "lost_pct": perf.lost_pct,
                    "rcodes": perf.rcodes,
                    "cpu_us": cpu / max(perf.completed, 1) * 1e6,
                }
            )
            print(
                f"  {server.name}: {mix:<7} {perf.qps:8.0f} q/s, lost {perf.lost_pct:.2f}%, "
                f"{rounds[-1]['cpu_us']:.1f} µs CPU/answer, {perf.rcodes}",
                flush=True,
            )
        result[mix] = rounds
    result["fixed"] = []
    for rate in args.rate:
        scratch = folder / f"dnsperf-{server.name}.verbose"  # per invocation: not knot.py's
        perf = knot.fixed_rate(dnsperf, server, files["hits"], args.seconds, rate, scratch)
        saturated = perf.qps < KEPT_UP * rate
        result["fixed"].append(
            {
                "rate": rate,
                "answered_qps": perf.qps,
                "saturated": saturated,
                "lost_pct": perf.lost_pct,
                "p99_ms": perf.p99_latency_ms,
                "avg_ms": perf.avg_latency_ms,
                "cpu_us": perf.cpu_us_per_answer,
            }
        )
        print(
            f"  {server.name}: at {rate}/s answered {perf.qps:.0f}/s"
            f"{' (saturated)' if saturated else ''}, {perf.cpu_us_per_answer:.1f} µs CPU/answer, "
            f"p99 {perf.p99_latency_ms or 0:.2f} ms, lost {perf.lost_pct:.2f}%",
            flush=True,
        )
    result["peak_rss_mb"] = round(knot.peak_rss_mb(server.pid), 1)
    # Cores other processes of the machine kept busy meanwhile (kernel time for loopback
    # traffic that no process is charged for counts too): the "quiet machine" check.
    result["other_cores"] = round(others.cores(), 3)
    return result


# --------------------------------------------------------------------------- report


def fixed(result: dict[str, Any], rate: int) -> dict[str, Any]:
    return next(f for f in result["fixed"] if f["rate"] == rate)


def rounds_mean(result: dict[str, Any], mix: str, key: str) -> float:
    return statistics.fmean(x[key] for x in result[mix])


def cell(values: list[float], digits: int) -> tuple[str, float | None]:
    """The median, with "(min-max)" after it unless the runs agree at this precision; and
    the median, for the ratio column."""
    if not values:
        return "—", None
    middle = statistics.median(values)
    low, high = (f"{v:,.{digits}f}" for v in (min(values), max(values)))
    text = f"{middle:,.{digits}f}"
    return (text if low == high else f"{text} ({low}-{high})"), middle


def rated_cell(
    results: list[dict[str, Any]], rate: int, key: str, digits: int
) -> tuple[str, float | None]:
    """A figure at a fixed rate over the runs that kept up with it; "saturated" when none
    did, since then it measures queueing, not the rate."""
    kept = [fixed(r, rate) for r in results if not fixed(r, rate)["saturated"]]
    if not kept:
        most = max(fixed(r, rate)["answered_qps"] for r in results)
        return f"— saturated (≤{most:,.0f}/s)", None
    text, middle = cell([f[key] or 0.0 for f in kept], digits)
    if len(kept) < len(results):
        text += f" ({len(results) - len(kept)}/{len(results)} runs saturated)"
    return text, middle


Figure = Callable[[list[dict[str, Any]]], tuple[str, float | None]]


def per_run(value: Callable[[dict[str, Any]], float], digits: int) -> Figure:
    return lambda results: cell([value(r) for r in results], digits)


def at_rate(rate: int, key: str, digits: int) -> Figure:
    return lambda results: rated_cell(results, rate, key, digits)


def lost_at(rate: int) -> Figure:  # shown saturated or not: how much a server dropped
    return per_run(lambda r: fixed(r, rate)["lost_pct"], 2)


def figures(rates: list[int]) -> list[tuple[str, Figure]]:
    """(row title, the cell of a server's results over the runs)."""
    rows = [
        ("time to ready s (exec to a right answer)", per_run(lambda r: r["ready_seconds"], 2)),
        ("q/s, `hits`, full load", per_run(lambda r: rounds_mean(r, "hits", "qps"), 0)),
        ("q/s, `pod-mix`, full load", per_run(lambda r: rounds_mean(r, "pod-mix", "qps"), 0)),
        (
            "CPU µs per answer, full load (hits)",
            per_run(lambda r: rounds_mean(r, "hits", "cpu_us"), 1),
        ),
    ]
    for rate in rates:
        rows.append((f"CPU µs per answer at {rate:,} q/s", at_rate(rate, "cpu_us", 1)))
        rows.append((f"p99 ms at {rate:,} q/s", at_rate(rate, "p99_ms", 2)))
    rows += [(f"lost % at {rate:,} q/s", lost_at(rate)) for rate in rates]
    rows.append(("peak RSS MB (VmHWM)", per_run(lambda r: r["peak_rss_mb"], 0)))
    return rows


def by_server(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each server's results over the runs that measured it, in NAMES' order."""
    servers: dict[str, list[dict[str, Any]]] = {}
    for key in NAMES:
        measured = [run["results"][key] for run in runs if key in run["results"]]
        if measured:
            servers[key] = measured
    return servers


def table(runs: list[dict[str, Any]], rates: list[int]) -> str:
    servers = by_server(runs)
    ratio = "svcdns" in servers and "knot" in servers
    head = [NAMES[key] for key in servers] + (["svcdns/Knot"] if ratio else [])
    lines = ["| figure | " + " | ".join(head) + " |", "| --- |" + " ---: |" * len(head)]
    for title, figure in figures(rates):
        cells = {key: figure(results) for key, results in servers.items()}
        row = [text for text, _ in cells.values()]
        if ratio:
            ours, theirs = cells["svcdns"][1], cells["knot"][1]
            row.append(f"{ours / theirs:.2f}" if ours is not None and theirs else "n/a")
        lines.append(f"| {title} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def summary(runs: list[dict[str, Any]], rates: list[int]) -> dict[str, dict[str, str]]:
    """The table's cells as JSON: figure -> server -> cell text."""
    servers = by_server(runs)
    return {
        title: {NAMES[key]: figure(results)[0] for key, results in servers.items()}
        for title, figure in figures(rates)
    }


# --------------------------------------------------------------------------- setup


def output(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.stdout + done.stderr


def versions(coredns: Path, knotd: str | None, dnsperf: str) -> dict[str, str]:
    git = ["git", "-C", str(REPO)]
    commit = output([*git, "rev-parse", "--short", "HEAD"]).strip()
    dirty = output([*git, "status", "--porcelain", "--untracked-files=no", "--", "svcdns"])
    found = {
        "svcdns": commit + (" + uncommitted changes" if dirty.strip() else ""),
        "coredns": output([str(coredns), "-version"]).split("\n")[0],
        "dnsperf": next((w for w in output([dnsperf, "-h"]).split() if w[:1].isdigit()), "?"),
        "python": sys.version.split()[0],
    }
    if knotd is not None:
        found["knotd"] = output([knotd, "-V"]).strip()
    return found


def find_tools(want_knot: bool | None) -> tuple[str, str | None]:
    """dnsperf, and knotd when Knot is measured (--knot: found or installed; default: if
    found). knot.ensure_tools installs both with apt-get when root."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    dnsperf, knotd = shutil.which("dnsperf", path=search), shutil.which("knotd", path=search)
    if dnsperf is None or (want_knot and knotd is None):
        installed = knot.ensure_tools()
        dnsperf, knotd = installed["dnsperf"], installed["knotd"]
    if want_knot is False:
        knotd = None
    return dnsperf, knotd


def start_server(
    key: str,
    args: argparse.Namespace,
    folder: Path,
    api: ApiProcess,
    probe: tuple[str, str],
    upstream: Upstream,
    knotd: str | None,
    zones: list[str],
    env: dict[str, str],
) -> tuple[knot.Server, float, Callable[[], bool], str]:
    """The server started, its exec time, its ready check and what that checks."""
    port = free_port()
    log = args.workdir / f"coredns-bench-{key}.log"  # not knot.py's svcdns.log, knot.log
    if key == "svcdns":
        argv = [
            sys.executable,
            "-m",
            "svcdns",
            "serve",
            "--kubeconfig",
            str(api.kubeconfig),
            "--listen",
            f"127.0.0.1:{port}",
            "--http",
            f"127.0.0.1:{free_port()}",
            "--upstream",
            f"127.0.0.1:{upstream.port}",
            "--max-qps-per-client",
            "0",
        ]
        if args.svcdns_workers is not None:
            argv += ["--workers", str(args.svcdns_workers)]
        server, started = launch(key, argv, port, log, args.svcdns_root, env)
    elif key == "knot":
        assert knotd is not None
        # A fresh rundir and database each run (write_knot_conf empties them): nothing
        # of the previous run's Knot is reused, as nothing is for the other servers.
        conf = knot.write_knot_conf(folder / "knot", zones, port, udp_workers=args.knot_workers)
        server, started = launch(key, [knotd, "-c", str(conf)], port, log, folder, env)
        return server, started, lambda: knot.soa_answers(port, zones), "SOA answers"
    else:
        conf = folder / f"Corefile-{key}"
        conf.write_text(
            corefile(
                port=port,
                ready=free_port(),
                kubeconfig=api.kubeconfig,
                upstream=upstream.port,
                cache=30,
                metrics=free_port(),
            )
        )
        cores = {"GOMAXPROCS": "1"} if key == "coredns-1" else {}
        server, started = launch(
            key, [str(args.coredns), "-conf", str(conf)], port, log, folder, env | cores
        )
    return server, started, lambda: answers(port, *probe), f"right answer for {probe[0]}"


def run(
    args: argparse.Namespace,
    folder: Path,
    servers: list[knot.Server],
    report: dict[str, Any],
    save: Callable[[], None],
) -> None:
    dnsperf, knotd = find_tools(args.knot)
    keys = [key for key in NAMES if key != "knot" or knotd is not None]
    args.workdir.mkdir(parents=True, exist_ok=True)
    knot.ensure_cluster(args.size, args.workdir, regenerate=False)
    files = {mix: args.workdir / f"{mix}.txt" for mix in knot.MIXES}
    report.update(
        {
            "size": args.size,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "rates": args.rate,
            "svcdns_workers": args.svcdns_workers,
            "knot_udp_workers": args.knot_workers,
            "versions": versions(args.coredns, knotd, dnsperf),
            "cpus": os.cpu_count(),
            "servers": [NAMES[key] for key in keys],
            "runs": [],
        }
    )
    zones: list[str] = []
    if knotd is not None:
        print("Knot's zone files: svcdns records ...", flush=True)
        made = time.monotonic()
        counts = knot.zones_of(args.workdir / "cluster.json", folder / "knot")
        zones = list(counts)
        report["knot_zones"] = counts
        print(f"  {counts} in {time.monotonic() - made:.1f} s", flush=True)
    api = ApiProcess(args.workdir / "cluster.json", folder, tls=True)
    upstream = Upstream()
    try:
        loaded = api.expect("ready", timeout=API_LOAD_TIMEOUT)
        print(f"fake API (HTTPS) loaded in {loaded['load_seconds']:.1f} s: {loaded['objects']}")
        probe = known_name(api.queries)
        report.update({"objects": loaded["objects"], "probe": probe})
        env = {k: v for k, v in os.environ.items() if k != "GOMAXPROCS"}
        for number in range(1, args.runs + 1):
            this: dict[str, Any] = {
                "run": number,
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "loadavg_1min": round(os.getloadavg()[0], 2),
                "results": {},
            }
            report["runs"].append(this)
            print(f"run {number} of {args.runs} (load {this['loadavg_1min']})", flush=True)
            for key in keys:
                server, started, ready, what = start_server(
                    key, args, folder, api, probe, upstream, knotd, zones, env
                )
                servers.append(server)
                if key == "coredns-1":  # the Corefile as run, for the report
                    report["corefile"] = (folder / f"Corefile-{key}").read_text()
                try:
                    server.ready_seconds = wait_ready(server, started, ready, what)
                    print(f"  {server.name}: ready in {server.ready_seconds:.2f} s", flush=True)
                    if key == "knot" and not answers(server.port, *probe):
                        raise RuntimeError(
                            f"knot: no right answer for {probe[0]}: its zone "
                            "files are not the API's cluster"
                        )
                    this["results"][key] = measure(args, folder, server, files, dnsperf, [api.pid])
                finally:
                    server.stop()
                save()
    finally:
        upstream.close()
        api.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coredns", type=Path, required=True, help="the CoreDNS binary")
    parser.add_argument("--size", choices=("small", "large"), default="large")
    parser.add_argument("--runs", type=int, default=3, help="times the whole sequence runs")
    parser.add_argument("--seconds", type=float, default=10.0, help="per dnsperf run")
    parser.add_argument("--rounds", type=int, default=2, help="full-load runs per query file")
    parser.add_argument(
        "--rate",
        type=int,
        action="append",
        metavar="QPS",
        help="fixed rate, queries/s, repeatable (default: 20000 and 50000)",
    )
    parser.add_argument(
        "--knot",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure Knot DNS too (default: when knotd is found)",
    )
    parser.add_argument(
        "--svcdns-workers",
        type=int,
        metavar="N",
        help="svcdns serve --workers N (default: svcdns's, 1)",
    )
    parser.add_argument(
        "--knot-workers", type=int, default=1, metavar="N", help="Knot's UDP workers (default 1)"
    )
    parser.add_argument("--workdir", type=Path, help="default /tmp/svcdns-bench-<size>")
    parser.add_argument(
        "--out", type=Path, help="the JSON results (default WORKDIR/coredns-results.json)"
    )
    parser.add_argument("--svcdns-root", type=Path, default=REPO, help="where `-m svcdns` runs")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.rounds < 1:
        parser.error("--runs and --rounds must be at least 1")
    args.rate = sorted(set(args.rate or RATES))
    args.workdir = (args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")).resolve()
    path = (args.out or args.workdir / "coredns-results.json").resolve()
    report: dict[str, Any] = {}

    def save() -> None:
        runs = report.get("runs", [])
        report["table"] = table(runs, args.rate) if runs else ""
        report["summary"] = summary(runs, args.rate) if runs else {}
        path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    began = time.monotonic()
    servers: list[knot.Server] = []
    with knot.sigterm_as_exit(), tempfile.TemporaryDirectory(prefix="svcdns-coredns-") as folder:
        try:
            run(args, Path(folder), servers, report, save)
        finally:
            for server in servers:
                server.stop()  # by PID; a no-op for those already stopped
    report["wall_seconds"] = round(time.monotonic() - began, 1)
    save()
    found = report["versions"]
    print(
        f"\n{found['coredns']}, {found.get('knotd', 'no Knot')}, svcdns {found['svcdns']}, "
        f"{report['cpus']} CPUs, {args.size} cluster, {args.runs} run(s), "
        f"{report['wall_seconds']:.0f} s\n"
    )
    print(report["table"])
    busiest = max(r["other_cores"] for run in report["runs"] for r in run["results"].values())
    if busiest > 0.1:
        print(
            f"\nwarning: other processes kept up to {busiest:.2f} of {report['cpus']} cores "
            "busy while a server was measured; the figures are noisy"
        )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
