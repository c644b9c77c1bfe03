"""svcdns and CoreDNS on one cluster from the fake Kubernetes API: ready, memory, q/s, CPU.

    python bench/coredns.py --coredns /tmp/coredns/coredns [--size large] [--seconds 10]
        [--rounds 2] [--rate 20000] [--workdir DIR] [--svcdns-root DIR]

1. The cluster files of bench/knot.py (cluster.json, hits.txt, pod-mix.txt in
   /tmp/svcdns-bench-<size>, generated only when missing) are served over the Kubernetes
   API by bench/churn_api.py `api --tls` in a process of its own (propagation.py's
   ApiProcess; HTTPS because client-go sends the kubeconfig's token over TLS only).
   A tiny upstream (coredns_compare.Upstream) answers what either server forwards (reverse
   names outside the cluster).
2. One server at a time, against that API: svcdns (`serve --kubeconfig`, per-client limit
   off, the same upstream), CoreDNS with `GOMAXPROCS=1`, CoreDNS with every core. CoreDNS
   runs kubeadm's Corefile (coredns_compare.corefile: kubernetes with `pods insecure`,
   fallthrough for the reverse zones, `ttl 30`; prometheus, forward, `cache 30`,
   loadbalance) on loopback.
3. Ready: from exec to the right A answer for an endpoint's name (it needs both the
   Services and the EndpointSlices listed), asked with dnspython every 20 ms.
4. Warm-up (one unrecorded pass through each query file), then full load: dnsperf
   `-c 4 -q 100 -l SECONDS` per file, `--rounds` times: answers/s, and CPU µs per answer
   (utime + stime of the server, /proc). Then a fixed rate (`-Q RATE`, hits file): CPU µs
   per answer, p99 and lost %. Peak RSS is VmHWM at the end.
5. One Markdown table (svcdns | CoreDNS 1 core | CoreDNS all cores), and results.json in
   the workdir as coredns-results.json. Every process started here is stopped by its PID,
   also on error, Ctrl-C or SIGTERM. Not part of the pytest suite (CI has no CoreDNS).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import knot  # bench/knot.py, beside this file: dnsperf, fixed_rate, Server, ensure_cluster
from coredns_compare import Upstream, corefile
from processes import cpu_seconds, free_port
from propagation import API_LOAD_TIMEOUT, ApiProcess

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
READY_TIMEOUT = 300.0
NAMES = {"svcdns": "svcdns", "coredns-1": "CoreDNS 1 core", "coredns-all": "CoreDNS all cores"}


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


def launch(name: str, argv: list[str], port: int, log: Path, cwd: Path,
           env: dict[str, str]) -> tuple[knot.Server, float]:  # fmt: skip
    """The server, and the monotonic time just before its exec."""
    out = log.open("w")
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
    return knot.Server(name, process, port, out), started


def wait_answer(server: knot.Server, started: float, probe: tuple[str, str]) -> float:
    """Seconds from `started` (the exec) to the right answer for the probe, asked every 20 ms."""
    while time.monotonic() < started + READY_TIMEOUT:
        server.check_alive()
        if answers(server.port, *probe):
            return time.monotonic() - started
        time.sleep(0.02)
    raise RuntimeError(f"{server.name}: no right answer for {probe[0]} in {READY_TIMEOUT:.0f} s")


def measure(args: argparse.Namespace, server: knot.Server, started: float,
            probe: tuple[str, str], files: dict[str, Path],
            dnsperf: str) -> dict[str, Any]:  # fmt: skip
    server.ready_seconds = wait_answer(server, started, probe)
    print(f"{server.name}: ready in {server.ready_seconds:.2f} s", flush=True)
    result: dict[str, Any] = {"ready_seconds": round(server.ready_seconds, 3)}
    for mix, path in files.items():
        knot.dnsperf(dnsperf, server, mix, path, 120, passes=1)  # warm-up
    for mix, path in files.items():
        runs = []
        for _ in range(args.rounds):
            before = cpu_seconds(server.pid, tree=True)
            perf = knot.dnsperf(dnsperf, server, mix, path, args.seconds)
            cpu = cpu_seconds(server.pid, tree=True) - before
            runs.append({"qps": perf.qps, "lost_pct": perf.lost_pct, "rcodes": perf.rcodes,
                         "cpu_us": cpu / max(perf.completed, 1) * 1e6})  # fmt: skip
            print(f"{server.name}: {mix:<7} {perf.qps:8.0f} q/s, lost {perf.lost_pct:.2f}%, "
                  f"{runs[-1]['cpu_us']:.1f} µs CPU/answer, {perf.rcodes}", flush=True)  # fmt: skip
        result[mix] = runs
    scratch = args.workdir / f"dnsperf-{server.name}.verbose"
    perf = knot.fixed_rate(dnsperf, server, files["hits"], args.seconds, args.rate, scratch)
    result["fixed"] = {
        "rate": args.rate,
        "answered_qps": perf.qps,
        "lost_pct": perf.lost_pct,
        "p99_ms": perf.p99_latency_ms,
        "cpu_us": perf.cpu_us_per_answer,
    }
    print(
        f"{server.name}: at {args.rate}/s {perf.cpu_us_per_answer:.1f} µs CPU/answer, "
        f"p99 {perf.p99_latency_ms or 0:.2f} ms, lost {perf.lost_pct:.2f}%",
        flush=True,
    )
    result["peak_rss_mb"] = round(knot.peak_rss_mb(server.pid), 1)
    return result


def span(values: list[float], digits: int) -> str:
    low, high = min(values), max(values)
    text = f"{low:,.{digits}f}"
    return text if f"{high:,.{digits}f}" == text else f"{text}-{high:,.{digits}f}"


def table(results: dict[str, dict[str, Any]], rate: int) -> str:
    rows = [("time to ready s (exec to a right answer)", lambda r: span([r["ready_seconds"]], 2))]
    for mix in knot.MIXES:
        qps = lambda r, m=mix: span([x["qps"] for x in r[m]], 0)  # noqa: E731
        rows.append((f"q/s, `{mix}`, full load", qps))
    rows.append(("CPU µs per answer, full load (hits)",
                 lambda r: span([x["cpu_us"] for x in r["hits"]], 1)))  # fmt: skip
    rows.append((f"CPU µs per answer at {rate:,} q/s", lambda r: span([r["fixed"]["cpu_us"]], 1)))
    rows.append((f"p99 ms at {rate:,} q/s", lambda r: span([r["fixed"]["p99_ms"] or 0.0], 2)))
    rows.append((f"lost % at {rate:,} q/s", lambda r: span([r["fixed"]["lost_pct"]], 2)))
    rows.append(("peak RSS MB (VmHWM)", lambda r: span([r["peak_rss_mb"]], 0)))
    lines = ["| figure | " + " | ".join(NAMES[n] for n in results) + " |"]
    lines.append("| --- |" + " ---: |" * len(results))
    for figure, cell in rows:
        lines.append(f"| {figure} | " + " | ".join(cell(r) for r in results.values()) + " |")
    return "\n".join(lines)


def version(binary: Path) -> str:
    done = subprocess.run([str(binary), "-version"], capture_output=True, text=True, check=False)
    return done.stdout.split("\n")[0]


def run(args: argparse.Namespace, folder: Path, servers: list[knot.Server]) -> dict[str, Any]:
    dnsperf = knot.ensure_tools()["dnsperf"]
    args.workdir.mkdir(parents=True, exist_ok=True)
    knot.ensure_cluster(args.size, args.workdir, regenerate=False)
    files = {mix: args.workdir / f"{mix}.txt" for mix in knot.MIXES}
    api = ApiProcess(args.workdir / "cluster.json", folder, tls=True)
    upstream = Upstream()
    results: dict[str, dict[str, Any]] = {}
    try:
        loaded = api.expect("ready", timeout=API_LOAD_TIMEOUT)
        print(f"fake API (HTTPS) loaded in {loaded['load_seconds']:.1f} s: {loaded['objects']}")
        probe = known_name(api.queries)
        env = {k: v for k, v in os.environ.items() if k != "GOMAXPROCS"}
        for key in ("svcdns", "coredns-1", "coredns-all"):
            port = free_port()
            log = args.workdir / f"{key}.log"
            if key == "svcdns":
                argv = [sys.executable, "-m", "svcdns", "serve", "--kubeconfig",
                        str(api.kubeconfig), "--listen", f"127.0.0.1:{port}", "--http",
                        f"127.0.0.1:{free_port()}", "--upstream", f"127.0.0.1:{upstream.port}",
                        "--max-qps-per-client", "0"]  # fmt: skip
                server, started = launch(key, argv, port, log, args.svcdns_root, env)
            else:
                conf = folder / f"Corefile-{key}"
                conf.write_text(corefile(port=port, ready=free_port(), kubeconfig=api.kubeconfig,
                                         upstream=upstream.port, cache=30,
                                         metrics=free_port()))  # fmt: skip
                cores = {"GOMAXPROCS": "1"} if key == "coredns-1" else {}
                argv = [str(args.coredns), "-conf", str(conf)]
                server, started = launch(key, argv, port, log, folder, env | cores)
            servers.append(server)
            try:
                results[key] = measure(args, server, started, probe, files, dnsperf)
            finally:
                server.stop()
        return {
            "size": args.size,
            "probe": probe,
            "seconds": args.seconds,
            "rounds": args.rounds,
            "objects": loaded["objects"],
            "corefile": (folder / "Corefile-coredns-1").read_text(),
            "coredns": version(args.coredns),
            "cpus": os.cpu_count(),
            "results": results,
            "table": table(results, args.rate),
        }
    finally:
        upstream.close()
        api.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coredns", type=Path, required=True, help="the CoreDNS binary")
    parser.add_argument("--size", choices=("small", "large"), default="large")
    parser.add_argument("--seconds", type=float, default=10.0, help="per dnsperf run")
    parser.add_argument("--rounds", type=int, default=2, help="full-load runs per query file")
    parser.add_argument("--rate", type=int, default=20_000, help="fixed rate, queries/s")
    parser.add_argument("--workdir", type=Path, help="default /tmp/svcdns-bench-<size>")
    parser.add_argument("--svcdns-root", type=Path, default=REPO, help="where `-m svcdns` runs")
    args = parser.parse_args(argv)
    args.workdir = (args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")).resolve()
    servers: list[knot.Server] = []
    with knot.sigterm_as_exit(), tempfile.TemporaryDirectory(prefix="svcdns-coredns-") as folder:
        try:
            result = run(args, Path(folder), servers)
        finally:
            for server in servers:
                server.stop()  # by PID; a no-op for those already stopped
    path = args.workdir / "coredns-results.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\n{result['coredns']}, {result['cpus']} CPUs, {args.size} cluster\n")
    print(result["table"])
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
