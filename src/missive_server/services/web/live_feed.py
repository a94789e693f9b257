"""What one user's event stream shows of the live-update log: events after a cursor, only of
conversations that user may see (the same rule as every list and page), in log order."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import WebEvent
from missive_server.errors import NotFound
from missive_server.services.conversations import conversations

BATCH = 200


def events_after(session: Session, *, actor: Principal, after: int) -> tuple[list[WebEvent], int]:
    """The visible events after ``after`` and the new cursor (past invisible ones too)."""
    rows = session.scalars(
        select(WebEvent)
        .where(
            WebEvent.id > after,
            or_(
                WebEvent.organization_id.in_(actor.organization_ids),
                WebEvent.organization_id.is_(None),
            ),
        )
        .order_by(WebEvent.id)
        .limit(BATCH)
    ).all()
    if not rows:
        return [], after
    visible = {cid for cid in {r.conversation_id for r in rows} if _visible(session, actor, cid)}
    return [r for r in rows if r.conversation_id in visible], rows[-1].id


def _visible(session: Session, actor: Principal, conversation_id: str) -> bool:
    try:
        conversations.read_visible_conversation(
            session, actor=actor, conversation_id=conversation_id
        )
    except NotFound:
        return False
    return True
