"""conversation_references: the references posts and subtasks address a conversation by

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_references',
    sa.Column('reference', sa.String(length=998), nullable=False),
    sa.Column('conversation_id', sa.String(length=36), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_conversation_references_conversation_id_conversations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('reference', 'conversation_id', name=op.f('pk_conversation_references'))
    )
    op.create_index(op.f('ix_conversation_references_conversation_id'), 'conversation_references', ['conversation_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_conversation_references_conversation_id'), table_name='conversation_references')
    op.drop_table('conversation_references')
