"""web_events (the live-update log read by the web app's event stream), conversation_users.read_at

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'web_events',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
        sa.Column('organization_id', sa.String(length=36), nullable=True),
        sa.Column('conversation_id', sa.String(length=36), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_events')),
    )
    with op.batch_alter_table('web_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_events_organization_id_web_events_id'), ['organization_id', 'id'], unique=False)
    with op.batch_alter_table('conversation_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_at', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('conversation_users', schema=None) as batch_op:
        batch_op.drop_column('read_at')
    with op.batch_alter_table('web_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_events_organization_id_web_events_id'))
    op.drop_table('web_events')
