"""``missive-server serve`` really starts: a subprocess on a free port, migrated, answering 401."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

STARTUP_SECONDS = 20


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command() -> list[str]:
    script = Path(sys.executable).parent / "missive-server"
    return [str(script)] if script.exists() else [sys.executable, "-m", "missive_server.cli"]


def test_serve_migrates_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "MISSIVE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}"}
    server = subprocess.Popen(
        [*command(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        response = wait_for(f"http://127.0.0.1:{port}/v1/organizations", server)
        assert response.status_code == 401
        assert response.json() == {
            "error": {"message": "Authentication token is invalid or has been revoked"}
        }
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def wait_for(url: str, server: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode() if server.stdout else ""
            raise AssertionError(f"serve exited with {server.returncode}:\n{output}")
        try:
            return httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"serve did not answer within {STARTUP_SECONDS} s")


def test_several_workers_without_redis_warn_of_separate_budgets(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "MISSIVE_REDIS_URL"},
        "MISSIVE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "MISSIVE_RUN_WORKER": "false",
    }
    server = subprocess.Popen(
        [*command(), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/v1/organizations", server).status_code == 401
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()

    text = " ".join(output.decode().split())  # rich may wrap the line
    assert "Warning: 2 worker processes without MISSIVE_REDIS_URL" in text
    assert "2 times the configured requests" in text


@pytest.mark.parametrize(("setting", "logged"), [(None, True), ("false", False)])
def test_the_access_log_is_on_unless_turned_off(
    tmp_path: Path, setting: str | None, logged: bool
) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "MISSIVE_ACCESS_LOG"},
        "MISSIVE_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "MISSIVE_RUN_WORKER": "false",
        **({"MISSIVE_ACCESS_LOG": setting} if setting else {}),
    }
    server = subprocess.Popen(
        [*command(), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/v1/organizations", server).status_code == 401
        assert httpx.get(f"http://127.0.0.1:{port}/v1/users", timeout=5).status_code == 401
    finally:
        server.terminate()
        try:
            output, _ = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            output, _ = server.communicate()
    text = output.decode()
    assert "Uvicorn running on" in text or "Application startup complete" in text
    assert ('"GET /v1/users HTTP/1.1" 401' in text) is logged, text
