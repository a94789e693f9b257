"""The processes a crash run kills and restarts: ``missive-server serve`` (one process, or
``--workers N``: a uvicorn master and N worker processes) and, optionally, a separate
``missive-server worker`` doing the deliveries (the PostgreSQL deployment of
docs/operations.md). Each runs in a process group of its own, so one SIGKILL to the group
takes the master and its worker processes down together, as a machine losing power would."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from tests.serve_support import Served, spawn_command, spawn_serve


class Server:
    """``serve`` on one port (and the separate worker), started and killed as often as needed;
    each start appends to the same log files (``tests/serve_support``)."""

    def __init__(
        self,
        env: dict[str, str],
        port: int,
        log: Path,
        *,
        serve_workers: int = 1,
        separate_worker: bool = False,
        ready_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.env = env
        self.port = port
        self.log = log
        self.worker_log = log.with_name("worker.log")
        self.base = f"http://127.0.0.1:{port}"
        self.serve_workers = serve_workers
        self.separate_worker = separate_worker
        self.ready_headers = ready_headers
        self.served: Served | None = None
        self.worker: subprocess.Popen[bytes] | None = None

    @staticmethod
    def describe(serve_workers: int, *, separate_worker: bool) -> str:
        serve = f"serve --workers {serve_workers}" if serve_workers > 1 else "serve"
        return f"{serve} + missive-server worker" if separate_worker else serve

    def start(self) -> None:
        for log in self._logs():
            with log.open("ab") as out:
                out.write(f"--- start at {time.time():.3f}\n".encode())
        args = ["--workers", str(self.serve_workers)] if self.serve_workers > 1 else []
        self.served = spawn_serve(
            *args, env=self.env, log=self.log, port=self.port, new_session=True
        )
        if self.separate_worker:
            self.worker = spawn_command(
                "worker", env=self.env, log=self.worker_log, new_session=True
            )
        self.served.wait_ready(headers=self.ready_headers, status=200)

    def kill(self) -> None:
        """SIGKILL to every process group: no shutdown, no lifespan, no commit in flight."""
        assert self.served is not None
        for process in self._processes():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        for log in self._logs():
            with log.open("ab") as out:
                out.write(f"--- SIGKILL at {time.time():.3f}\n".encode())

    def stop(self) -> None:
        if self.served is not None:
            self.served.stop(timeout=40)  # a clean shutdown may finish a delivery first
        if self.worker is not None and self.worker.poll() is None:
            self.worker.terminate()
            try:
                self.worker.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                self.worker.wait()

    def _processes(self) -> list[subprocess.Popen[bytes]]:
        found = [self.served.process] if self.served is not None else []
        return found + ([self.worker] if self.worker is not None else [])

    def _logs(self) -> list[Path]:
        return [self.log, self.worker_log] if self.separate_worker else [self.log]
