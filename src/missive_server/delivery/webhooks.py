"""Outbox kind ``webhook``: one rule webhook delivery (spec 3.1) POSTed to its hook's URL.

The body is the outbox row's ``raw`` bytes, written once when the event was queued, sent and
signed unchanged on every attempt (spec 3.2) with ``X-Hook-Signature`` and the Standard
Webhooks headers; ``webhook-id`` is the delivery id, the same on every retry.

Any 2xx is a success. Everything else is retried on the hook's schedule: transport errors,
timeouts, 3xx (redirects are never followed) and every 4xx/5xx, since a receiver's 401 or 404
is as often a deploy in progress as a real refusal. Every attempt that reached the network is
logged in ``webhook_attempts``; a failed one is recorded through ``DeliveryError.record``,
because the worker rolls this handler's session back on failure. The secret and the signatures
are never logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session

from missive_server import __version__
from missive_server.db.models import Hook, OutboxItem, WebhookDelivery
from missive_server.delivery.channels import WEBHOOK_TIMEOUT_SECONDS, answer_error, display_url
from missive_server.delivery.pinning import post_pinned
from missive_server.delivery.signing import (
    SIGNATURE_HEADER,
    WEBHOOK_ID_HEADER,
    WEBHOOK_SIGNATURE_HEADER,
    WEBHOOK_TIMESTAMP_HEADER,
    sign,
    sign_standard,
)
from missive_server.delivery.worker import Delivered, DeliveryError
from missive_server.services.hooks import hook_deliveries
from missive_server.services.hooks.webhook_urls import (
    IPAddress,
    UnresolvableWebhookHost,
    UnsafeWebhookUrl,
    WebhookUrlPolicy,
)

log = logging.getLogger("missive_server.webhooks")

#: Spec 3.1: 50 consecutive failures disable a hook.
DISABLE_AFTER = 50


def webhook_headers(
    secret: str, *, delivery_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one attempt; ``timestamp`` is the attempt's, so each retry is signed anew."""
    return {
        "Content-Type": "application/json",
        "User-Agent": f"missive-server/{__version__}",
        SIGNATURE_HEADER: sign(secret, body),
        WEBHOOK_ID_HEADER: delivery_id,
        WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
        WEBHOOK_SIGNATURE_HEADER: sign_standard(
            secret, msg_id=delivery_id, timestamp=timestamp, body=body
        ),
    }


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one POST did: ``error`` is ``None`` on success."""

    status_code: int | None
    latency_ms: int
    error: str | None
    permanent: bool = False


@dataclass(frozen=True, slots=True)
class FailedAttempt:
    """The writes of a failed attempt, run by the worker with the failure it records."""

    delivery_id: str
    hook_id: str
    attempted_at: int
    attempt: Attempt
    disable_after: int

    def __call__(self, session: Session, item: OutboxItem) -> None:
        logged = hook_deliveries.record_attempt(
            session,
            delivery_id=self.delivery_id,
            attempted_at=self.attempted_at,
            status_code=self.attempt.status_code,
            latency_ms=self.attempt.latency_ms,
            error=self.attempt.error,
        )
        if not logged:
            return
        hook_deliveries.count_failure(
            session, hook_id=self.hook_id, now=self.attempted_at, disable_after=self.disable_after
        )


class WebhookHandler:
    def __init__(
        self,
        http_client: httpx.Client,
        *,
        timeout: float = WEBHOOK_TIMEOUT_SECONDS,
        disable_after: int = DISABLE_AFTER,
        urls: WebhookUrlPolicy | None = None,
    ) -> None:
        self.http_client = http_client
        self.timeout = timeout
        self.disable_after = disable_after
        #: Checked again before every attempt: a host that resolved to a public address when
        #: the hook was created may point inside the network by now (DNS rebinding); the
        #: attempt then connects to the addresses this check approved (``delivery/pinning``).
        self.urls = urls or WebhookUrlPolicy()

    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        hook = self._hook(session, item)
        body = item.raw or b""
        headers = webhook_headers(hook.secret, delivery_id=item.id, timestamp=now, body=body)
        addresses, refused = self._checked(hook.url)
        attempt = refused or self._post(hook.url, addresses, body, headers)
        if attempt.error is not None:
            record = FailedAttempt(item.id, hook.id, now, attempt, self.disable_after)
            raise DeliveryError(attempt.error, permanent=attempt.permanent, record=record)
        hook_deliveries.record_attempt(
            session,
            delivery_id=item.id,
            attempted_at=now,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            error=None,
        )
        hook_deliveries.reset_failures(session, hook_id=hook.id)
        log.info(
            "delivered %s (%s) to %s: %s in %d ms",
            item.id,
            item.payload.get("event"),
            display_url(hook.url),
            attempt.status_code,
            attempt.latency_ms,
        )
        return Delivered()

    @staticmethod
    def _hook(session: Session, item: OutboxItem) -> Hook:
        """The delivery's hook; a deleted or disabled one ends the delivery, never retried."""
        delivery = session.get(WebhookDelivery, item.id)
        hook = session.get(Hook, delivery.hook_id) if delivery is not None else None
        if hook is None:
            raise DeliveryError("the hook of this delivery was deleted", permanent=True)
        if not hook.enabled:
            raise DeliveryError(f"hook '{hook.id}' is disabled", permanent=True)
        return hook

    def _checked(self, url: str) -> tuple[list[IPAddress], Attempt | None]:
        """The addresses to connect to (``delivery/pinning``), or why there are none: an unsafe
        address ends the delivery, a host that does not resolve is retried."""
        try:
            return self.urls.addresses(url), None
        except UnsafeWebhookUrl as error:
            return [], Attempt(None, 0, error.message, permanent=True)
        except UnresolvableWebhookHost as error:
            return [], Attempt(None, 0, f"{error.message}: {error.reason}")

    def _post(
        self, url: str, addresses: list[IPAddress], body: bytes, headers: dict[str, str]
    ) -> Attempt:
        target = display_url(url)
        started = time.monotonic()

        def elapsed() -> int:
            return round((time.monotonic() - started) * 1000)

        try:
            status, reason = post_pinned(
                self.http_client,
                url,
                addresses,
                body=body,
                headers=headers,
                timeout=self.timeout,
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            return Attempt(None, elapsed(), f"invalid webhook URL {target}: {error}", True)
        except httpx.TimeoutException:
            return Attempt(None, elapsed(), f"{target}: no answer within {self.timeout:g} s")
        except httpx.HTTPError as error:
            return Attempt(None, elapsed(), f"{target}: {type(error).__name__}: {error}")
        if 200 <= status < 300:
            return Attempt(status, elapsed(), None)
        return Attempt(status, elapsed(), str(answer_error(target, status, reason)))
