"""Bench dataset: N conversations (K inbound emails each) for one user, with bulk inserts.

    .venv/bin/python bench/bench_data.py --database-url sqlite:////tmp/bench/10k.db \
        --conversations 10000

Rows mirror what services.inbound.receive_email writes for a new thread on an organization
account without a team: conversation (summary columns filled), conversation_users (inbox),
conversation_addresses, messages, message_references. Prints the token. First cut: the CLI
command ``missive-server bench-data`` and the comparison test against API-created data are not
done yet (see bench/README.md).
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from rich.progress import Progress
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from missive_server.db import migrate
from missive_server.db.engine import make_engine
from missive_server.db.models import (
    Account,
    AccountUser,
    Conversation,
    ConversationAddress,
    ConversationUser,
    Membership,
    Message,
    MessageReference,
    Organization,
    User,
)
from missive_server.ids import new_id
from missive_server.services import tokens
from missive_server.services.text import preview

TOKEN = "missive_pat-bench-data"
START = 1_600_000_000
BATCH = 2_000
SUPPORT = "support@bench.test"


def setup(engine: Engine) -> tuple[str, str, str]:
    org, user, account = new_id(), new_id(), new_id()
    with engine.begin() as c:
        c.execute(insert(Organization).values(id=org, name="Bench", created_at=START))
        c.execute(
            insert(User).values(id=user, email="bench@bench.test", name="Bench", created_at=START)
        )
        c.execute(insert(Membership).values(organization_id=org, user_id=user, role="owner"))
        c.execute(
            insert(Account).values(
                id=account,
                type="email",
                name="Support",
                organization_id=org,
                owner_id=user,
                address=SUPPORT,
                created_at=START,
            )
        )
        c.execute(insert(AccountUser).values(account_id=account, user_id=user))
    with Session(engine) as session:
        tokens.ensure_token(session, user_id=user, token=TOKEN, now=START)
        session.commit()
    return org, user, account


def conversation_rows(
    rows: dict[str, list[dict[str, Any]]],
    i: int,
    k: int,
    org: str,
    user: str,
    account: str,
    rng: random.Random,
) -> None:
    cid = new_id()
    customer = f"customer{rng.randrange(max(1, i // 10 + 1))}@client{i % 97}.test"
    sender = {"name": f"Customer {i}", "address": customer}
    base = START + i * 30
    refs: list[str] = []
    subject = f"Order {i}: question"
    for n in range(k):
        at = base + n * 5
        mid = f"bench-{i}-{n}@client{i % 97}.test"
        body = f"<p>Hello, about order {i} (message {n}). Could you check the delivery date?</p>"
        rows["m"].append(
            {
                "id": (message_id := new_id()),
                "conversation_id": cid,
                "account_id": account,
                "author_id": None,
                "type": "email",
                "draft": False,
                "subject": subject if n == 0 else f"Re: {subject}",
                "preview": preview(body),
                "body": body,
                "from_field": sender,
                "to_fields": [{"name": None, "address": SUPPORT}],
                "cc_fields": [],
                "bcc_fields": [],
                "reply_to_fields": [],
                "email_message_id": f"<{mid}>",
                "in_reply_to": [f"<{refs[-1]}>"] if refs else [],
                "references": [f"<{r}>" for r in refs],
                "external_id": None,
                "delivered_at": at,
                "created_at": at,
                "updated_at": at,
                "send_at": None,
                "auto_followup": False,
                "delivery_status": None,
                "delivery_error": None,
            }
        )
        rows["r"] += [
            {"message_id": message_id, "reference": r, "conversation_id": cid}
            for r in dict.fromkeys([mid, *refs, *refs[-1:]])
        ]
        refs.append(mid)
    last = base + (k - 1) * 5
    rows["c"].append(
        {
            "id": cid,
            "organization_id": org,
            "team_id": None,
            "team_state": "none",
            "account_id": account,
            "subject": None,
            "color": None,
            "icon_url": None,
            "created_at": base,
            "last_activity_at": last,
            "merged_into_id": None,
            "closed_at": None,
            "latest_message_subject": f"Re: {subject}" if k > 1 else subject,
            "messages_count": k,
            "attachments_count": 0,
            "drafts_count": 0,
            "send_later_messages_count": 0,
            "tasks_count": 0,
            "completed_tasks_count": 0,
            "authors": [{"name": sender["name"], "address": customer}],
        }
    )
    rows["u"].append(
        {
            "conversation_id": cid,
            "user_id": user,
            "location": "inbox",
            "flagged": False,
            "assigned": False,
            "unassigned": False,
            "snoozed_until": None,
            "added_at": base,
            "assigned_at": None,
            "last_activity_at": last,
        }
    )
    rows["a"] += [
        {"conversation_id": cid, "address": a, "domain": a.rsplit("@", 1)[1]}
        for a in sorted({customer, SUPPORT})
    ]


def flush(engine: Engine, rows: dict[str, list[dict[str, Any]]]) -> None:
    order = [
        ("c", Conversation),
        ("u", ConversationUser),
        ("a", ConversationAddress),
        ("m", Message),
        ("r", MessageReference),
    ]
    with engine.begin() as c:
        for key, model in order:
            if rows[key]:
                c.execute(insert(model), rows[key])
                rows[key].clear()


def generate(url: str, count: int, per: int, seed: int) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    org, user, account = setup(engine)
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = {k: [] for k in "cuamr"}
    started = time.perf_counter()
    with Progress() as progress:
        task = progress.add_task(f"{count:,} conversations", total=count)
        for i in range(count):
            conversation_rows(rows, i, per, org, user, account, rng)
            if (i + 1) % BATCH == 0 or i + 1 == count:
                flush(engine, rows)
                progress.update(task, completed=i + 1)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    print(f"generated in {time.perf_counter() - started:.1f}s; token: {TOKEN}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--database-url", required=True)
    p.add_argument("--conversations", type=int, required=True)
    p.add_argument("--messages-per-conversation", type=int, default=2)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    generate(a.database_url, a.conversations, a.messages_per_conversation, a.seed)
