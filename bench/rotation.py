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
import sys
from pathlib import Path

import cluster
import knot
from ab import Files, interleaved, ratio_table, report
from processes import free_port

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
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    knot.ensure_cluster(args.size, workdir, regenerate=False)
    count = headless_queries(args.size, workdir / "headless.txt")
    print(f"headless: {count} Services' names", flush=True)
    files: Files = {
        "hits": (workdir / "hits.txt", ()),
        "headless": (workdir / "headless.txt", EDNS),
    }
    for name, extra in VARIANTS.items():
        servers[name] = start_svcdns(name, workdir / "cluster.json", workdir, extra)
    qps, cpu = interleaved(args, servers, ("off", "on"), files)
    return ratio_table(("off", "on"), ("rotate off", "rotate on"), qps, cpu, args.rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(cluster.SIZES), default="large")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args(argv)
    args.workdir = args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")
    return report("rotation.py", run, args)


if __name__ == "__main__":
    sys.exit(main())
