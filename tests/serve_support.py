"""``missive-server serve`` as a real subprocess on a free loopback port.

One place for what every subprocess test repeated: pick a port, start the console script, poll
until the server answers (failing early with its output if it exits), read what it logged, and
stop it (SIGTERM, then SIGKILL if it hangs). The ``serve`` fixture (tests/conftest.py) starts
servers through ``start_serve`` and stops whatever a test left running.

Output goes to a file, not a pipe: nobody reads a pipe while a test runs, and a full pipe would
block the server mid-request.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

#: A limit for failing, not a wait: a ready server answers at once. ``serve`` imports the whole
#: app (about 2 s of CPU, per process with ``--workers``), which on a 2-core machine shared
#: with other test runs (load average 19) took over 120 s with ``--workers 2``.
STARTUP_SECONDS = 300
STOP_SECONDS = 15
POLL_SECONDS = 0.05
#: How much of a failed server's output an error message quotes (a crash run's log is long).
OUTPUT_TAIL = 8000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command() -> list[str]:
    """The installed console script (what users run), or the module when it is not installed."""
    script = Path(sys.executable).parent / "missive-server"
    return [str(script)] if script.exists() else [sys.executable, "-m", "missive_server.cli"]


def server_env(overrides: Mapping[str, str | None]) -> dict[str, str]:
    """The test process's environment with ``overrides``; a ``None`` value removes the name."""
    env = dict(os.environ)
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    """Polls ``check`` (real time: it watches another process or thread) until it holds."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {seconds} s")
        time.sleep(POLL_SECONDS)


@dataclass
class Served:
    """A running ``serve`` process."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    answer: httpx.Response | None = field(default=None, init=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def first(self) -> httpx.Response:
        """The response that showed the server was up."""
        assert self.answer is not None, "wait_ready() has not seen an answer"
        return self.answer

    def output(self) -> str:
        """Everything the process printed so far (stdout and stderr, interleaved)."""
        return self.log.read_text(errors="replace")

    def wait_ready(
        self,
        path: str = "/v1/organizations",
        headers: Mapping[str, str] | None = None,
        seconds: float = STARTUP_SECONDS,
        status: int | None = None,
    ) -> httpx.Response:
        """Polls ``path`` until an HTTP answer (with ``status`` when given); raises with the
        output if the process exits."""

        def answered() -> bool:
            if self.process.poll() is not None:
                tail = self.output()[-OUTPUT_TAIL:]
                raise AssertionError(
                    f"serve exited with {self.process.returncode} (log {self.log}):\n{tail}"
                )
            try:
                self.answer = httpx.get(f"{self.base}{path}", timeout=2, headers=headers)
            except httpx.TransportError:
                return False
            return status is None or self.answer.status_code == status

        wait_until(answered, seconds, f"serve did not answer on {self.base}{path}")
        return self.first

    def stop(self, timeout: float = STOP_SECONDS) -> str:
        """SIGTERM (a clean shutdown), SIGKILL if it hangs; returns the whole output."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.output()


def spawn_serve(
    *args: str,
    env: Mapping[str, str],
    log: Path,
    port: int | None = None,
    new_session: bool = False,
) -> Served:
    """Starts ``missive-server serve --port <port> *args`` without waiting for it.
    ``new_session``: in a process group of its own, so ``os.killpg`` reaches the worker
    processes of ``--workers N`` too."""
    port = port or free_port()
    process = spawn_command(
        "serve", "--port", str(port), *args, env=env, log=log, new_session=new_session
    )
    return Served(process, port, log)


def spawn_command(
    *args: str, env: Mapping[str, str], log: Path, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """``missive-server *args``, its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command(), *args],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )


def start_serve(*args: str, env: Mapping[str, str], log: Path) -> Served:
    """Starts ``serve`` and returns once it answers HTTP (stopped again if it never does)."""
    served = spawn_serve(*args, env=env, log=log)
    try:
        served.wait_ready()
    except BaseException:
        served.stop()
        raise
    return served
