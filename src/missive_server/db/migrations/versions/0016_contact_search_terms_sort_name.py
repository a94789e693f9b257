"""contact_search_terms carry the contact's sort_name, in the primary key (contact_book_id, term, sort_name, contact_id)

A search in ``order=last_name`` then ranks and cuts its page from the terms' index alone, instead
of reading every matching contact to sort it (bench/README.md, issue 13).

The table is rebuilt rather than altered: SQLite cannot change a primary key in place, and on
PostgreSQL filling a new table and building its key once is faster than an UPDATE of every row
that maintains both indexes as it goes. The copy is one INSERT ... SELECT joined to
``contacts`` (the database does the work; nothing is loaded into Python).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 20:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

TABLE = 'contact_search_terms'
#: The rebuilt table's name until the old one is dropped.
NEW = '_contact_search_terms_0016'
PK = 'pk_contact_search_terms'
#: (name, column, referred table) of the two foreign keys.
FKS = [
    ('fk_contact_search_terms_contact_book_id_contact_books', 'contact_book_id', 'contact_books'),
    ('fk_contact_search_terms_contact_id_contacts', 'contact_id', 'contacts'),
]


def _binary(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def upgrade() -> None:
    _rebuild(('contact_book_id', 'term', 'sort_name', 'contact_id'), with_sort_name=True)


def downgrade() -> None:
    _rebuild(('contact_book_id', 'term', 'contact_id'), with_sort_name=False)


def _rebuild(key: tuple[str, ...], *, with_sort_name: bool) -> None:
    sqlite = op.get_bind().dialect.name == 'sqlite'
    columns = [
        sa.Column('contact_book_id', sa.String(length=36), nullable=False),
        sa.Column('term', _binary(64), nullable=False),
        *([sa.Column('sort_name', _binary(512), nullable=False)] if with_sort_name else []),
        sa.Column('contact_id', sa.String(length=36), nullable=False),
    ]
    # SQLite takes constraints only in CREATE TABLE (and WITHOUT ROWID needs its key there);
    # PostgreSQL's constraint names are taken until the old table is dropped, and a key built
    # after the copy is one sort instead of an index maintained row by row.
    op.create_table(NEW, *columns, *(_constraints(key) if sqlite else ()), sqlite_with_rowid=False)
    names = ', '.join(c.name for c in columns)
    source = 't.contact_book_id, t.term, c.sort_name, t.contact_id' if with_sort_name else 't.contact_book_id, t.term, t.contact_id'
    op.execute(f'INSERT INTO {NEW} ({names}) SELECT {source} FROM {TABLE} t JOIN contacts c ON c.id = t.contact_id')
    op.drop_table(TABLE)
    op.rename_table(NEW, TABLE)
    if not sqlite:
        op.create_primary_key(op.f(PK), TABLE, list(key))
        for name, column, referred in FKS:
            op.create_foreign_key(op.f(name), TABLE, referred, [column], ['id'], ondelete='CASCADE')
    op.create_index(op.f('ix_contact_search_terms_contact_id'), TABLE, ['contact_id'], unique=False)
    _analyze(sqlite)


def _analyze(sqlite: bool) -> None:
    """The dropped table took its planner statistics with it: without them, right after the
    migration, a planner may pick a scan (an analyzed SQLite database keeps being analyzed)."""
    analyzed = not sqlite or op.get_bind().scalar(sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
    if analyzed:
        op.execute(f'ANALYZE {TABLE}')


def _constraints(key: tuple[str, ...]) -> list[sa.Constraint]:
    """SQLite's constraints, given in CREATE TABLE."""
    return [
        sa.PrimaryKeyConstraint(*key, name=op.f(PK)),
        *(sa.ForeignKeyConstraint([column], [f'{referred}.id'], name=op.f(name), ondelete='CASCADE') for name, column, referred in FKS),
    ]
