"""svcdns against svcdns: two trees (commits) of this project on the same cluster, in the same
run, interleaved, for "did this change cost the hot path anything".

    git worktree add /tmp/before <commit>
    python bench/ab.py --before /tmp/before [--after .] [--size large] [--seconds 10]
        [--rounds 2] [--rate 50000] [--mix hits --mix pod-mix]

Each tree's `python -m svcdns serve --manifests cluster.json` runs from that tree (its own
svcdns package first on the path), both loaded at once on their own ports; then for each
mix (bench/cluster.py's query files) dnsperf at full load, interleaved before, after, after,
before, `--rounds` times, for queries/s; and at a fixed rate for CPU time per answer from
/proc. Reported as ratios after/before: these machines are noisy. Both servers are stopped
by PID on the way out.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import knot
from processes import cpu_seconds, free_port

HERE = Path(__file__).resolve().parent


def start_tree(name: str, root: Path, manifests: Path, workdir: Path) -> knot.Server:
    port, http_port = free_port(), free_port()
    command = [sys.executable, "-m", "svcdns", "serve", "--manifests", str(manifests)]
    command += ["--listen", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http_port}"]
    command += ["--upstream", "none", "--max-qps-per-client", "0"]
    log = (workdir / f"svcdns-{name}.log").open("w")
    env = os.environ | {"PYTHONPATH": str(root)}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
    server = knot.Server(name, process, port, log)
    server.ready_seconds = knot.wait_until(
        server, lambda: knot.http_ready(http_port), 900, "/ready 200"
    )
    print(f"{name}: ready in {server.ready_seconds:.2f} s ({root})", flush=True)
    return server


def run(args: argparse.Namespace, servers: dict[str, knot.Server]) -> list[str]:
    tools = knot.ensure_tools()
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    knot.ensure_cluster(args.size, workdir, regenerate=False)
    for name, root in (("before", args.before), ("after", args.after)):
        servers[name] = start_tree(name, root.resolve(), workdir / "cluster.json", workdir)
    perf, order = tools["dnsperf"], ("before", "after", "after", "before")
    files = {mix: workdir / f"{mix}.txt" for mix in args.mix}
    for mix, path in files.items():  # warm-up, unrecorded
        for name in ("before", "after"):
            knot.dnsperf(perf, servers[name], mix, path, 120, passes=1)
    qps: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.rounds + 1):
        for mix, path in files.items():
            for name in order:
                found = knot.dnsperf(perf, servers[name], mix, path, args.seconds)
                qps.setdefault((mix, name), []).append(found.qps)
                print(f"round {round_number} {mix:<8} {name:<6} {found.qps:9.0f} q/s", flush=True)
            for name in order:
                pid = servers[name].pid
                before = cpu_seconds(pid, tree=True)
                found = knot.dnsperf(perf, servers[name], mix, path, args.seconds, rate=args.rate)
                used = cpu_seconds(pid, tree=True) - before
                cpu.setdefault((mix, name), []).append(used / max(found.completed, 1) * 1e6)
                print(
                    f"round {round_number} {mix:<8} {name:<6} at {args.rate}/s: "
                    f"{cpu[mix, name][-1]:.2f} µs CPU per answer, lost {found.lost_pct:.2f}%",
                    flush=True,
                )
    lines = ["| figure | before | after | after/before |", "| --- | ---: | ---: | ---: |"]
    for mix in files:
        b, a = knot.mean(qps[mix, "before"]), knot.mean(qps[mix, "after"])
        lines.append(f"| queries/s, {mix}, full load | {b:,.0f} | {a:,.0f} | {a / b:.3f} |")
        b, a = knot.mean(cpu[mix, "before"]), knot.mean(cpu[mix, "after"])
        lines.append(
            f"| CPU µs per answer, {mix}, {args.rate:,}/s | {b:.2f} | {a:.2f} | {a / b:.3f} |"
        )
    lines.append(
        f"| ready s | {servers['before'].ready_seconds:.2f} | "
        f"{servers['after'].ready_seconds:.2f} | "
        f"{servers['after'].ready_seconds / servers['before'].ready_seconds:.3f} |"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the tree to compare with")
    parser.add_argument("--after", type=Path, default=HERE.parent, help="default: this tree")
    parser.add_argument("--size", default="large", choices=("small", "large"))
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=int, default=50_000)
    parser.add_argument("--mix", action="append", choices=knot.MIXES)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    args.mix = args.mix or list(knot.MIXES)
    args.workdir = args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")
    servers: dict[str, knot.Server] = {}
    started = time.monotonic()
    try:
        with knot.sigterm_as_exit():
            lines = run(args, servers)
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"ab.py: {error}", file=sys.stderr)
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
