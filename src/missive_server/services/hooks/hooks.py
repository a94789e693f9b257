"""Webhook subscriptions (spec 2.15): who may create, see and delete them, and their checks.

A personal hook (no ``organization``) belongs to its creator. An organization hook is a rule of
the organization, and creating rules requires an admin or owner (spec 3.1); its admins and owners
manage it, and so does its creator while still a member. Anyone else gets the unknown-id 404.
"""

from __future__ import annotations

import base64
import logging
import secrets
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import Hook, Membership
from missive_server.errors import not_found
from missive_server.ids import new_id
from missive_server.pagination import OffsetPage
from missive_server.schemas.hooks import WHSEC_PREFIX, HookIn, HookPatch
from missive_server.services import outbox
from missive_server.services.directory.organizations import require_admin, require_member
from missive_server.services.hooks.webhook_urls import WebhookUrlPolicy

RESOURCE = "Hook"
#: Random bytes of a generated secret (Standard Webhooks: 24 to 64).
SECRET_BYTES = 32

log = logging.getLogger(__name__)


def new_secret() -> str:
    """``whsec_<base64>``: Standard Webhooks libraries take it as is, and Missive-style
    receivers key ``X-Hook-Signature`` with the whole string (docs/compatibility.md)."""
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def manageable(actor: Principal) -> ColumnElement[bool]:
    admin_of = [o for o in actor.organization_ids if actor.is_admin(o)]
    return or_(
        and_(Hook.organization_id.is_(None), Hook.user_id == actor.user_id),
        Hook.organization_id.in_(admin_of),
        and_(Hook.organization_id.in_(actor.organization_ids), Hook.user_id == actor.user_id),
    )


def create_hook(
    session: Session, *, actor: Principal, item: HookIn, now: int, urls: WebhookUrlPolicy
) -> Hook:
    """Checks cheapest first; the URL's DNS lookup comes last."""
    organization_id = None
    if item.organization is not None:
        organization_id = require_admin(actor, item.organization)
    hook = Hook(
        id=new_id(),
        type=item.type,
        url=item.url,
        secret=item.secret or new_secret(),
        description=item.description or f"Webhook: {item.type}",
        organization_id=organization_id,
        user_id=actor.user_id,
        content_contains=item.content_contains,
        content_starts_with=item.content_starts_with,
        content_ends_with=item.content_ends_with,
        is_task=bool(item.is_task),
        author_id=_require_user(session, actor, organization_id, item.author),
        mention_id=_require_user(session, actor, organization_id, item.mention),
        from_eq=item.from_eq,
        subject_contains=item.subject_contains,
        enabled=True,
        consecutive_failures=0,
        disabled_at=None,
        created_at=now,
    )
    urls.check_subscription(item.url, field="hooks.url")
    session.add(hook)
    session.flush()
    # The host only: query strings often hold receivers' tokens, and the secret never appears.
    log.info("created %s hook %s to %s", hook.type, hook.id, urlsplit(hook.url).hostname)
    return hook


def _require_user(
    session: Session, actor: Principal, organization_id: str | None, user_id: str | None
) -> str | None:
    """``author``/``mention``: a member of the hook's organization; for a personal hook, the
    caller or someone sharing one of the caller's organizations. Others are unknown (404)."""
    if user_id is None or (organization_id is None and user_id == actor.user_id):
        return user_id
    organizations = [organization_id] if organization_id else list(actor.organization_ids)
    member = session.scalar(
        select(
            exists().where(
                Membership.user_id == user_id, Membership.organization_id.in_(organizations)
            )
        )
    )
    if not member:
        raise not_found("User", user_id)
    return user_id


def list_hooks(
    session: Session, *, actor: Principal, organization_id: str | None, page: OffsetPage
) -> Sequence[Hook]:
    """Oldest first; ``organization`` narrows to that organization's hooks (no personal ones)."""
    query = select(Hook).where(manageable(actor))
    if organization_id is not None:
        query = query.where(Hook.organization_id == require_member(actor, organization_id))
    return session.scalars(
        query.order_by(Hook.created_at, Hook.id).limit(page.limit).offset(page.offset)
    ).all()


def get_hook(session: Session, *, actor: Principal, hook_id: str) -> Hook:
    wanted = hook_id.strip().lower()
    hook = session.scalar(select(Hook).where(Hook.id == wanted, manageable(actor)))
    if hook is None:
        raise not_found(RESOURCE, hook_id)
    return hook


def update_hook(
    session: Session, *, actor: Principal, hook_id: str, patch: HookPatch, now: int
) -> Hook:
    """Re-enabling starts the failure count afresh (the auto-disable limit is consecutive
    failures); disabling by hand records when, as the auto-disable does."""
    hook = get_hook(session, actor=actor, hook_id=hook_id)
    if patch.enabled and not hook.enabled:
        hook.enabled, hook.consecutive_failures, hook.disabled_at = True, 0, None
    elif not patch.enabled and hook.enabled:
        hook.enabled, hook.disabled_at = False, now
    session.flush()
    return hook


def delete_hook(session: Session, *, actor: Principal, hook_id: str, now: int) -> None:
    """Queued deliveries are cancelled (still visible in the outbox); the delivery log goes
    with the hook (foreign-key cascade)."""
    hook = get_hook(session, actor=actor, hook_id=hook_id)
    outbox.cancel_pending_deliveries(session, now=now, hook_id=hook.id)
    session.delete(hook)
    session.flush()
