"""Configuration. The only module that reads the environment (prefix ``MISSIVE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MISSIVE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///missive.db",
        description="SQLAlchemy URL; SQLite file in the working directory by default.",
    )
    redis_url: str | None = Field(
        default=None, description="Redis URL; when set, rate-limit budgets are shared by processes."
    )
    rate_limit: Literal["missive", "off"] = Field(
        default="missive",
        description="`missive` applies Missive's exact limits; `off` disables them.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8080", description="Base URL used for web_url, app_url and files."
    )
    emulator: bool = Field(default=False, description="Mount the /_emulator/* control plane.")
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest accepted request body (spec 2.6.1: 10 MB)."
    )

    @property
    def public_base(self) -> str:
        return self.public_url.rstrip("/")
