"""Route style measurement (design.md asks the foundation to decide it by measuring).

Serves GET /v1/conversations/:id twice from one process: the real ``async def`` route (sync
SQLAlchemy called inline) and a plain ``def`` twin that FastAPI runs in its thread pool, both
calling the same services and renderer. Run with bench/route_style.sh.
"""

from __future__ import annotations

import os
import sys

from fastapi import APIRouter, Header
from starlette.responses import Response

from missive_server.api.responses import envelope
from missive_server.app import create_app
from missive_server.auth import bearer_token
from missive_server.clock import SystemClock
from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.db.models import Membership, Organization, User
from missive_server.errors import Unauthorized
from missive_server.ids import new_id
from missive_server.schemas.conversations import render_conversation
from missive_server.services.conversations import conversation_state, conversations
from missive_server.services.conversations.conversation_views import load_views
from missive_server.services.conversations.messages import MessageInput, add_message
from missive_server.services.directory import tokens
from missive_server.settings import Settings

TOKEN = "missive_pat-bench-route-style"


def build_app():  # type: ignore[no-untyped-def]
    settings = Settings(database_url=os.environ["MISSIVE_DATABASE_URL"], rate_limit="off")
    app = create_app(settings)
    factory = app.state.session_factory
    router = APIRouter()

    @router.get("/bench/sync/conversations/{conversation_id}")
    def get_conversation_sync(conversation_id: str, authorization: str = Header("")) -> Response:
        with factory() as session:
            token = bearer_token(authorization)
            actor = tokens.authenticate(session, token) if token else None
            if actor is None:
                raise Unauthorized()
            found = conversations.get_visible_conversation(
                session, actor=actor, conversation_id=conversation_id
            )
            view = load_views(session, [found], actor=actor)[0]
            return envelope(
                "conversations", [render_conversation(view, public_url=settings.public_base)]
            )

    app.include_router(router)
    return app


def seed(url: str) -> str:
    engine = make_engine(url)
    migrate.upgrade(engine)
    from sqlalchemy.orm import Session

    now = SystemClock().now()
    with Session(engine) as session:
        org = Organization(id=new_id(), name="Bench", created_at=now)
        user = User(id=new_id(), email="bench@bench.test", name="Bench", created_at=now)
        session.add_all([org, user])
        session.flush()
        session.add(Membership(organization_id=org.id, user_id=user.id, role="owner"))
        tokens.ensure_token(session, user_id=user.id, token=TOKEN, now=now)
        conversation = conversations.create_conversation(session, now=now, organization_id=org.id)
        conversation_state.grant_access(session, conversation, [user.id], now=now)
        data = MessageInput(subject="Hi", body="<p>Hello</p>", from_field={"address": "a@b.test"})
        add_message(session, conversation, data, now=now)
        session.commit()
        return conversation.id


if __name__ == "__main__":
    print(seed(sys.argv[1]))
