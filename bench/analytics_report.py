"""How long an analytics report takes on a large organization.

    PYTHONPATH=. .venv/bin/python bench/analytics_report.py [DATABASE_URL] [CONVERSATIONS]

Writes a year of generated conversations (tests/services/analytics_data.py: messages, drafts,
comments, posts, teams, labels, accounts), then times ``compute_report`` for the last 30 days
and for the whole year, in America/Montreal, without and with filters. Default: a fresh SQLite
file and 20,000 conversations.
"""

from __future__ import annotations

import sys
import tempfile
import time
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session
from tests.services.analytics_data import build_dataset

from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.db.models import Membership, Organization, SharedLabel, Team, User
from missive_server.ids import new_id
from missive_server.schemas.analytics import ReportIn
from missive_server.services.sessions import session_factory
from missive_server.services.analytics._compute import compute_report

YEAR_END = 1_798_761_600  # 2027-01-01
DAY = 86_400


def _directory(session: Session) -> tuple[Organization, list[User], list[Team], list[SharedLabel]]:
    org = Organization(id=new_id(), name="Bench", created_at=0)
    users = [
        User(id=new_id(), email=f"{new_id()}@b.test", name=f"U{i}", created_at=0) for i in range(8)
    ]
    teams = [
        Team(id=new_id(), organization_id=org.id, name=f"T{i}", created_at=0) for i in range(3)
    ]
    labels = [
        SharedLabel(id=new_id(), organization_id=org.id, name=f"L{i}", created_at=0)
        for i in range(5)
    ]
    session.add(org)
    session.flush()
    session.add_all([*users, *teams, *labels])
    session.flush()
    session.add_all(Membership(organization_id=org.id, user_id=u.id) for u in users)
    session.commit()
    return org, users, teams, labels


def _time(session: Session, label: str, **request: Any) -> None:
    params = ReportIn(time_zone="America/Montreal", **request).to_params()
    began = time.perf_counter()
    result = compute_report(session, params)
    took = time.perf_counter() - began
    totals = result["totals"]
    print(
        f"{label:<34} {took * 1000:8.0f} ms  messages={totals['messages_received'] + totals['messages_sent']}"
    )


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    engine = make_engine(url)
    migrate.upgrade(engine)
    with session_factory(engine)() as session:
        org, users, teams, labels = _directory(session)
        began = time.perf_counter()
        start = YEAR_END - 365 * DAY
        per_month = count // 12
        for month in range(12):  # twelve batches keep memory flat
            build_dataset(
                session,
                org=org,
                users=users,
                teams=teams,
                labels=labels,
                start=start + month * 30 * DAY,
                end=start + (month + 1) * 30 * DAY,
                conversations=per_month,
                seed=month,
            )
        print(
            f"wrote {count} conversations in {time.perf_counter() - began:.0f} s ({url.split(':')[0]})"
        )
        # What autovacuum does soon after a bulk load; without statistics PostgreSQL's
        # planner guesses badly on a table it has never seen.
        session.execute(text("ANALYZE"))
        session.commit()
        org_id = org.id
        _time(session, "last 30 days", organization=org_id, start=YEAR_END - 30 * DAY, end=YEAR_END)
        _time(session, "whole year", organization=org_id, start=start, end=YEAR_END)
        _time(
            session,
            "whole year, team + 2 labels",
            organization=org_id,
            start=start,
            end=YEAR_END,
            teams=[teams[0].id],
            shared_labels=[labels[0].id, labels[1].id],
        )
        _time(
            session,
            "whole year, users + email",
            organization=org_id,
            start=start,
            end=YEAR_END,
            users=[users[0].id, users[1].id],
            account_types=["email"],
        )
    engine.dispose()


if __name__ == "__main__":
    main()
