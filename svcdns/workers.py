"""`--workers N`: N processes share each DNS port (SO_REUSEPORT), each with its own source
and state; this parent supervises them.

The parent answers no DNS itself. It picks the ports (a port 0 becomes one free port that
every worker binds), starts the workers as `svcdns serve` again with SVCDNS_WORKER set,
restarts one that dies (a worker that dies before it was ever ready ends the whole server:
the error is in its one line), and on SIGTERM or SIGINT turns `/ready` 503 and passes the
signal on, so each worker drains with its own lame duck. `/ready` is 200 only when every
worker is ready; `/metrics` adds the workers' counters up; SIGHUP is passed on to each.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence

from svcdns.config import Config, parse_listen
from svcdns.net.transport import ListenAddress, free_port
from svcdns.ops.http import OpsServer
from svcdns.ops.metrics import merge_expositions

log = logging.getLogger("svcdns.workers")

WORKER_VARIABLE = "SVCDNS_WORKER"  # set in a worker: its number
LISTEN_VARIABLE = "SVCDNS_WORKER_LISTEN"  # the parent's resolved DNS addresses
OPS_LINE = "svcdns-worker-ops "  # a worker's first stdout line: where its ops listener is
POLL_INTERVAL = 0.2  # seconds between readiness checks of the workers
HTTP_TIMEOUT = 2.0
RESTART_DELAYS = (0.5, 1.0, 2.0, 5.0)  # backoff for a worker that keeps dying


def worker_number() -> int | None:
    value = os.environ.get(WORKER_VARIABLE)
    return int(value) if value is not None else None


def worker_config(config: Config) -> Config:
    """A worker binds the parent's ports with SO_REUSEPORT, and its ops listener on a free
    loopback port that only the parent reads."""
    listen = tuple(parse_listen(a) for a in os.environ.get(LISTEN_VARIABLE, "").split(",") if a)
    return dataclasses.replace(config, listen=listen or config.listen, http="127.0.0.1:0")


def report_ops_address(address: ListenAddress) -> None:
    print(f"{OPS_LINE}{address}", flush=True)


@dataclasses.dataclass(slots=True)
class Worker:
    number: int
    process: asyncio.subprocess.Process | None = None
    ops: str = ""  # host:port of its ops listener, once it has said
    ready: bool = False
    ever_ready: bool = False
    restarts: int = 0


class Supervisor:
    def __init__(self, config: Config, argv: Sequence[str]) -> None:
        self.config = config
        self.argv = list(argv)
        self.listen = [free_port(address) for address in config.listen]
        self.workers = [Worker(number) for number in range(config.workers)]
        self.stopping = False
        self.failed = False
        self.done = asyncio.Event()

    def pending(self) -> list[str]:
        if self.stopping:
            return ["shutting down"]
        return [f"worker {w.number}" for w in self.workers if not w.ready]

    async def render(self) -> bytes:  # what /metrics shows: every worker's, added up
        texts = await asyncio.gather(*(self._get(w, "/metrics") for w in self.workers))
        return merge_expositions([body for status, body in texts if status == 200])

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)  # each worker reads --config again
        ops = OpsServer(pending=self.pending, metrics=self)
        if self.config.http and self.config.http.lower() != "none":
            address = await ops.start(parse_listen(self.config.http))
            log.info("ops on http://%s (/health /ready /metrics)", address)
        log.info(
            "supervising %d workers on %s (udp+tcp, SO_REUSEPORT)",
            len(self.workers),
            ", ".join(str(a) for a in self.listen),
        )
        tasks = [asyncio.create_task(self._keep(worker)) for worker in self.workers]
        tasks.append(asyncio.create_task(self._poll()))
        await self.done.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stop_all()
        await ops.close()
        return 1 if self.failed else 0

    def reload(self) -> None:
        for worker in self.workers:
            _signal(worker, signal.SIGHUP)

    def stop(self) -> None:
        if not self.stopping:
            log.info("stopping %d workers", len(self.workers))
            self.stopping = True
            for worker in self.workers:
                _signal(worker, signal.SIGTERM)
            if not any(w.process and w.process.returncode is None for w in self.workers):
                self.done.set()

    async def _keep(self, worker: Worker) -> None:
        """Start the worker, and again whenever it dies, until the server stops."""
        while True:
            started = time.monotonic()
            code = await self._run_once(worker)
            if self.stopping:
                if all(w.process and w.process.returncode is not None for w in self.workers):
                    self.done.set()
                return
            if not worker.ever_ready:
                log.error("worker %d exited (%s) before it was ready", worker.number, code)
                self.failed = True
                self.stop()
                return
            delay = RESTART_DELAYS[min(worker.restarts, len(RESTART_DELAYS) - 1)]
            if time.monotonic() - started > 60:
                worker.restarts = 0  # it ran a good while: start the backoff afresh
                delay = RESTART_DELAYS[0]
            worker.restarts += 1
            log.warning("worker %d exited (%s); restarting in %.1f s", worker.number, code, delay)
            await asyncio.sleep(delay)

    async def _run_once(self, worker: Worker) -> int:
        env = dict(os.environ)
        env[WORKER_VARIABLE] = str(worker.number)
        env[LISTEN_VARIABLE] = ",".join(str(a) for a in self.listen)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "svcdns",
            *self.argv,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=_die_with_parent,
        )
        worker.process, worker.ops, worker.ready = process, "", False
        log.info("worker %d started (pid %d)", worker.number, process.pid)
        assert process.stdout is not None
        async for line in process.stdout:
            text = line.decode("utf-8", "replace").strip()
            if text.startswith(OPS_LINE):
                worker.ops = text[len(OPS_LINE) :]
        code = await process.wait()
        worker.ops, worker.ready = "", False
        return code

    async def _poll(self) -> None:
        while True:
            for worker in self.workers:
                status, _ = await self._get(worker, "/ready")
                worker.ready = status == 200
                worker.ever_ready |= worker.ready
            await asyncio.sleep(POLL_INTERVAL)

    async def _get(self, worker: Worker, path: str) -> tuple[int, bytes]:
        """A GET to a worker's ops listener; (0, b"") when it does not answer."""
        if not worker.ops:
            return 0, b""
        host, _, port = worker.ops.rpartition(":")
        try:
            return await asyncio.wait_for(
                _http_get(host.strip("[]"), int(port), path), HTTP_TIMEOUT
            )
        except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
            return 0, b""

    async def _stop_all(self) -> None:
        for worker in self.workers:
            _signal(worker, signal.SIGTERM)
        deadline = self.config.lameduck + 10
        for worker in self.workers:
            if worker.process is None:
                continue
            try:
                await asyncio.wait_for(worker.process.wait(), deadline)
            except TimeoutError:
                _signal(worker, signal.SIGKILL)
                await worker.process.wait()


async def _http_get(host: str, port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        response = await reader.read()
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def _signal(worker: Worker, signum: int) -> None:
    if worker.process is not None and worker.process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            worker.process.send_signal(signum)


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends SIGTERM if the parent dies, even by
    SIGKILL, so no worker outlives its supervisor."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(config: Config, argv: Sequence[str]) -> int:
    return asyncio.run(Supervisor(config, argv).run())
