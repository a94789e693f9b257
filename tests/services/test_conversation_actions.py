"""The spec 1B action family, below the HTTP layer."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Conversation,
    ConversationLabel,
    ConversationUser,
    Organization,
    User,
)
from missive_server.errors import BadRequest, NotFound
from missive_server.schemas.conversation_actions import ConversationActions
from missive_server.services.conversations import merges
from missive_server.services.conversations.conversation_actions import (
    apply_actions,
    locate_conversation,
    validate_actions,
)
from missive_server.services.conversations.messages import MessageInput
from tests.factories import Factory, set_user_state


@dataclass
class World:
    org: Organization
    alice: User
    bob: User
    carol: User
    actor: Principal


def principal(user: User, roles: dict[str, str]) -> Principal:
    return Principal(user_id=user.id, name=user.name, email=user.email, roles=roles)


@pytest.fixture
def world(factory: Factory) -> World:
    org = factory.organization("Acme")
    alice = factory.user("alice@acme.test", organizations={org: "user"})
    bob = factory.user("bob@acme.test", organizations={org: "user"})
    carol = factory.user("carol@acme.test", organizations={org: "user"})
    return World(org, alice, bob, carol, principal(alice, {org.id: "user"}))


def states(session: Session, conversation: Conversation) -> dict[str, ConversationUser]:
    session.expire_all()
    rows = session.scalars(
        select(ConversationUser).where(ConversationUser.conversation_id == conversation.id)
    )
    return {row.user_id: row for row in rows}


def label_ids(session: Session, conversation: Conversation) -> set[str]:
    return set(
        session.scalars(
            select(ConversationLabel.shared_label_id).where(
                ConversationLabel.conversation_id == conversation.id
            )
        )
    )


def apply(session: Session, world: World, conversation: Conversation, **kw: object) -> None:
    actions = ConversationActions(**kw)  # type: ignore[arg-type]
    apply_actions(session, conversation, actions, actor=world.actor, now=1_700_000_500)
    session.commit()


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["add_users", "add_assignees", "remove_assignees", "add_shared_labels"]
)
def test_organization_is_required(session: Session, world: World, name: str) -> None:
    with pytest.raises(BadRequest) as raised:
        validate_actions(session, ConversationActions(**{name: ["x"]}), actor=world.actor)  # type: ignore[arg-type]
    assert raised.value.message == f"'organization' is required when using '{name}'"


def test_team_is_required_for_team_inbox(session: Session, world: World) -> None:
    with pytest.raises(BadRequest) as raised:
        validate_actions(session, ConversationActions(add_to_team_inbox=True), actor=world.actor)
    assert raised.value.message == "'team' is required when using 'add_to_team_inbox'"


@pytest.mark.parametrize("color", ["#12345", "red", "#GGG", "Good"])
def test_bad_colors(session: Session, world: World, color: str) -> None:
    with pytest.raises(BadRequest) as raised:
        validate_actions(session, ConversationActions(color=color), actor=world.actor)
    assert raised.value.message == (
        "'color' must be a HEX color (#RGB or #RRGGBB) or one of good, warning, danger"
    )


@pytest.mark.parametrize("color", ["#abc", "#A0B1C2", "good", "warning", "danger"])
def test_good_colors(session: Session, world: World, color: str) -> None:
    validate_actions(session, ConversationActions(color=color), actor=world.actor)


def test_foreign_ids_are_unknown(session: Session, factory: Factory, world: World) -> None:
    other = factory.organization("Other")
    stranger = factory.user("x@other.test", organizations={other: "user"})
    foreign_label = factory.shared_label(other)
    foreign_team = factory.team(other)
    org = world.org.id
    cases = [
        (ConversationActions(organization=other.id), f"Organization with id '{other.id}'"),
        (
            ConversationActions(organization=org, add_users=[stranger.id]),
            f"User with id '{stranger.id}'",
        ),
        (
            ConversationActions(organization=org, add_shared_labels=[foreign_label.id]),
            f"Shared label with id '{foreign_label.id}'",
        ),
        (ConversationActions(remove_shared_labels=[foreign_label.id]), "Shared label with id"),
        (ConversationActions(team=foreign_team.id), f"Team with id '{foreign_team.id}'"),
        (ConversationActions(organization=org, team=foreign_team.id), "Team with id"),
    ]
    for actions, message in cases:
        with pytest.raises(NotFound) as raised:
            validate_actions(session, actions, actor=world.actor)
        assert raised.value.message.startswith(message)


def test_delegates_labels_need_admin_or_sharing(
    session: Session, factory: Factory, world: World
) -> None:
    private = factory.shared_label(world.org, "Private", visibility="delegates")
    shared = factory.shared_label(
        world.org, "Shared", visibility="delegates", share_with_users=[world.alice]
    )
    org = world.org.id

    with pytest.raises(NotFound):
        validate_actions(
            session,
            ConversationActions(organization=org, add_shared_labels=[private.id]),
            actor=world.actor,
        )
    validate_actions(
        session,
        ConversationActions(organization=org, add_shared_labels=[shared.id]),
        actor=world.actor,
    )
    admin = principal(world.bob, {org: "admin"})
    validate_actions(
        session, ConversationActions(organization=org, add_shared_labels=[private.id]), actor=admin
    )


def test_conversation_of_another_organization_is_unknown(
    session: Session, factory: Factory, world: World
) -> None:
    other = factory.organization("Other")
    conversation = factory.conversation(other, users=[world.alice])
    actor = principal(world.alice, {world.org.id: "user", other.id: "user"})

    with pytest.raises(NotFound) as raised:
        validate_actions(
            session,
            ConversationActions(organization=world.org.id),
            actor=actor,
            conversation=conversation,
        )
    assert raised.value.message == f"Conversation with id '{conversation.id}' does not exist"


# --- effects ----------------------------------------------------------------------------


def test_personal_conversation_is_linked_to_the_organization(
    session: Session, factory: Factory, world: World
) -> None:
    conversation = factory.conversation(None, users=[world.alice])
    apply(session, world, conversation, organization=world.org.id, add_users=[world.bob.id])
    session.refresh(conversation)
    assert conversation.organization_id == world.org.id
    assert states(session, conversation)[world.bob.id].location == "inbox"


def test_team_link_grants_members_and_observers_all_only(
    session: Session, factory: Factory, world: World
) -> None:
    team = factory.team(world.org, active=[world.bob], observers=[world.carol])
    conversation = factory.conversation(world.org, users=[world.alice])
    apply(session, world, conversation, team=team.id)
    session.refresh(conversation)
    rows = states(session, conversation)
    assert (conversation.team_id, conversation.team_state) == (team.id, "inbox")
    assert {u: r.location for u, r in rows.items()} == {
        world.alice.id: "inbox",
        world.bob.id: "none",
        world.carol.id: "none",
    }


def test_team_is_kept_unless_forced(session: Session, factory: Factory, world: World) -> None:
    first, second = factory.team(world.org, "First"), factory.team(world.org, "Second")
    conversation = factory.conversation(world.org, users=[world.alice], team=first)

    apply(session, world, conversation, team=second.id)
    session.refresh(conversation)
    assert conversation.team_id == first.id

    apply(session, world, conversation, team=second.id, force_team=True)
    session.refresh(conversation)
    assert conversation.team_id == second.id


def test_add_users_puts_it_in_their_inbox(session: Session, factory: Factory, world: World) -> None:
    conversation = factory.conversation(world.org, users=[world.alice, world.bob, world.carol])
    set_user_state(factory, conversation, world.bob, location="none")
    set_user_state(factory, conversation, world.carol, location="closed")
    apply(
        session,
        world,
        conversation,
        organization=world.org.id,
        add_users=[world.bob.id, world.carol.id],
    )
    rows = states(session, conversation)
    assert rows[world.bob.id].location == "inbox"
    assert rows[world.carol.id].location == "closed"


def test_assign_and_unassign(session: Session, factory: Factory, world: World) -> None:
    conversation = factory.conversation(world.org, users=[world.alice])
    set_user_state(factory, conversation, world.alice, location="closed")
    org = world.org.id
    apply(
        session, world, conversation, organization=org, add_assignees=[world.alice.id, world.bob.id]
    )
    rows = states(session, conversation)
    for user in (world.alice, world.bob):
        row = rows[user.id]
        assert (row.assigned, row.unassigned, row.location) == (True, False, "inbox")
        assert row.assigned_at == 1_700_000_500

    apply(
        session,
        world,
        conversation,
        organization=org,
        remove_assignees=[world.bob.id, world.carol.id],
    )
    rows = states(session, conversation)
    assert (rows[world.bob.id].assigned, rows[world.bob.id].unassigned) == (False, True)
    assert rows[world.alice.id].assigned is True
    assert world.carol.id not in rows


def test_labels_share_with_their_audience(session: Session, factory: Factory, world: World) -> None:
    team = factory.team(world.org, active=[world.carol])
    by_user = factory.shared_label(world.org, "By user", share_with_users=[world.bob])
    by_team = factory.shared_label(world.org, "By team")
    by_team.share_with_team_id = team.id
    session.commit()
    conversation = factory.conversation(world.org, users=[world.alice])

    apply(
        session,
        world,
        conversation,
        organization=world.org.id,
        add_shared_labels=[by_user.id, by_team.id, by_user.id],
    )
    rows = states(session, conversation)
    assert label_ids(session, conversation) == {by_user.id, by_team.id}
    assert rows[world.bob.id].location == "none"
    assert rows[world.carol.id].location == "none"

    apply(session, world, conversation, remove_shared_labels=[by_team.id])
    assert label_ids(session, conversation) == {by_user.id}


def test_label_shared_with_organization(session: Session, factory: Factory, world: World) -> None:
    label = factory.shared_label(world.org, "Everyone")
    label.share_with_organization = True
    session.commit()
    conversation = factory.conversation(world.org, users=[world.alice])
    apply(session, world, conversation, organization=world.org.id, add_shared_labels=[label.id])
    assert set(states(session, conversation)) == {world.alice.id, world.bob.id, world.carol.id}


def test_close_reopen_and_inbox(session: Session, factory: Factory, world: World) -> None:
    team = factory.team(world.org)
    conversation = factory.conversation(
        world.org, users=[world.alice, world.bob, world.carol], team=team
    )
    set_user_state(factory, conversation, world.carol, location="trashed")

    apply(session, world, conversation, close=True, reopen=True)
    session.refresh(conversation)
    rows = states(session, conversation)
    assert [rows[u.id].location for u in (world.alice, world.bob, world.carol)] == [
        "closed",
        "closed",
        "trashed",
    ]
    assert conversation.team_state == "closed"

    apply(session, world, conversation, reopen=True)
    session.refresh(conversation)
    rows = states(session, conversation)
    assert [rows[u.id].location for u in (world.alice, world.carol)] == ["inbox", "trashed"]
    assert conversation.team_state == "inbox"

    apply(session, world, conversation, add_to_inbox=True)
    assert states(session, conversation)[world.carol.id].location == "inbox"


def test_team_inbox(session: Session, factory: Factory, world: World) -> None:
    team = factory.team(world.org)
    conversation = factory.conversation(world.org, users=[world.alice], team=team)
    conversation.team_state = "closed"
    session.commit()
    apply(session, world, conversation, team=team.id, add_to_team_inbox=True)
    session.refresh(conversation)
    assert conversation.team_state == "inbox"


def test_subject_and_color_set_and_clear(session: Session, factory: Factory, world: World) -> None:
    conversation = factory.conversation(world.org, users=[world.alice])
    apply(session, world, conversation, subject="New", color="danger")
    session.refresh(conversation)
    assert (conversation.subject, conversation.color) == ("New", "danger")
    apply(session, world, conversation, subject="", color="")
    session.refresh(conversation)
    assert (conversation.subject, conversation.color) == (None, None)


def test_actions_are_silent(session: Session, factory: Factory, world: World) -> None:
    label = factory.shared_label(world.org)
    conversation = factory.conversation(world.org, users=[world.alice], at=1_600_000_000)
    apply(
        session,
        world,
        conversation,
        organization=world.org.id,
        add_users=[world.bob.id],
        add_shared_labels=[label.id],
        close=True,
    )
    session.refresh(conversation)
    assert conversation.last_activity_at == 1_600_000_000
    assert {r.last_activity_at for r in states(session, conversation).values()} == {1_600_000_000}
    row = session.get(ConversationLabel, (conversation.id, label.id))
    assert row is not None
    assert row.last_activity_at == 1_600_000_000


# --- locating ---------------------------------------------------------------------------


def with_reference(
    factory: Factory, org: Organization | None, users: list[User], ref: str
) -> Conversation:
    message = MessageInput(subject="S", body="b", email_message_id=ref)
    return factory.conversation(org, users=users, messages=[message])


def test_locate_by_id_follows_merges(session: Session, factory: Factory, world: World) -> None:
    source = factory.conversation(world.org, users=[world.alice])
    target = factory.conversation(world.org, users=[world.alice])
    merges.merge_conversations(
        session, actor=world.actor, source_id=source.id, target_id=target.id, subject=None, now=1
    )
    session.commit()
    found = locate_conversation(
        session, actor=world.actor, conversation_id=source.id, references=None, organization_id=None
    )
    assert found is not None
    assert found.id == target.id
    with pytest.raises(NotFound):
        locate_conversation(
            session,
            actor=world.actor,
            conversation_id="nope",
            references=None,
            organization_id=None,
        )


def test_locate_by_references(session: Session, factory: Factory, world: World) -> None:
    mine = with_reference(factory, world.org, [world.alice], "<a@x.test>")
    second = with_reference(factory, world.org, [world.alice], "b@x.test")
    with_reference(factory, world.org, [world.bob], "<hidden@x.test>")
    personal = with_reference(factory, None, [world.alice], "p@x.test")

    def locate(refs: list[str], organization_id: str | None = None) -> str | None:
        found = locate_conversation(
            session,
            actor=world.actor,
            conversation_id=None,
            references=refs,
            organization_id=organization_id,
        )
        return found.id if found else None

    assert locate(["a@x.test"]) == mine.id
    assert locate(["<b@x.test>", "<a@x.test>"]) == second.id
    assert locate(["hidden@x.test"]) is None
    assert locate(["p@x.test"]) == personal.id
    assert locate(["p@x.test"], world.org.id) is None
    assert locate([]) is None
    with pytest.raises(NotFound):
        locate(["a@x.test"], "unknown-org")
