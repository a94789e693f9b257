"""``missive-server bench-data`` end to end at a small scale: the real command in a subprocess,
on each backend. What it writes is held to the real paths in tests/services/test_bench_data.py."""

from __future__ import annotations

import os
import subprocess

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from missive_server.db.models import Contact, Conversation
from missive_server.services.seed import bench_data
from tests.serve_support import command


@pytest.mark.slow(10)
def test_bench_data_command_fills_a_database_and_refuses_a_second_time(
    database_url: str, engine: Engine
) -> None:
    env = {**os.environ, "MISSIVE_DATABASE_URL": database_url}
    args = [*command(), "bench-data", "--conversations", "30", "--contacts", "5"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Generated 30 conversations (2 emails each) and 5 contacts" in done.stdout
    assert f"Token: {bench_data.TOKEN}" in done.stdout
    assert "35/35" in done.stderr  # the progress bar reached its end
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 30
        assert session.scalar(select(func.count()).select_from(Contact)) == 5
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert "already holds a bench dataset" in again.stderr
    assert "point MISSIVE_DATABASE_URL at an empty database" in again.stderr
