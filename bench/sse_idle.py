"""Idle cost of open live-update streams: start ``missive-server serve`` on a fresh SQLite demo,
open N ``/events`` streams (signed in as the demo owner, with the emulator's token sign-in),
then read the server's CPU time (``/proc/<pid>/stat``) over a quiet window.

    .venv/bin/python bench/sse_idle.py --streams 500 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hold(base: str, cookies: httpx.Cookies, opened: threading.Semaphore) -> None:
    with httpx.Client(base_url=base, cookies=cookies, timeout=None) as client:
        with client.stream("GET", "/events") as stream:
            opened.release()
            for _ in stream.iter_raw():
                pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp())
    env = {**os.environ, "MISSIVE_DATABASE_URL": f"sqlite:///{workdir / 'b.db'}",
           "MISSIVE_EMULATOR": "1", "MISSIVE_ACCESS_LOG": "false"}  # fmt: skip
    exe = Path(sys.executable).parent / "missive-server"
    subprocess.run([exe, "demo"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen([exe, "serve", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                page = httpx.get(f"{base}/sign-in")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        client = httpx.Client(base_url=base, cookies=page.cookies)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        client.post("/sign-in", data={"csrf": csrf, "token": "missive_pat-demo-alice-owner"})
        opened = threading.Semaphore(0)
        for _ in range(args.streams):
            threading.Thread(target=hold, args=(base, client.cookies, opened), daemon=True).start()
        for _ in range(args.streams):
            opened.acquire(timeout=60)
        time.sleep(2)
        before = cpu_seconds(server.pid)
        time.sleep(args.seconds)
        used = cpu_seconds(server.pid) - before
        rss = int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{server.pid}/status").read_text())
                  .group(1))  # type: ignore[union-attr]  # fmt: skip
        print(f"{args.streams} open streams for {args.seconds:.0f} s: server CPU {used:.2f} s "
              f"({100 * used / args.seconds:.2f} % of one core), RSS {rss / 1024:.0f} MiB; "
              f"alive: {server.poll() is None}")  # fmt: skip
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # open streams hold uvicorn's graceful shutdown
            server.kill()
            server.wait()


if __name__ == "__main__":
    main()
