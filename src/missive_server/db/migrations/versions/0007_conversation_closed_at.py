"""conversations.closed_at, for analytics resolution times

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:50:00.000000

Conversations closed before this revision keep ``closed_at`` NULL: their close time was never
recorded, so they count in no resolution time (docs/compatibility.md, Analytics reports).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('closed_at', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_conversations_organization_id_conversations_closed_at'), ['organization_id', 'closed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_organization_id_conversations_closed_at'))
        batch_op.drop_column('closed_at')
