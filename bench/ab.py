"""svcdns against svcdns: two trees (commits) of this project on the same cluster, in the same
run, interleaved, for "did this change cost the hot path anything".

    git worktree add /tmp/before <commit>
    python bench/ab.py --before /tmp/before [--after .] [--size large] [--seconds 10]
        [--rounds 2] [--rate 50000] [--mix hits --mix pod-mix]
        [--before-arg=--flag=value ...] [--after-arg=--flag=value ...]

Both trees may be the same, to measure a flag: `--before . --after-arg=--metrics-names=coredns`.

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
from typing import Any

import knot
from processes import cpu_seconds, free_port

HERE = Path(__file__).resolve().parent


def start_tree(
    name: str, root: Path, manifests: Path, workdir: Path, extra: list[str] | None = None
) -> knot.Server:
    port, http_port = free_port(), free_port()
    command = [sys.executable, "-m", "svcdns", "serve", "--manifests", str(manifests)]
    command += ["--listen", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http_port}"]
    command += ["--upstream", "none", "--max-qps-per-client", "0", *(extra or [])]
    log = (workdir / f"svcdns-{name}.log").open("w")
    env = os.environ | {"PYTHONPATH": str(root)}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
    server = knot.Server(name, process, port, log)
    server.ready_seconds = knot.wait_until(
        server, lambda: knot.http_ready(http_port), 900, "/ready 200"
    )
    print(f"{name}: ready in {server.ready_seconds:.2f} s ({root} {extra or ''})", flush=True)
    return server


Files = dict[str, tuple[Path, tuple[str, ...]]]  # mix -> (query file, extra dnsperf flags)
Figures = dict[tuple[str, str], list[float]]  # (mix, server) -> one figure a run


def interleaved(
    args: argparse.Namespace, servers: dict[str, knot.Server], names: tuple[str, str], files: Files
) -> tuple[Figures, Figures]:
    """Queries/s at full load and CPU µs per answer at `args.rate` for two servers, each mix
    run A, B, B, A `args.rounds` times after one unrecorded warm-up pass."""
    perf = knot.ensure_tools()["dnsperf"]
    first, second = names
    order = (first, second, second, first)
    for mix, (path, flags) in files.items():
        for name in names:
            knot.dnsperf(perf, servers[name], mix, path, 120, passes=1, extra=flags)
    qps: Figures = {}
    cpu: Figures = {}
    for round_number in range(1, args.rounds + 1):
        for mix, (path, flags) in files.items():
            for name in order:
                found = knot.dnsperf(perf, servers[name], mix, path, args.seconds, extra=flags)
                qps.setdefault((mix, name), []).append(found.qps)
                print(
                    f"round {round_number} {mix:<8} {name:<6} {found.qps:9.0f} q/s "
                    f"lost {found.lost_pct:.2f}% {found.rcodes}",
                    flush=True,
                )
            for name in order:
                pid = servers[name].pid
                before = cpu_seconds(pid, tree=True)
                found = knot.dnsperf(
                    perf, servers[name], mix, path, args.seconds, rate=args.rate, extra=flags
                )
                used = cpu_seconds(pid, tree=True) - before
                cpu.setdefault((mix, name), []).append(used / max(found.completed, 1) * 1e6)
                print(
                    f"round {round_number} {mix:<8} {name:<6} at {args.rate}/s: "
                    f"{cpu[mix, name][-1]:.2f} µs CPU per answer, lost {found.lost_pct:.2f}%",
                    flush=True,
                )
    return qps, cpu


def ratio_table(
    names: tuple[str, str], labels: tuple[str, str], qps: Figures, cpu: Figures, rate: int
) -> list[str]:
    """Markdown rows: each figure for both servers and the ratio second/first."""
    first, second = names
    lines = [
        f"| figure | {labels[0]} | {labels[1]} | {labels[1]}/{labels[0]} |",
        "| --- | ---: | ---: | ---: |",
    ]
    for mix in dict.fromkeys(m for m, _ in qps):
        a, b = knot.mean(qps[mix, first]), knot.mean(qps[mix, second])
        lines.append(f"| queries/s, {mix}, full load | {a:,.0f} | {b:,.0f} | {b / a:.3f} |")
        a, b = knot.mean(cpu[mix, first]), knot.mean(cpu[mix, second])
        lines.append(f"| CPU µs per answer, {mix}, {rate:,}/s | {a:.2f} | {b:.2f} | {b / a:.3f} |")
    return lines


def report(name: str, run: Any, args: argparse.Namespace) -> int:
    """Run `run(args, servers)`, stop every server it started by PID, print its rows."""
    servers: dict[str, knot.Server] = {}
    started = time.monotonic()
    try:
        with knot.sigterm_as_exit():
            lines = run(args, servers)
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
        print(f"{name}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        for server in servers.values():
            server.stop()
    print("\n" + "\n".join(lines))
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


def run(args: argparse.Namespace, servers: dict[str, knot.Server]) -> list[str]:
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    knot.ensure_cluster(args.size, workdir, regenerate=False)
    for name, root, extra in (
        ("before", args.before, args.before_arg),
        ("after", args.after, args.after_arg),
    ):
        servers[name] = start_tree(name, root.resolve(), workdir / "cluster.json", workdir, extra)
    files: Files = {mix: (workdir / f"{mix}.txt", ()) for mix in args.mix}
    names = ("before", "after")
    qps, cpu = interleaved(args, servers, names, files)
    lines = ratio_table(names, names, qps, cpu, args.rate)
    before, after = servers["before"].ready_seconds, servers["after"].ready_seconds
    lines.append(f"| ready s | {before:.2f} | {after:.2f} | {after / before:.3f} |")
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
    for side in ("before", "after"):  # `=` form: the value starts with dashes
        parser.add_argument(
            f"--{side}-arg",
            action="append",
            default=[],
            metavar="ARG",
            help=f"one more `svcdns serve` argument for the {side} server (repeatable)",
        )
    args = parser.parse_args(argv)
    args.mix = args.mix or list(knot.MIXES)
    args.workdir = args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")
    return report("ab.py", run, args)


if __name__ == "__main__":
    sys.exit(main())
