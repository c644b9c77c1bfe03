"""What rotating A/AAAA answers costs: svcdns with rotation (the default) against svcdns
with `--no-rotate`, on the same cluster, in the same run, interleaved.

Rotation touches only answers with more than one address record (headless Services'
names); everything else pays one comparison. So two mixes are measured:

- `hits`: bench/cluster.py's mix (ClusterIP A, SRV, endpoint A, PTR), where nothing is
  rotated: the cost every common answer pays;
- `headless`: 100,000 questions for the A records of the cluster's headless Services
  (50 ready endpoints each on the large cluster), with EDNS (dnsperf `-e`, 4096 bytes) so
  the 800-byte answer is sent whole: every answer is rotated.

For each mix: full load (`dnsperf -c 4 -q 100`, interleaved on, off, off, on, `--rounds`
times) for queries/s, then a fixed rate (default 20,000/s, below both servers' ceiling) for
CPU time per answer from /proc. Both servers run at once on their own ports and are
stopped by PID on the way out. Reported as ratios on/off: these machines are noisy.

    python bench/rotation.py [--size small|large] [--seconds 10] [--rounds 2] [--rate 20000]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

import cluster
import knot
from processes import cpu_seconds, free_port

HERE = Path(__file__).resolve().parent

VARIANTS = {"on": (), "off": ("--no-rotate",)}
EDNS = ("-e",)  # dnsperf: EDNS0 with a 4096-byte buffer, so 50 addresses fit


def headless_queries(size: str, path: Path, total: int = 100_000) -> int:
    """The A names of the headless Services of bench/cluster.py's cluster (seed 1)."""
    built = cluster.build(cluster.SIZES[size], cluster.Gen(1))
    names = [s.fqdn for s in built.services if s.cluster_ip is None and s.endpoints]
    rng = random.Random("headless")
    path.write_text("".join(f"{rng.choice(names)} A\n" for _ in range(total)), encoding="ascii")
    return len(names)


def start_svcdns(name: str, manifests: Path, workdir: Path, extra: tuple[str, ...]) -> knot.Server:
    port, http_port = free_port(), free_port()
    command = [sys.executable, "-m", "svcdns", "serve", "--manifests", str(manifests)]
    command += ["--listen", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http_port}"]
    command += ["--upstream", "none", "--max-qps-per-client", "0", *extra]
    server = knot.start(name, command, port, workdir / f"svcdns-{name}.log")
    server.ready_seconds = knot.wait_until(
        server, lambda: knot.http_ready(http_port), 900, "/ready 200"
    )
    print(f"svcdns rotate {name}: ready in {server.ready_seconds:.2f} s", flush=True)
    return server


def run(args: argparse.Namespace, servers: dict[str, knot.Server]) -> list[str]:
    tools = knot.ensure_tools()
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    knot.ensure_cluster(args.size, workdir, regenerate=False)
    count = headless_queries(args.size, workdir / "headless.txt")
    print(f"headless: {count} Services' names", flush=True)
    files = {"hits": (workdir / "hits.txt", ()), "headless": (workdir / "headless.txt", EDNS)}
    for name, extra in VARIANTS.items():
        servers[name] = start_svcdns(name, workdir / "cluster.json", workdir, extra)
    perf = tools["dnsperf"]
    for mix, (path, flags) in files.items():  # warm-up, unrecorded
        for name in VARIANTS:
            knot.dnsperf(perf, servers[name], mix, path, 120, passes=1, extra=flags)
    qps: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        for mix, (path, flags) in files.items():
            for name in ("on", "off", "off", "on"):
                found = knot.dnsperf(perf, servers[name], mix, path, args.seconds, extra=flags)
                qps.setdefault((mix, name), []).append(found.qps)
                print(
                    f"round {round_number} {mix:<8} rotate {name:<3} {found.qps:9.0f} q/s "
                    f"lost {found.lost_pct:.2f}% {found.rcodes}",
                    flush=True,
                )
            for name in ("on", "off", "off", "on"):
                before = cpu_seconds(servers[name].pid, tree=True)
                found = knot.dnsperf(
                    perf, servers[name], mix, path, args.seconds, rate=args.rate, extra=flags
                )
                used = cpu_seconds(servers[name].pid, tree=True) - before
                cpu.setdefault((mix, name), []).append(used / max(found.completed, 1) * 1e6)
                print(
                    f"round {round_number} {mix:<8} rotate {name:<3} at {args.rate}/s: "
                    f"{cpu[mix, name][-1]:.2f} µs CPU per answer, lost {found.lost_pct:.2f}%",
                    flush=True,
                )
    lines = ["| figure | rotate on | rotate off | on/off |", "| --- | ---: | ---: | ---: |"]
    for mix in files:
        on, off = knot.mean(qps[mix, "on"]), knot.mean(qps[mix, "off"])
        lines.append(f"| queries/s, {mix}, full load | {on:,.0f} | {off:,.0f} | {on / off:.3f} |")
        on, off = knot.mean(cpu[mix, "on"]), knot.mean(cpu[mix, "off"])
        lines.append(
            f"| CPU µs per answer, {mix}, {args.rate:,}/s | {on:.2f} | {off:.2f} | {on / off:.3f} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(cluster.SIZES), default="large")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    args.workdir = args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")
    servers: dict[str, knot.Server] = {}
    started = time.monotonic()
    try:
        with knot.sigterm_as_exit():
            lines = run(args, servers)
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"rotation.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        for server in servers.values():
            server.stop()
    print("\n" + "\n".join(lines))
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
