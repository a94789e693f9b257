"""Outbox kind ``send_draft``: a draft scheduled with ``send_at`` (spec 2.6.1) whose time has come.

The row is written with the draft, so a schedule survives restarts; the worker claims it when
due and this handler sends the draft in the worker's session. Its writes (the message, and the
``mail``/``channel`` row that delivers it) commit together with the row's outcome, so a crash
in between sends nothing twice and loses nothing. Deleting the draft, or a reply discarding an
``auto_followup`` draft, cancels the row before it is due.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from missive_server.db.models import Message, OutboxItem
from missive_server.delivery.worker import Delivered, DeliveryError
from missive_server.services.outbox import RetryPolicy
from missive_server.services.writing.sending import send_draft
from missive_server.settings import Settings


class SendDraftHandler:
    def __init__(self, policy: RetryPolicy) -> None:
        #: Retries of the delivery rows it enqueues.
        self.policy = policy

    @classmethod
    def from_settings(cls, settings: Settings) -> SendDraftHandler:
        return cls(RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff_seconds))

    def deliver(self, session: Session, item: OutboxItem, *, now: int) -> Delivered:
        draft = session.get(Message, item.message_id) if item.message_id else None
        if draft is None or not draft.draft:
            # Normally cancelled with the draft; this is a deletion racing the claim.
            raise DeliveryError("the scheduled draft was deleted or already sent", permanent=True)
        send_draft(session, draft, now=now, policy=self.policy)
        return Delivered()
