"""An index on every foreign-key column not already leading one (tests/db/test_indexes.py)

Deleting a user, team, account or conversation makes the database find the rows that point at it
(ON DELETE CASCADE / SET NULL); without an index that is a full scan of the child table per
deleted parent, and on PostgreSQL it holds the parent's lock meanwhile.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 17:40:00.000000
"""

from __future__ import annotations

from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('analytics_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_reports_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_analytics_reports_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('hooks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hooks_organization_id'), ['organization_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hooks_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hooks_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_hooks_mention_id'), ['mention_id'], unique=False)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_accounts_team_id'), ['team_id'], unique=False)
    with op.batch_alter_table('contact_books', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_books_share_with_team_id'), ['share_with_team_id'], unique=False)
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_responses_created_by_id'), ['created_by_id'], unique=False)
    with op.batch_alter_table('shared_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_shared_labels_share_with_team_id'), ['share_with_team_id'], unique=False)
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_account_id'), ['account_id'], unique=False)
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_messages_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_messages_author_id'), ['author_id'], unique=False)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_posts_author_id'), ['author_id'], unique=False)
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tasks_creator_id'), ['creator_id'], unique=False)
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_conversation_id'), ['conversation_id'], unique=False)
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachments_organization_id'), ['organization_id'], unique=False)
    with op.batch_alter_table('message_references', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_references_conversation_id'), ['conversation_id'], unique=False)
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comments_author_id'), ['author_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comments_attachment_id'), ['attachment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_comments_task_id'), ['task_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comments_task_id'))
        batch_op.drop_index(batch_op.f('ix_comments_attachment_id'))
        batch_op.drop_index(batch_op.f('ix_comments_author_id'))
    with op.batch_alter_table('message_references', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_references_conversation_id'))
    with op.batch_alter_table('attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachments_organization_id'))
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_conversation_id'))
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_creator_id'))
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_posts_author_id'))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_messages_author_id'))
        batch_op.drop_index(batch_op.f('ix_messages_account_id'))
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversations_account_id'))
    with op.batch_alter_table('shared_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shared_labels_share_with_team_id'))
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_responses_created_by_id'))
    with op.batch_alter_table('contact_books', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_books_share_with_team_id'))
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_team_id'))
        batch_op.drop_index(batch_op.f('ix_accounts_owner_id'))
    with op.batch_alter_table('hooks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hooks_mention_id'))
        batch_op.drop_index(batch_op.f('ix_hooks_author_id'))
        batch_op.drop_index(batch_op.f('ix_hooks_user_id'))
        batch_op.drop_index(batch_op.f('ix_hooks_organization_id'))
    with op.batch_alter_table('analytics_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_reports_user_id'))
        batch_op.drop_index(batch_op.f('ix_analytics_reports_organization_id'))
