"""tasks: one index per GET /v1/tasks filter, and task_assignees.last_activity_at

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 19:05:02.470655
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows get 0, then their task's value; the model has no server default.
    with op.batch_alter_table('task_assignees', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('last_activity_at', sa.BigInteger(), nullable=False, server_default='0')
        )
    op.execute(
        'UPDATE task_assignees SET last_activity_at = '
        '(SELECT tasks.last_activity_at FROM tasks WHERE tasks.id = task_assignees.task_id)'
    )
    with op.batch_alter_table('task_assignees', schema=None) as batch_op:
        batch_op.alter_column('last_activity_at', server_default=None)
        batch_op.drop_index(batch_op.f('ix_task_assignees_user_id'))
        batch_op.create_index(batch_op.f('ix_task_assignees_user_id_task_assignees_last_activity_at'), ['user_id', 'last_activity_at'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_conversation_id'))
        batch_op.create_index(batch_op.f('ix_tasks_conversation_id_tasks_last_activity_at'), ['conversation_id', 'last_activity_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_organization_id_tasks_due_at'), ['organization_id', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_organization_id_tasks_state_tasks_last_activity_at'), ['organization_id', 'state', 'last_activity_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_organization_id_tasks_type_tasks_last_activity_at'), ['organization_id', 'type', 'last_activity_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_organization_id_tasks_type_tasks_last_activity_at'))
        batch_op.drop_index(batch_op.f('ix_tasks_organization_id_tasks_state_tasks_last_activity_at'))
        batch_op.drop_index(batch_op.f('ix_tasks_organization_id_tasks_due_at'))
        batch_op.drop_index(batch_op.f('ix_tasks_conversation_id_tasks_last_activity_at'))
        batch_op.create_index(batch_op.f('ix_tasks_conversation_id'), ['conversation_id'], unique=False)

    with op.batch_alter_table('task_assignees', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_assignees_user_id_task_assignees_last_activity_at'))
        batch_op.create_index(batch_op.f('ix_task_assignees_user_id'), ['user_id'], unique=False)
        batch_op.drop_column('last_activity_at')
