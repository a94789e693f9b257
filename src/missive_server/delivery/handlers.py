"""Which handler delivers which outbox kind: the worker's composition."""

from __future__ import annotations

import httpx

from missive_server.clock import Clock, SystemClock
from missive_server.delivery.analytics import AnalyticsReportHandler
from missive_server.delivery.channels import build_channel_handler
from missive_server.delivery.mail import CaptureMailer, Mailer, MailHandler, SmtpMailer
from missive_server.delivery.password_mail import KIND as PASSWORD_RESET
from missive_server.delivery.password_mail import PasswordResetMailHandler
from missive_server.delivery.scheduled import SendDraftHandler
from missive_server.delivery.webhooks import WebhookHandler
from missive_server.delivery.worker import Handler
from missive_server.services.hooks.hook_deliveries import SCHEDULES
from missive_server.services.hooks.webhook_urls import WebhookUrlPolicy
from missive_server.services.outbox import RetryPolicy
from missive_server.settings import Settings


def build_handlers(
    settings: Settings, *, http_client: httpx.Client, clock: Clock | None = None
) -> dict[str, Handler]:
    """One handler per ``OutboxItem.kind`` (db/models/outbox.py)."""
    mailer = build_mailer(settings)
    handlers: dict[str, Handler] = {"mail": MailHandler(mailer)}
    handlers[PASSWORD_RESET] = PasswordResetMailHandler(mailer, sender=settings.system_mail_from)
    handlers["channel"] = build_channel_handler(http_client, public_url=settings.public_base)
    handlers["send_draft"] = SendDraftHandler.from_settings(settings)
    handlers["analytics_report"] = AnalyticsReportHandler(clock or SystemClock())
    handlers["webhook"] = WebhookHandler(
        http_client,
        timeout=settings.webhook_timeout_seconds,
        disable_after=settings.webhook_disable_after,
        urls=WebhookUrlPolicy.from_settings(settings),
    )
    return handlers


def build_policies(settings: Settings) -> dict[str, RetryPolicy]:
    """Kinds retried on their own schedule; every other kind on the global delivery policy."""
    return {"webhook": SCHEDULES[settings.webhook_retry_schedule]}


def build_mailer(settings: Settings) -> Mailer:
    """SMTP through ``MISSIVE_SMTP_URL``; without one, mail is captured in the outbox."""
    return SmtpMailer(settings.smtp_url) if settings.smtp_url else CaptureMailer()
