"""Outbox kind ``channel``: a sent message of a non-email channel, handed to its adapter.

- SMS, WhatsApp, Messenger, Instagram, live chat: ``RecordingAdapter`` records the message as
  delivered (nothing leaves the machine; the outbox row keeps a JSON record of what would have
  been sent, marked captured), as the mail capture does for email without a relay.
- custom channels: ``CustomChannelAdapter`` POSTs the spec 3.4 payload to the channel's webhook
  URL, signed ``X-Hook-Signature: sha256=<hex>`` with its secret (spec 3.2).

Retries (docs/compatibility.md): a 2xx answer is delivered. Transport errors, timeouts (15 s,
spec 3.1), 3xx (redirects are never followed: the URL is what the channel says), 408, 425, 429
and 5xx are retried with the worker's backoff; any other 4xx fails at once, since the receiver
refused these bytes and would refuse them again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson
from sqlalchemy.orm import Session

from missive_server import __version__
from missive_server.auth import Principal
from missive_server.db.models import Account, Conversation, Message, OutboxItem
from missive_server.delivery.signing import SIGNATURE_HEADER, sign
from missive_server.delivery.worker import Delivered, DeliveryError
from missive_server.schemas.attachments import render_attachment
from missive_server.schemas.conversations import render_conversation
from missive_server.schemas.messages import MessageView
from missive_server.schemas.users import render_user_ref
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.conversations.conversations import resolve_merges
from missive_server.services.conversations.messages import load_message_views
from missive_server.services.directory.principals import principal_for_user

log = logging.getLogger("missive_server.channels")

#: Spec 3.1: a receiver must answer within 15 seconds.
WEBHOOK_TIMEOUT_SECONDS = 15.0
#: Client errors that say "later", not "never".
RETRIED_CLIENT_ERRORS = frozenset({408, 425, 429})
#: Account types whose messages are recorded, not sent anywhere.
RECORDED_CHANNELS = ("sms", "whatsapp", "messenger", "instagram", "live_chat")


class ChannelAdapter(Protocol):
    def deliver(
        self, session: Session, message: Message, account: Account, *, now: int
    ) -> Delivered:
        """Deliver ``message`` through ``account``; raises ``DeliveryError``."""
        ...


class ChannelHandler:
    """Outbox kind ``channel``: payload ``{"channel": <account type>, "account_id"}``, written
    by the sending service with the message; the adapter is chosen by the account's type."""

    def __init__(self, adapters: Mapping[str, ChannelAdapter]) -> None:
        self.adapters = adapters

    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        message = session.get(Message, item.message_id) if item.message_id else None
        if message is None:
            raise DeliveryError("the message of this delivery no longer exists", permanent=True)
        account_id = item.payload.get("account_id") or message.account_id
        account = session.get(Account, account_id) if isinstance(account_id, str) else None
        if account is None:
            raise DeliveryError("the channel of this message no longer exists", permanent=True)
        adapter = self.adapters.get(account.type)
        if adapter is None:
            raise DeliveryError(f"no adapter delivers '{account.type}' messages", permanent=True)
        return adapter.deliver(session, message, account, now=now)


def build_channel_handler(
    http_client: httpx.Client, *, public_url: str, timeout: float = WEBHOOK_TIMEOUT_SECONDS
) -> ChannelHandler:
    recording = RecordingAdapter(public_url=public_url)
    adapters: dict[str, ChannelAdapter] = dict.fromkeys(RECORDED_CHANNELS, recording)
    adapters["custom"] = CustomChannelAdapter(http_client, public_url=public_url, timeout=timeout)
    return ChannelHandler(adapters)


class RecordingAdapter:
    """The default adapter: no provider is configured, so the message is recorded as
    delivered; the row's ``raw`` shows what would have been sent (``missive-server outbox``)."""

    def __init__(self, *, public_url: str) -> None:
        self.public_url = public_url

    def deliver(
        self, session: Session, message: Message, account: Account, *, now: int
    ) -> Delivered:
        view = load_message_views(session, [message], all_authors=True)[0]
        record = {
            "channel": account.type,
            "account": {
                "id": account.id,
                "name": account.name,
                "phone_number": account.phone_number,
                "provider": account.provider,
            },
            "message": render_channel_message(view, public_url=self.public_url),
        }
        log.info("recorded %s message %s as delivered", account.type, message.id)
        return Delivered(raw=orjson.dumps(record), captured=True)


class CustomChannelAdapter:
    """POST the spec 3.4 payload to the channel's webhook URL, signed with its secret."""

    def __init__(
        self,
        http_client: httpx.Client,
        *,
        public_url: str,
        timeout: float = WEBHOOK_TIMEOUT_SECONDS,
    ) -> None:
        self.http_client = http_client
        self.public_url = public_url
        self.timeout = timeout

    def deliver(
        self, session: Session, message: Message, account: Account, *, now: int
    ) -> Delivered:
        if account.message_type == "email":
            # Spec 3.4: "email type cannot send via webhook".
            raise DeliveryError(
                "email custom channels do not send through a webhook", permanent=True
            )
        if not account.webhook_url:
            raise DeliveryError("channel has no webhook URL", permanent=True)
        # The bytes signed are the bytes sent (orjson: compact, non-ASCII as is, no "\/").
        body = orjson.dumps(channel_payload(session, message, public_url=self.public_url))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"missive-server/{__version__}",
        }
        if account.secret:
            headers[SIGNATURE_HEADER] = sign(account.secret, body)
        self._post(account.webhook_url, body, headers)
        log.info("posted message %s to %s", message.id, display_url(account.webhook_url))
        return Delivered(raw=body, captured=False)

    def _post(self, url: str, body: bytes, headers: dict[str, str]) -> None:
        target = display_url(url)
        try:
            status, reason = post_once(
                self.http_client, url, body=body, headers=headers, timeout=self.timeout
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as error:
            raise DeliveryError(f"invalid webhook URL {target}: {error}", permanent=True) from None
        except httpx.HTTPError as error:
            raise DeliveryError(f"{target}: {type(error).__name__}: {error}") from None
        if not 200 <= status < 300:
            raise answer_error(target, status, reason)


def post_once(
    http_client: httpx.Client,
    url: str | httpx.URL,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    extensions: dict[str, Any] | None = None,
) -> tuple[int, str]:
    """One POST, redirects not followed; the status and reason phrase of the answer. The
    answer is streamed and never read: a receiver's answer body is not ours to buffer."""
    with http_client.stream(
        "POST",
        url,
        content=body,
        headers=headers,
        timeout=timeout,
        follow_redirects=False,
        extensions=extensions,
    ) as response:
        return response.status_code, response.reason_phrase


def answer_error(target: str, status: int, reason: str) -> DeliveryError:
    """A non-2xx answer; see the module docstring for which ones are retried."""
    text = f"{target} answered {status} {reason}".rstrip()
    if 300 <= status < 400:
        return DeliveryError(f"{text} (redirects are not followed)")
    permanent = 400 <= status < 500 and status not in RETRIED_CLIENT_ERRORS
    return DeliveryError(text, permanent=permanent)


def display_url(url: str) -> str:
    """The URL for logs and errors, without credentials or query (either may hold a token)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


# The payload (spec 3.4).


def channel_payload(session: Session, message: Message, *, public_url: str) -> dict[str, Any]:
    """``{"message", "conversation"}``; the conversation is rendered by the REST API's code,
    as the message's author sees it."""
    view = load_message_views(session, [message], all_authors=True)[0]
    conversation = resolve_merges(session, session.get(Conversation, message.conversation_id))
    assert conversation is not None  # messages cascade with their conversation
    viewer = _viewer(session, message, conversation)
    [conversation_view] = load_views(session, [conversation], actor=viewer)
    return {
        "message": render_channel_message(view, public_url=public_url),
        "conversation": render_conversation(conversation_view, public_url=public_url),
    }


def render_channel_message(view: MessageView, *, public_url: str) -> dict[str, Any]:
    """The message object of spec 3.4: with ``body``, without email-only fields."""
    m = view.message
    return {
        "id": m.id,
        "preview": m.preview,
        "type": m.type,
        "delivered_at": m.delivered_at,
        "updated_at": m.updated_at,
        "created_at": m.created_at,
        "references": m.references,
        "body": m.body,
        "from_field": m.from_field,
        "to_fields": m.to_fields,
        "external_id": m.external_id,
        "attachments": [render_attachment(a, public_url=public_url) for a in view.attachments],
        "author": render_user_ref(view.author) if view.author else None,
    }


def _viewer(session: Session, message: Message, conversation: Conversation) -> Principal:
    """The author; a message without one (its user was deleted) is rendered as a member of
    the conversation's organization sees it."""
    author = principal_for_user(session, message.author_id) if message.author_id else None
    if author is not None:
        return author
    roles = {conversation.organization_id: "user"} if conversation.organization_id else {}
    return Principal(user_id="", name="", email="", roles=roles)
