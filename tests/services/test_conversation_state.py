"""``conversation_state.touch``: Core updates that keep the session's loaded copies in step."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from missive_server.db.models import ConversationLabel, ConversationUser
from missive_server.services.conversations import conversation_state
from tests.factories import Factory

T0 = 1_700_000_000


def test_touch_moves_every_copy_and_the_loaded_ones_without_dirtying_them(
    session: Session, factory: Factory
) -> None:
    org = factory.organization()
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    label = factory.shared_label(org, "Billing")
    conversation = factory.conversation(org, users=[alice], labels=[label], at=T0)
    session.commit()
    loaded = session.scalars(
        select(ConversationUser).where(ConversationUser.conversation_id == conversation.id)
    ).all()
    # A copy added in this transaction and not flushed yet must be moved too.
    session.add(
        ConversationUser(
            conversation_id=conversation.id,
            user_id=bob.id,
            location="inbox",
            flagged=False,
            assigned=False,
            unassigned=False,
            added_at=T0,
            last_activity_at=T0,
        )
    )

    conversation_state.touch(session, conversation, T0 + 60)

    assert [row.last_activity_at for row in loaded] == [T0 + 60]
    assert not session.dirty, "synchronised copies must not be flushed again"
    statements: list[str] = []
    event.listen(session.get_bind(), "before_cursor_execute", lambda *a: statements.append(a[2]))
    session.commit()
    assert statements == [], statements  # everything was written by touch itself
    session.expire_all()
    users = session.scalars(
        select(ConversationUser.last_activity_at).where(
            ConversationUser.conversation_id == conversation.id
        )
    ).all()
    labels = session.scalars(
        select(ConversationLabel.last_activity_at).where(
            ConversationLabel.conversation_id == conversation.id
        )
    ).all()
    assert sorted(users) == [T0 + 60, T0 + 60]
    assert labels == [T0 + 60]
    assert conversation.last_activity_at == T0 + 60


def test_touch_never_moves_back(session: Session, factory: Factory) -> None:
    org = factory.organization()
    conversation = factory.conversation(org, at=T0)
    session.commit()
    conversation_state.touch(session, conversation, T0 - 60)
    assert conversation.last_activity_at == T0
    assert not session.dirty
