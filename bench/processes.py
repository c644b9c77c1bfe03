"""The processes a benchmark starts: a free port for them, and their CPU time read from /proc.

One copy for every bench script (knot, blast, rotation, propagation, coredns_compare).
`cpu_seconds` says whether it counts a process or its whole tree (svcdns --workers forks):
callers choose. Imports nothing of svcdns, tests/ or the other bench scripts.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port")


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (svcdns --workers forks)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def stat_cpu_seconds(stat: Path) -> float:
    """utime + stime of one /proc stat file (a process's, or a thread's under task/)."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of proc(5)


def cpu_seconds(pid: int, *, tree: bool) -> float:
    """utime + stime of a live process (all its threads, ended ones too), in seconds; with
    `tree`, of it and every process below it (one that ends while read counts as none)."""
    if not tree:
        return stat_cpu_seconds(Path(f"/proc/{pid}/stat"))
    total = 0.0
    for each in descendants(pid):
        with contextlib.suppress(OSError):
            total += stat_cpu_seconds(Path(f"/proc/{each}/stat"))
    return total
