"""``serve --emulator`` refuses several processes; ``/_emulator/seed`` fails like ``seed``."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.testclient import TestClient
from typer.testing import CliRunner

from missive_server.cli import app as cli
from tests.api.emulator_support import emu, emulator

__all__ = ["emu", "emulator"]


def test_serve_emulator_refuses_several_workers(tmp_path: Path) -> None:
    # MISSIVE_EMULATOR in env so the runner restores it after serve sets it.
    env = {"MISSIVE_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "MISSIVE_EMULATOR": "0"}
    result = CliRunner().invoke(cli, ["serve", "--emulator", "--workers", "2"], env=env)

    assert result.exit_code != 0
    assert "--emulator serves from one process" in result.output
    assert not (tmp_path / "x.db").exists()  # refused before migrating


def test_seed_errors_match_the_cli(emu: TestClient, database_url: str, tmp_path: Path) -> None:
    bad = {"users": [{"email": "a@b.test", "organizations": {"Nowhere": "owner"}}]}
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["seed", str(path)], env={"MISSIVE_DATABASE_URL": database_url}
    )

    response = emu.post("/_emulator/seed", json=bad)

    assert result.exit_code != 0
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert " ".join(message.split()) in " ".join(result.output.split())
