"""Search in the web app: the conversations a user may see whose words match a query.

A query matches a conversation when each of its words (normalised like the stored terms: lower
case, no accents) is a prefix of one of the conversation's terms (``conversation_search_terms``,
kept by ``services.conversations.search_terms``). Visibility is the inbox's: a
``conversation_users`` row for the user (what ``get_visible_conversation`` checks; a merged
conversation's rows moved to its survivor). Results are newest activity first, paged with the
inbox's ``until`` cursor (``db.paging.cursor_rows``).

Two plans, both index walks, chosen per query by counting each word's matches up to ``RARE``:
- some word is rare: walk that word's term range on the primary key ``(term, conversation_id)``,
  probe the user's access row and the other words (``(conversation_id, term)`` ranges), sort
  those few by activity;
- every word is common: walk the user's conversations newest first on
  ``conversation_users(user_id, last_activity_at)`` and probe each word, stopping at a page.
So the work is bounded by ``RARE`` rows or by how far down the user's list a page of matches
lies. The case neither bounds: several common words whose conjunction is rare among the user's
conversations (see bench/README.md "Search").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlalchemy.orm import Session

from missive_server.auth import Principal
from missive_server.db.models import (
    Comment,
    ConversationSearchTerm,
    ConversationUser,
    Message,
    Post,
)
from missive_server.db.paging import cursor_rows
from missive_server.db.search_text import TERM_MAX, html_to_text, normalise
from missive_server.errors import BadRequest
from missive_server.pagination import CursorPage
from missive_server.schemas.conversations import ConversationRow
from missive_server.services.contacts.contact_search import prefix_upper_bound
from missive_server.services.conversations.conversations import conversation_rows

_WORD = re.compile(r"\w+")
#: An address typed whole; word characters only around the punctuation, so no NUL, lone
#: surrogate or other character PostgreSQL would refuse reaches a statement.
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)*")
#: Longer queries are refused (400): nobody types this much into a search box.
MAX_QUERY_LENGTH = 1_000
#: Queries with more words than this are cut: each word is one more index probe per row.
MAX_QUERY_WORDS = 8
#: A word with fewer term rows than this is "rare": its matches are walked and sorted.
RARE = 2_000
#: Characters of context on each side of a snippet's match.
SNIPPET_CONTEXT = 70


def query_words(query: str) -> list[str]:
    """The words a query must all match, normalised and cut like the stored terms."""
    if len(query) > MAX_QUERY_LENGTH:
        raise BadRequest(f"A search is at most {MAX_QUERY_LENGTH} characters")
    found: list[str] = []
    for chunk in normalise(query).split():
        # An address is one word, matched against the whole-address term.
        found += [chunk] if _ADDRESS.fullmatch(chunk) else _WORD.findall(chunk)
    return list(dict.fromkeys(w[:TERM_MAX] for w in found))[:MAX_QUERY_WORDS]


@dataclass(frozen=True, slots=True)
class SearchPage:
    conversations: list[ConversationRow]
    #: The ``until`` of the next page, when this one is full.
    until: int | None


def search_conversations(
    session: Session, *, actor: Principal, query: str, page: CursorPage, rare: int = RARE
) -> SearchPage:
    """A page of the matching conversations the actor may see, newest activity first (ties
    on the last timestamp appended, as in every cursor list). No word: no result. ``rare`` is
    the plan's threshold (tests run both plans on small data)."""
    words = query_words(query)
    if not words:
        return SearchPage([], None)
    plan = search_plan(session, actor, words, rare)
    rows = cursor_rows(
        session,
        plan.statement,
        timestamp=plan.activity,
        tiebreak=plan.conversation_id,
        page=page,
    )
    found = conversation_rows(session, [cid for cid, _ in rows])
    until = int(rows[-1][1]) - 1 if len(rows) >= page.limit else None
    return SearchPage([found[cid] for cid, _ in rows if cid in found], until)


def _in_range(word: str) -> ColumnElement[bool]:
    t = ConversationSearchTerm
    return and_(t.term >= word, t.term < prefix_upper_bound(word))


def _has_word(word: str, conversation_id: ColumnElement[str]) -> ColumnElement[bool]:
    """The row's conversation has a term starting with ``word``: one probe of
    ``(conversation_id, term)``."""
    t = ConversationSearchTerm
    return exists().where(t.conversation_id == conversation_id, _in_range(word))


def _matches(session: Session, word: str, cap: int) -> int:
    """Term rows starting with ``word``, counted up to ``cap`` (an index range, stopped)."""
    t = ConversationSearchTerm
    capped = select(t.conversation_id).where(_in_range(word)).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(capped)) or 0)


@dataclass(frozen=True, slots=True)
class Plan:
    """A statement of ``(conversation_id, last_activity_at)`` rows, and those two columns."""

    statement: Select[str, int]
    conversation_id: ColumnElement[str]
    activity: ColumnElement[int]


def search_plan(session: Session, actor: Principal, words: Sequence[str], rare: int) -> Plan:
    cu = ConversationUser
    counts = {word: _matches(session, word, rare) for word in words}
    rarest = min(words, key=lambda w: counts[w])
    if counts[rarest] >= rare:
        walk = select(cu.conversation_id, cu.last_activity_at).where(
            cu.user_id == actor.user_id,
            *(_has_word(w, cu.conversation_id.expression) for w in words),
        )
        return Plan(walk, cu.conversation_id.expression, cu.last_activity_at.expression)
    # One table in FROM, the rare word's distinct matches; the user's row is a correlated
    # probe. With a join instead, both planners may walk the user's whole list in activity
    # order for the ORDER BY ... LIMIT and probe the matches (SQLite did, 0.4 s at 500k
    # conversations for a word in 250 of them; bench/README.md "Search"). MATERIALIZED (SQLite
    # 3.35+, PostgreSQL 12+) keeps the page's predicates out of it: pushed into it, the ties
    # query's ``conversation_id < ?`` made SQLite range-scan ``(conversation_id, term)``.
    t = ConversationSearchTerm
    few = (
        select(t.conversation_id)
        .where(_in_range(rarest))
        .distinct()
        .cte("rare")
        .prefix_with("MATERIALIZED")
    )
    activity = (
        select(cu.last_activity_at)
        .where(cu.conversation_id == few.c.conversation_id, cu.user_id == actor.user_id)
        .scalar_subquery()
    )
    matched = select(few.c.conversation_id, activity).where(
        activity.is_not(None),
        *(_has_word(w, few.c.conversation_id) for w in words if w != rarest),
    )
    return Plan(matched, few.c.conversation_id, activity)


@dataclass(frozen=True, slots=True)
class Snippet:
    """Text around the first matching word: ``before`` + ``match`` + ``after``."""

    before: str
    match: str
    after: str


def snippets(session: Session, conversation_ids: Sequence[str], query: str) -> dict[str, Snippet]:
    """For a page of results, the first match in each conversation's messages (newest first),
    then comments and posts; three queries whatever the page."""
    words = query_words(query)
    if not conversation_ids or not words:
        return {}
    found: dict[str, Snippet] = {}
    for cid, text in _texts(session, conversation_ids):
        if cid not in found and (snippet := find_snippet(text, words)) is not None:
            found[cid] = snippet
    return found


def _texts(session: Session, ids: Sequence[str]) -> list[tuple[str, str]]:
    messages = session.execute(
        select(Message.conversation_id, Message.subject, Message.body)
        .where(Message.conversation_id.in_(ids), Message.draft.is_(False))
        .order_by(Message.delivered_at.desc(), Message.id.desc())
    ).all()
    comments = session.execute(
        select(Comment.conversation_id, Comment.body)
        .where(Comment.conversation_id.in_(ids))
        .order_by(Comment.created_at.desc())
    ).all()
    posts = session.execute(
        select(Post.conversation_id, Post.text, Post.markdown)
        .where(Post.conversation_id.in_(ids))
        .order_by(Post.created_at.desc())
    ).all()
    texts = [(cid, html_to_text(body)) for cid, _, body in messages]
    texts += [(cid, body or "") for cid, body in comments]
    texts += [(cid, text or markdown or "") for cid, text, markdown in posts]
    texts += [(cid, subject or "") for cid, subject, _ in messages]
    return texts


def find_snippet(text: str, words: Sequence[str]) -> Snippet | None:
    for m in _WORD.finditer(text):
        token = normalise(m.group())
        if any(token.startswith(w) for w in words):
            start, end = max(0, m.start() - SNIPPET_CONTEXT), m.end() + SNIPPET_CONTEXT
            before = ("…" if start else "") + text[start : m.start()]
            after = text[m.end() : end] + ("…" if end < len(text) else "")
            return Snippet(before=before, match=m.group(), after=after)
    return None
