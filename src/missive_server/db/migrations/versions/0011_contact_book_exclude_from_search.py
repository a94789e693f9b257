"""contact_books.exclude_from_search, Missive's book setting (Airbyte's recorded schema)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:05:00.000000

Existing books are searchable (``false``), as every book was before the setting existed.
``importing`` is not stored: books are filled inside one transaction, so no reader ever sees
one mid-import (docs/compatibility.md, Contacts).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contact_books', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('exclude_from_search', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table('contact_books', schema=None) as batch_op:
        batch_op.drop_column('exclude_from_search')
