"""conversation_search_terms (the web app's search index), backfilled from existing data

Follows 0014 (the foreign-key indexes).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 17:50:00.000000
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from missive_server.db.search_text import message_terms, text_terms

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

#: Conversations backfilled per round trip (their messages, posts and comments are read at once).
BATCH = 500

_conversations = sa.table('conversations', sa.column('id', sa.String), sa.column('subject', sa.Text))
_messages = sa.table(
    'messages',
    sa.column('conversation_id', sa.String),
    sa.column('draft', sa.Boolean),
    sa.column('subject', sa.Text),
    sa.column('body', sa.Text),
    *(sa.column(name, sa.JSON) for name in ('from_field', 'to_fields', 'cc_fields', 'bcc_fields', 'reply_to_fields')),
)
_posts = sa.table(
    'posts',
    sa.column('conversation_id', sa.String),
    sa.column('text', sa.Text),
    sa.column('markdown', sa.Text),
    sa.column('username', sa.String),
    sa.column('notification', sa.JSON),
)
_comments = sa.table('comments', sa.column('conversation_id', sa.String), sa.column('body', sa.Text))
_terms = sa.table('conversation_search_terms', sa.column('term', sa.String), sa.column('conversation_id', sa.String))


def upgrade() -> None:
    op.create_table(
        'conversation_search_terms',
        sa.Column('term', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'), nullable=False),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_search_terms_conversation_id_conversations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('term', 'conversation_id', name=op.f('pk_conversation_search_terms')),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table('conversation_search_terms', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversation_search_terms_conversation_id_term'), ['conversation_id', 'term'], unique=False)
    backfill(op.get_bind())


def backfill(connection: sa.Connection) -> None:
    """The terms services.conversations.search_terms would have written for existing data."""
    after = ''
    while True:
        batch = connection.execute(
            sa.select(_conversations.c.id, _conversations.c.subject)
            .where(_conversations.c.id > after)
            .order_by(_conversations.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        after = batch[-1][0]
        terms = _batch_terms(connection, {cid: subject for cid, subject in batch})
        rows = [{'term': t, 'conversation_id': cid} for cid, found in terms.items() for t in sorted(found)]
        if rows:
            connection.execute(sa.insert(_terms), rows)


def _batch_terms(connection: sa.Connection, subjects: dict[str, str | None]) -> dict[str, set[str]]:
    ids = list(subjects)
    terms: dict[str, set[str]] = defaultdict(set)
    for cid, subject in subjects.items():
        terms[cid] |= text_terms(subject)
    m = _messages.c
    for row in connection.execute(sa.select(_messages).where(m.conversation_id.in_(ids), m.draft.is_(False))):
        parties = [row.from_field, *(row.to_fields or []), *(row.cc_fields or []), *(row.bcc_fields or []), *(row.reply_to_fields or [])]
        terms[row.conversation_id] |= message_terms(row.subject, row.body, parties)
    for row in connection.execute(sa.select(_posts).where(_posts.c.conversation_id.in_(ids))):
        notification = row.notification or {}
        terms[row.conversation_id] |= text_terms(
            row.text, row.markdown, row.username, str(notification.get('title') or ''), str(notification.get('body') or '')
        )
    for row in connection.execute(sa.select(_comments).where(_comments.c.conversation_id.in_(ids))):
        terms[row.conversation_id] |= text_terms(row.body)
    return terms


def downgrade() -> None:
    with op.batch_alter_table('conversation_search_terms', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_search_terms_conversation_id_term'))
    op.drop_table('conversation_search_terms')
