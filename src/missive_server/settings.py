"""Configuration. The only module that reads the environment (prefix ``MISSIVE_``)."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")


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
    rate_limit_per_minute: int = Field(
        default=300, ge=1, description="Requests per token per minute (Missive: 300)."
    )
    rate_limit_per_15_minutes: int = Field(
        default=900, ge=1, description="Requests per token per 15 minutes (Missive: 900)."
    )
    rate_limit_concurrent: int = Field(
        default=5, ge=1, description="Requests per token in flight at once (Missive: 5)."
    )
    db_pool_size: int = Field(
        default=5,
        ge=1,
        description="PostgreSQL connections each process keeps open (SQLite is not pooled so).",
    )
    db_threads: int = Field(
        default=2,
        ge=1,
        description="Threads that run the API's database work, so the event loop never waits "
        "on it (docs/architecture.md, 'Route style'). At most the pool size is useful.",
    )
    db_max_overflow: int = Field(
        default=10, ge=0, description="PostgreSQL connections a process may open beyond the pool."
    )
    public_url: str | None = Field(
        default=None,
        description="Base URL used for web_url, app_url and files; unset: http://HOST:PORT.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `serve` listens on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `serve` listens on.")
    emulator: bool = Field(default=False, description="Mount the /_emulator/* control plane.")
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024, description="Largest accepted request body (spec 2.6.1: 10 MB)."
    )

    smtp_url: str | None = Field(
        default=None,
        description=(
            "Outgoing relay: smtp://user:pass@host:port (add ?starttls=true), or smtps:// for "
            "implicit TLS. Unset: outgoing mail is captured (kept in the outbox, marked sent)."
        ),
    )
    smtp_listen: str | None = Field(
        default=None, description="host:port of the inbound SMTP listener, e.g. 127.0.0.1:2525."
    )
    smtp_max_message_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="Largest message the inbound SMTP listener accepts (larger ones get 552).",
    )
    delivery_max_attempts: int = Field(
        default=6,
        ge=1,
        description="Attempts per outgoing mail or channel message before it fails.",
    )
    delivery_backoff_seconds: int = Field(
        default=30, ge=1, description="First retry delay; doubles on every further attempt."
    )
    worker_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often the in-process worker looks for due work."
    )
    delivery_lease_seconds: int = Field(
        default=120,
        ge=1,
        description=(
            "How long a worker's claim holds an outbox row; longer than the slowest attempt "
            "(SMTP 30 s, webhooks MISSIVE_WEBHOOK_TIMEOUT_SECONDS). Rows held by a worker that "
            "died are retried when it runs out."
        ),
    )
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description=(
            "How long the answer to a request sent with an Idempotency-Key is kept and "
            "replayed (24 h); the delivery worker deletes expired keys."
        ),
    )
    idempotency_lease_seconds: int = Field(
        default=60,
        ge=1,
        description=(
            "How long a request in progress holds its Idempotency-Key: a retry meanwhile gets "
            "409. A process killed mid-request frees its keys when this runs out."
        ),
    )
    run_worker: bool = Field(
        default=True, description="Run the delivery worker as a thread inside `serve`."
    )
    access_log: bool = Field(
        default=True,
        description=(
            "Log one line per request (uvicorn's access log). Off saves ~3 % of CPU per request "
            "where a reverse proxy logs requests already."
        ),
    )
    token_cache_seconds: int = Field(
        default=5,
        ge=0,
        description=(
            "Seconds a process serves an authenticated token from memory. A token revoked (or a "
            "membership changed) by another process is seen within this delay; changes made "
            "through this process are seen at once. 0 looks every token up."
        ),
    )
    webhook_retry_schedule: Literal["missive", "extended"] = Field(
        default="missive",
        description=(
            "Rule webhook retries: `missive` (5 retries over about 8 minutes) or `extended` "
            "(exponential backoff capped at 1 hour, for about 3 days)."
        ),
    )
    webhook_timeout_seconds: float = Field(
        default=15.0, gt=0, description="How long a webhook receiver may take to answer."
    )
    webhook_disable_after: int = Field(
        default=50, ge=1, description="Consecutive failed attempts that disable a hook."
    )

    web_ui: bool = Field(default=True, description="Serve the inbox web UI at `/`.")
    mail_from: str | None = Field(
        default=None,
        description=(
            "Sender of the server's own mail (password reset links). "
            "Unset: no-reply@ the host of MISSIVE_PUBLIC_URL."
        ),
    )
    web_token_sign_in: bool | None = Field(
        default=None,
        description=(
            "Offer sign-in with an API token on the web sign-in page. Unset: only in emulator "
            "mode (people sign in with email and password)."
        ),
    )
    web_secret: str | None = Field(
        default=None,
        description=(
            "Signs the web UI's session cookies (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`). Unset: a random one per process."
        ),
    )

    webhook_allow_private: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description=(
            "Comma-separated CIDRs, addresses, host names or *.domain wildcards that webhooks "
            "may reach although they are loopback, private, link-local or metadata addresses."
        ),
    )

    @field_validator("webhook_allow_private", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``10.0.0.0/8,hooks.lan``: friendlier than the JSON list pydantic-settings expects."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [_allow_entry(str(v)) for v in value if str(v).strip()]
        return value

    @property
    def system_mail_from(self) -> str:
        host = urlsplit(self.public_base).hostname or "localhost"
        return self.mail_from or f"no-reply@{host}"

    @property
    def token_sign_in(self) -> bool:
        return self.emulator if self.web_token_sign_in is None else self.web_token_sign_in

    @property
    def public_base(self) -> str:
        """``MISSIVE_PUBLIC_URL``, else where ``serve`` listens (issue 16: a non-default port
        must not give links to :8080). A wildcard interface is reached on loopback."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


def _allow_entry(entry: str) -> str:
    """A CIDR or address, a host name, or ``*.domain``; lower-cased, without a trailing dot."""
    value = entry.strip().lower().rstrip(".")
    name = value.removeprefix("*.")
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        if not _HOST_NAME.fullmatch(name):
            raise ValueError(
                f"MISSIVE_WEBHOOK_ALLOW_PRIVATE entry '{entry.strip()}' is neither a CIDR "
                "nor a host name"
            ) from None
    return value
