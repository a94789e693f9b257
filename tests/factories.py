"""Test data builders. Each call writes and commits, so the API under test sees the rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from missive_server.auth import hash_token
from missive_server.clock import FrozenClock
from missive_server.db.models import (
    ApiToken,
    Conversation,
    ConversationLabel,
    Membership,
    Organization,
    SharedLabel,
    SharedLabelUser,
    Team,
    TeamMember,
    User,
)
from missive_server.ids import new_id
from missive_server.services.conversations import conversation_state, conversations
from missive_server.services.conversations import messages as messages_service
from missive_server.services.conversations.messages import MessageInput
from missive_server.services.directory import tokens

#: A well-formed id no row has: a constant, so parametrized test names are the same in
#: every run and every pytest-xdist worker.
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


class Factory:
    def __init__(self, session: Session, clock: FrozenClock) -> None:
        self.session = session
        self.clock = clock
        self.conversation = ConversationFactory(session, clock)

    def _save(self, *rows: object) -> None:
        self.session.add_all(rows)
        self.session.commit()

    def organization(self, name: str = "Acme") -> Organization:
        org = Organization(id=new_id(), name=name, created_at=self.clock.now())
        self._save(org)
        return org

    def user(
        self,
        email: str = "alice@acme.test",
        name: str | None = None,
        organizations: dict[Organization, str] | None = None,
    ) -> User:
        user = User(
            id=new_id(),
            email=email,
            name=name or email.split("@")[0].title(),
            created_at=self.clock.now(),
        )
        memberships = [
            Membership(organization_id=org.id, user_id=user.id, role=role)
            for org, role in (organizations or {}).items()
        ]
        self._save(user)
        self._save(*memberships)
        return user

    def token(self, user: User, token: str | None = None) -> str:
        """A token already in use: its "last used" time is now, so the first request a test
        makes with it does not also refresh it (a write once per ``LAST_USED_GRANULARITY``)
        and statement counts are those of a token in steady use."""
        now = self.clock.now()
        value = tokens.issue_token(self.session, user_id=user.id, now=now, token=token)
        self.session.flush()
        self.session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_token(value))
            .values(last_used_at=now)
        )
        self.session.commit()
        return value

    def member(
        self, org: Organization, role: str = "user", email: str | None = None
    ) -> tuple[User, str]:
        """A user of ``org`` and a token for them."""
        user = self.user(email or f"{new_id()[:8]}@acme.test", organizations={org: role})
        return user, self.token(user)

    def team(
        self,
        org: Organization,
        name: str = "Support",
        active: list[User] | None = None,
        observers: list[User] | None = None,
    ) -> Team:
        team = Team(id=new_id(), organization_id=org.id, name=name, created_at=self.clock.now())
        self._save(team)
        members = [
            TeamMember(team_id=team.id, user_id=u.id, role="active", position=i)
            for i, u in enumerate(active or [])
        ] + [
            TeamMember(team_id=team.id, user_id=u.id, role="observer", position=i)
            for i, u in enumerate(observers or [])
        ]
        self._save(*members)
        return team

    def shared_label(
        self,
        org: Organization,
        name: str = "VIP",
        parent: SharedLabel | None = None,
        visibility: str = "organization",
        share_with_users: list[User] | None = None,
        color: str | None = None,
    ) -> SharedLabel:
        label = SharedLabel(
            id=new_id(),
            organization_id=org.id,
            name=name,
            color=color,
            parent_id=parent.id if parent else None,
            visibility=visibility,
            created_at=self.clock.now(),
        )
        self._save(label)
        self._save(
            *[
                SharedLabelUser(shared_label_id=label.id, user_id=u.id)
                for u in share_with_users or []
            ]
        )
        return label


class ConversationFactory:
    """``factory.conversation(...)``: a conversation with users, team, labels and messages."""

    def __init__(self, session: Session, clock: FrozenClock) -> None:
        self.session = session
        self.clock = clock

    def __call__(
        self,
        org: Organization | None,
        *,
        users: list[User] | None = None,
        team: Team | None = None,
        labels: list[SharedLabel] | None = None,
        messages: list[MessageInput] | None = None,
        at: int | None = None,
        location: str = "inbox",
        subject: str | None = None,
    ) -> Conversation:
        now = at if at is not None else self.clock.now()
        conversation = conversations.create_conversation(
            self.session,
            now=now,
            organization_id=org.id if org else None,
            team_id=team.id if team else None,
            subject=subject,
        )
        conversation_state.grant_access(
            self.session, conversation, [u.id for u in users or []], now=now, location=location
        )
        for label in labels or []:
            self.session.add(
                ConversationLabel(
                    conversation_id=conversation.id,
                    shared_label_id=label.id,
                    added_at=now,
                    last_activity_at=now,
                )
            )
        self.session.flush()
        for data in messages or [
            MessageInput(
                subject="Hello",
                body="<p>Hi</p>",
                delivered_at=now,
                from_field={"name": "C", "address": "c@example.com"},
                to_fields=[{"address": "support@acme.test"}],
            )
        ]:
            messages_service.add_message(self.session, conversation, data, now=now)
        self.session.commit()
        return conversation


def set_user_state(
    factory: Factory, conversation: Conversation, user: User, **state: object
) -> None:
    """Overwrite one user's mailbox state (``location``, ``flagged``, ``assigned`` ...)."""
    from missive_server.db.models import ConversationUser

    row = factory.session.get(ConversationUser, (conversation.id, user.id))
    assert row is not None, "the user has no access to this conversation"
    for name, value in state.items():
        setattr(row, name, value)
    factory.session.commit()


class EntryFactory:
    """Drafts, comments, tasks and posts written as ORM rows (``EntryFactory(session, clock)``)."""

    def __init__(self, session: Session, clock: FrozenClock) -> None:
        self.session = session
        self.clock = clock

    def message(self, conversation: Conversation, data: MessageInput) -> Message:
        now = data.delivered_at if data.delivered_at is not None else self.clock.now()
        message = messages_service.add_message(self.session, conversation, data, now=now)
        self.session.commit()
        return message

    def draft(
        self,
        conversation: Conversation,
        author: User | None,
        *,
        at: int | None = None,
        subject: str | None = "Draft",
        body: str | None = "<div>A draft</div>",
        send_at: int | None = None,
        attachments: list[NewAttachment] | None = None,
    ) -> Message:
        now = at if at is not None else self.clock.now()
        draft = Message(
            id=new_id(),
            conversation_id=conversation.id,
            author_id=author.id if author else None,
            type="email",
            draft=True,
            subject=subject,
            preview=preview(body),
            body=body,
            from_field={"name": author.name, "address": author.email} if author else None,
            to_fields=[{"name": "Phil", "address": "phil@example.com"}],
            cc_fields=[],
            bcc_fields=[],
            reply_to_fields=[],
            in_reply_to=[],
            references=[],
            created_at=now,
            updated_at=now,
            send_at=send_at,
            auto_followup=False,
        )
        self.session.add(draft)
        self.session.flush()
        self.session.add_all(
            build_attachment(
                a, now=now, organization_id=conversation.organization_id, message_id=draft.id
            )
            for a in attachments or []
        )
        conversation_state.refresh_summary(self.session, conversation)
        self.session.commit()
        return draft

    def task(
        self,
        org: Organization,
        title: str = "Follow up with client",
        *,
        conversation: Conversation | None = None,
        state: str = "todo",
        due_at: int | None = None,
        started_at: int | None = None,
        closed_at: int | None = None,
        team: Team | None = None,
        assignees: list[User] | None = None,
        creator: User | None = None,
        type: str = "task",
        at: int | None = None,
    ) -> Task:
        now = at if at is not None else self.clock.now()
        task = Task(
            id=new_id(),
            organization_id=org.id,
            conversation_id=conversation.id if conversation else None,
            team_id=team.id if team else None,
            creator_id=creator.id if creator else None,
            type=type,
            title=title,
            description=None,
            state=state,
            due_at=due_at,
            started_at=started_at,
            closed_at=closed_at,
            created_at=now,
            last_activity_at=now,
        )
        self.session.add(task)
        self.session.flush()
        self.session.add_all(
            TaskAssignee(task_id=task.id, user_id=u.id, last_activity_at=now)
            for u in assignees or []
        )
        self.session.commit()
        return task

    def comment(
        self,
        conversation: Conversation,
        author: User | None,
        body: str = "This is a comment",
        *,
        at: int | None = None,
        mentions: list[dict[str, object]] | None = None,
        attachment: NewAttachment | None = None,
        task: Task | None = None,
    ) -> Comment:
        now = at if at is not None else self.clock.now()
        stored = None
        if attachment is not None:
            stored = build_attachment(
                attachment, now=now, organization_id=conversation.organization_id
            )
            self.session.add(stored)
            self.session.flush()
        comment = Comment(
            id=new_id(),
            conversation_id=conversation.id,
            author_id=author.id if author else None,
            body=body,
            mentions=mentions or [],
            attachment_id=stored.id if stored else None,
            task_id=task.id if task else None,
            created_at=now,
        )
        self._save(comment)
        return comment

    def post(
        self,
        conversation: Conversation,
        author: User | None = None,
        *,
        at: int | None = None,
        username: str | None = None,
        username_icon: str | None = None,
        notification: dict[str, object] | None = None,
        attachments: list[dict[str, object]] | None = None,
        text: str | None = None,
        markdown: str | None = None,
    ) -> Post:
        post = Post(
            id=new_id(),
            conversation_id=conversation.id,
            author_id=author.id if author else None,
            username=username,
            username_icon=username_icon,
            notification=notification
            if notification is not None
            else {"title": "A title", "body": "A body"},
            text=text,
            markdown=markdown,
            attachments=attachments or [],
            created_at=at if at is not None else self.clock.now(),
        )
        self._save(post)
        return post

    def _save(self, row: object) -> None:
        self.session.add(row)
        self.session.commit()


from missive_server.db.models import Comment, Message, Post, Task, TaskAssignee  # noqa: E402
from missive_server.services.conversations.attachments import NewAttachment, build_attachment  # noqa: E402
from missive_server.services.text import preview  # noqa: E402


def email(at: int, subject: str = "Hello", **kwargs: Any) -> MessageInput:
    """An incoming email from Sam to Phil, delivered at ``at``."""
    return MessageInput(
        subject=subject,
        body=f"<div>{subject}</div>",
        delivered_at=at,
        from_field={"name": "Sam", "address": "sam@example.com"},
        to_fields=[{"name": "Phil", "address": "phil@acme.test"}],
        **kwargs,
    )
