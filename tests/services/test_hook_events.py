"""Hook events below the API: the incoming-type mapping, the filters, recording and dispatch."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from missive_server.db.models import Comment, Conversation, Hook, Message
from missive_server.services import events
from missive_server.services.hooks import hook_dispatch
from missive_server.services.hooks._filters import HookSubject, matches
from tests.api.hooks_support import T0, World, bodies_for, make_hook, make_world, webhooks
from tests.factories import Factory


@pytest.mark.parametrize(
    ("account_type", "message_type", "event"),
    [
        ("email", "email", "incoming_email"),
        ("sms", "sms", "incoming_sms_message"),
        ("whatsapp", "whatsapp", "incoming_whatsapp_message"),
        ("messenger", "messenger", "incoming_facebook_message"),
        ("instagram", "instagram", "incoming_facebook_message"),
        ("live_chat", "live_chat", "incoming_twilio_chat_message"),
        ("custom", "email", "incoming_email"),
        ("custom", "custom_text", None),
        ("custom", "custom_html", None),
        (None, "email", "incoming_email"),
    ],
)
def test_incoming_event_by_account_type(
    account_type: str | None, message_type: str, event: str | None
) -> None:
    assert events.incoming_event(account_type, message_type) == event


def _message(**fields: object) -> Message:
    values: dict[str, object] = {"type": "email", "body": None, "subject": None, "from_field": None}
    values.update(fields)
    return Message(**values)


@pytest.mark.parametrize(
    ("filters", "subject", "expected"),
    [
        ({}, HookSubject(), True),
        ({"content_contains": "x"}, HookSubject(), False),
        ({"is_task": True}, HookSubject(comment=Comment(body="a", mentions=[], task_id="t")), True),
        ({"is_task": True}, HookSubject(message=_message(body="a")), False),
        ({"from_eq": "a@b.c"}, HookSubject(comment=Comment(body="a", mentions=[])), False),
        (
            {"from_eq": "+1555"},
            HookSubject(message=_message(from_field={"phone_number": "+1555"})),
            True,
        ),
        (
            {"content_contains": "a  b"},
            HookSubject(message=_message(type="sms", body="A\n b")),
            False,
        ),
        (
            {"content_contains": "a b"},
            HookSubject(message=_message(type="sms", body="A\n b")),
            True,
        ),
        ({"content_starts_with": "<p>"}, HookSubject(message=_message(body="<p>Hi</p>")), False),
        ({"subject_contains": "x"}, HookSubject(message=_message(subject=None)), False),
    ],
)
def test_filters(filters: dict[str, object], subject: HookSubject, expected: bool) -> None:
    assert matches(Hook(**{"is_task": False, **filters}), subject) is expected


@pytest.fixture
def world(factory: Factory) -> World:
    return make_world(factory)


def test_recorded_events_are_queued_once_at_commit(session: Session, world: World) -> None:
    hook = make_hook(session, world.alice, "conversation_closed", org=world.org)
    conversation = session.get(Conversation, world.conversation.id)
    assert conversation is not None
    for _ in range(2):
        events.record(session, event="conversation_closed", conversation=conversation, now=T0)
    assert webhooks(session) == []  # nothing before the commit

    session.commit()

    assert len(bodies_for(session, hook)) == 1
    assert hook_dispatch.dispatch(session) == []  # nothing left pending


def test_rolled_back_events_are_forgotten(session: Session, world: World) -> None:
    make_hook(session, world.alice, "conversation_closed", org=world.org)
    conversation = session.get(Conversation, world.conversation.id)
    assert conversation is not None
    events.record(session, event="conversation_closed", conversation=conversation, now=T0)
    session.rollback()
    session.commit()
    assert webhooks(session) == []


def test_emit_returns_the_deliveries(session: Session, world: World) -> None:
    first = make_hook(session, world.alice, "team_change", org=world.org)
    second = make_hook(session, world.alice, "team_change")
    conversation = session.get(Conversation, world.conversation.id)
    assert conversation is not None

    deliveries = hook_dispatch.emit(session, event="team_change", conversation=conversation, now=T0)
    session.commit()

    assert sorted(d.hook_id for d in deliveries) == sorted([first.id, second.id])
    assert {d.event for d in deliveries} == {"team_change"}
    assert all(d.conversation_id == conversation.id for d in deliveries)
