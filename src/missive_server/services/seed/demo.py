"""The demo organization (``missive-server demo``, run by ``make run``): a seed document.

The demo goes through the seed service like any document, so both stay consistent. Its tokens
are fixed and public (``missive_pat-demo-...``) so a client configured once keeps working
across restarts and re-seeding; they only open the demo organization. Revoke them with
``missive-server token revoke`` on any server reachable by others.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from missive_server.db.models import Organization
from missive_server.schemas.seed import SeedDocument
from missive_server.services.seed._demo_contacts import demo_contact_books

DEMO_ORGANIZATION = "Acme Inc."
DEMO_OWNER_EMAIL = "alice@acme.test"
DEMO_TOKENS = {
    "alice@acme.test": "missive_pat-demo-alice-owner",
    "bruno@acme.test": "missive_pat-demo-bruno-admin",
    "chloe@acme.test": "missive_pat-demo-chloe-user",
}
DEMO_OWNER_TOKEN = DEMO_TOKENS[DEMO_OWNER_EMAIL]
#: Web sign-in passwords of the demo users: public, like the tokens (a demo, not a deployment).
DEMO_PASSWORDS = {
    "alice@acme.test": "acme-alice-demo",
    "bruno@acme.test": "acme-bruno-demo",
    "chloe@acme.test": "acme-chloe-demo",
}
SUPPORT = "support@acme.test"
CHAT = "Website chat"

HOUR = 3600
DAY = 24 * HOUR

#: A 4x3 blue PNG, standing in for a customer's screenshot.
SCREENSHOT_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAEElEQVR4nGNQSnsLRww4OQBLpBF9"
    "VXnutgAAAABJRU5ErkJggg=="
)


def demo_is_seeded(session: Session) -> bool:
    found = session.scalar(select(Organization.id).where(Organization.name == DEMO_ORGANIZATION))
    return found is not None


def demo_document(now: int) -> SeedDocument:
    """Acme Inc.: three users, a Support team, labels, two accounts, six conversations, a task
    and two canned responses."""
    return SeedDocument.model_validate(
        {
            "organizations": [{"name": DEMO_ORGANIZATION}],
            "users": _users(),
            "teams": [
                {
                    "name": "Support",
                    "organization": DEMO_ORGANIZATION,
                    "emoji": ":headphones:",
                    "color": "#2266ED",
                    "active_members": ["alice@acme.test", "chloe@acme.test"],
                    "observers": ["bruno@acme.test"],
                }
            ],
            "accounts": _accounts(),
            "shared_labels": _labels(),
            "contact_books": demo_contact_books(),
            "conversations": [
                _login_problem(now),
                _double_charge(now),
                _renewal(now),
                _feature_request(now),
                _website_chat(now),
                _trial_signup(now),
            ],
            "tasks": [
                {
                    "organization": DEMO_ORGANIZATION,
                    "title": "Update the refund macro",
                    "description": "Mention the 5-day processing time for card refunds.",
                    "team": "Support",
                    "assignees": ["bruno@acme.test"],
                    "creator": "alice@acme.test",
                    "due_at": now + 2 * DAY,
                }
            ],
            "responses": _responses(),
        }
    )


def _users() -> list[dict[str, Any]]:
    people = [
        ("alice@acme.test", "Alice Martin", "owner"),
        ("bruno@acme.test", "Bruno Diaz", "admin"),
        ("chloe@acme.test", "Chloé Tremblay", "user"),
    ]
    return [
        {
            "email": email,
            "name": name,
            "organizations": {DEMO_ORGANIZATION: role},
            "token": DEMO_TOKENS[email],
            "password": DEMO_PASSWORDS[email],
        }
        for email, name, role in people
    ]


def _accounts() -> list[dict[str, Any]]:
    everyone = list(DEMO_TOKENS)
    return [
        {
            "type": "email",
            "address": SUPPORT,
            "name": "Acme Support",
            "organization": DEMO_ORGANIZATION,
            "team": "Support",
            "users": everyone,
        },
        {
            "type": "custom",
            "name": CHAT,
            "organization": DEMO_ORGANIZATION,
            "webhook_url": "https://chat.acme.test/missive/outgoing",
            "secret": "demo-chat-secret",
            "users": ["alice@acme.test", "chloe@acme.test"],
        },
    ]


def _labels() -> list[dict[str, Any]]:
    org = DEMO_ORGANIZATION
    return [
        {"name": "Customers", "organization": org, "color": "#50A8FF"},
        {"name": "VIP", "organization": org, "parent": "Customers", "color": "#F5A623"},
        {
            "name": "Billing",
            "organization": org,
            "color": "#7ED321",
            "share_with_users": ["bruno@acme.test"],
        },
    ]


def _responses() -> list[dict[str, Any]]:
    """Canned responses: one for the Support team with an inline logo, one of Alice's own."""
    logo = '<p><img data-missive-attachment-id="logo" width="64" alt="Acme"></p>'
    return [
        {
            "title": "Refund confirmed",
            "organization": DEMO_ORGANIZATION,
            "share_with_team": "Support",
            "shared_labels": ["Billing"],
            "subject": "Your refund is on its way",
            "body": "<p>Hi,</p><p>We have refunded the duplicate charge; allow 5 business days."
            f"</p>{logo}",
            "attachments": [{"filename": "acme.png", "base64_data": SCREENSHOT_PNG, "id": "logo"}],
        },
        {
            "title": "Thanks, talk soon",
            "user": DEMO_OWNER_EMAIL,
            "body": "<p>Thanks for reaching out! I will get back to you shortly.</p><p>Alice</p>",
        },
    ]


def _incoming(
    sender: tuple[str, str], subject: str, body: str, at: int, message_id: str
) -> dict[str, Any]:
    name, address = sender
    return {
        "from_field": {"name": name, "address": address},
        "to_fields": [{"name": "Acme Support", "address": SUPPORT}],
        "subject": subject,
        "body": body,
        "delivered_at": at,
        "email_message_id": f"<{message_id}>",
    }


def _reply(
    author: str, to: tuple[str, str], subject: str, body: str, at: int, message_id: str
) -> dict[str, Any]:
    name, address = to
    return {
        "author": author,
        "to_fields": [{"name": name, "address": address}],
        "subject": subject,
        "body": body,
        "delivered_at": at,
        "email_message_id": f"<{message_id}>",
    }


def _thread(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replies carry In-Reply-To and References, as real mail threads do."""
    ids = [m["email_message_id"] for m in messages]
    return [
        {**m, "in_reply_to": ids[i - 1 : i], "references": ids[:i]} if i else m
        for i, m in enumerate(messages)
    ]


def _login_problem(now: int) -> dict[str, Any]:
    jane = ("Jane Cooper", "jane.cooper@globex.test")
    subject = "Can't log in after resetting my password"
    first = _incoming(
        jane,
        subject,
        "<p>Hi,</p><p>I reset my password this morning and now the login page says "
        "<em>invalid credentials</em>. Screenshot attached.</p><p>Jane</p>",
        now - 2 * DAY,
        "CAF1x9@mail.globex.test",
    )
    first["attachments"] = [{"filename": "login-error.png", "base64_data": SCREENSHOT_PNG}]
    reply = _reply(
        "chloe@acme.test",
        jane,
        f"Re: {subject}",
        "<p>Hi Jane,</p><p>Sorry about that! Could you try again from a private window? "
        "Reset links expire after 30 minutes.</p><p>Chloé, Acme Support</p>",
        now - 2 * DAY + 2 * HOUR,
        "reply-1.login@acme.test",
    )
    again = _incoming(
        jane,
        f"Re: {subject}",
        "<p>Still the same error in a private window, I'm afraid.</p>",
        now - 3 * HOUR,
        "CAF1y2@mail.globex.test",
    )
    note = "Chloé, Globex is on the Enterprise plan: can you check their SSO first?"
    return {
        "key": "demo-login-problem",
        "organization": DEMO_ORGANIZATION,
        "account": SUPPORT,
        "team": "Support",
        "users": ["alice@acme.test", "chloe@acme.test"],
        "messages": _thread([first, reply, again]),
        "comments": [_comment("alice@acme.test", note, now - 2 * HOUR)],
    }


def _double_charge(now: int) -> dict[str, Any]:
    priya = ("Priya Natarajan", "accounts@initech.test")
    subject = "Invoice INV-2024-118 charged twice"
    return {
        "key": "demo-double-charge",
        "organization": DEMO_ORGANIZATION,
        "account": SUPPORT,
        "team": "Support",
        "users": ["alice@acme.test", "bruno@acme.test"],
        "assignees": ["bruno@acme.test"],
        "shared_labels": ["Billing"],
        "messages": [
            _incoming(
                priya,
                subject,
                "<p>Hello,</p><p>Our card was charged twice for invoice INV-2024-118 "
                "($1,240.00 each). Could you refund the duplicate?</p><p>Thanks, Priya</p>",
                now - DAY,
                "inv118.1@initech.test",
            ),
        ],
        "posts": [_refund_post(now - 5 * HOUR)],
        "comments": [_comment("bruno@acme.test", "Refunded the duplicate charge.", now - 4 * HOUR)],
    }


def _renewal(now: int) -> dict[str, Any]:
    dana = ("Dana Whitfield", "dana@umbrella.test")
    subject = "Renewal for 50 seats"
    return {
        "key": "demo-renewal",
        "organization": DEMO_ORGANIZATION,
        "account": SUPPORT,
        "team": "Support",
        "users": ["alice@acme.test", "bruno@acme.test"],
        "flagged": ["alice@acme.test"],
        "shared_labels": ["Customers/VIP"],
        "messages": _thread(
            [
                _incoming(
                    dana,
                    subject,
                    "<p>Hi Alice,</p><p>We'd like to renew for another year and grow from 35 to 50 "
                    "seats. Can you send an updated quote?</p><p>Best, Dana</p>",
                    now - 6 * HOUR,
                    "renewal-50@umbrella.test",
                ),
                _reply(
                    "alice@acme.test",
                    dana,
                    f"Re: {subject}",
                    "<p>Hi Dana, great news! The quote will be with you by tomorrow.</p>",
                    now - 5 * HOUR,
                    "reply-1.renewal@acme.test",
                ),
            ]
        ),
    }


def _feature_request(now: int) -> dict[str, Any]:
    tom = ("Tom Becker", "tom@hooli.test")
    subject = "Feature request: export reports to CSV"
    return {
        "key": "demo-csv-export",
        "organization": DEMO_ORGANIZATION,
        "account": SUPPORT,
        "team": "Support",
        "users": ["alice@acme.test", "chloe@acme.test"],
        "closed": True,
        "messages": _thread(
            [
                _incoming(
                    tom,
                    subject,
                    "<p>It would save us hours if monthly reports could be exported to CSV.</p>",
                    now - 5 * DAY,
                    "csv-export@hooli.test",
                ),
                _reply(
                    "chloe@acme.test",
                    tom,
                    f"Re: {subject}",
                    "<p>Thanks Tom! CSV export is on our roadmap for next quarter.</p>",
                    now - 4 * DAY,
                    "reply-1.csv@acme.test",
                ),
            ]
        ),
        "comments": [_comment("chloe@acme.test", "Logged as ROAD-212.", now - 4 * DAY + HOUR)],
    }


def _website_chat(now: int) -> dict[str, Any]:
    visitor = {"name": "Sam (website visitor)"}
    agent = {"name": "Chloé Tremblay"}
    chat = [
        (visitor, None, "Hi! Do you offer a discount for non-profits?", now - 90 * 60),
        (agent, "chloe@acme.test", "Hello Sam! Yes, 30% off every plan.", now - 85 * 60),
        (visitor, None, "Perfect, thank you!", now - 80 * 60),
    ]
    return {
        "key": "demo-website-chat",
        "organization": DEMO_ORGANIZATION,
        "account": CHAT,
        "subject": "Chat with Sam",
        "users": ["alice@acme.test", "chloe@acme.test"],
        "messages": [
            {"from_field": sender, "author": author, "body": body, "delivered_at": at}
            for sender, author, body, at in chat
        ],
    }


def _trial_signup(now: int) -> dict[str, Any]:
    """A conversation an integration started with a post (no message)."""
    return {
        "key": "demo-trial-signup",
        "organization": DEMO_ORGANIZATION,
        "subject": "New trial: Wayne Enterprises",
        "users": ["alice@acme.test", "bruno@acme.test"],
        "shared_labels": ["Customers"],
        "posts": [_signup_post(now - 30 * 60)],
        "comments": [_comment("bruno@acme.test", "I'll call Lucius tomorrow.", now - 20 * 60)],
    }


def _comment(author: str, body: str, at: int) -> dict[str, Any]:
    return {"author": author, "body": body, "created_at": at}


def _refund_post(at: int) -> dict[str, Any]:
    """A payments integration's post: notification, markdown and an attachment block."""
    return {
        "username": "Stripe",
        "notification": {"title": "Payment refunded", "body": "$1,240.00 refunded to Initech"},
        "markdown": "Refund of **$1,240.00** issued for `INV-2024-118`.",
        "attachments": [
            {
                "color": "good",
                "title": "Refund re_3PqL2x",
                "title_link": "https://dashboard.stripe.test/refunds/re_3PqL2x",
                "fields": [
                    {"title": "Amount", "value": "$1,240.00", "short": True},
                    {"title": "Customer", "value": "Initech", "short": True},
                    {"title": "Status", "value": "Succeeded", "short": False},
                ],
                "footer": "Stripe",
                "timestamp": at,
            }
        ],
        "created_at": at,
    }


def _signup_post(at: int) -> dict[str, Any]:
    return {
        "username": "Acme CRM",
        "notification": {"title": "New trial signup", "body": "Wayne Enterprises started a trial"},
        "markdown": "**Wayne Enterprises** started a 14-day trial of the *Business* plan.",
        "attachments": [
            {
                "color": "#2266ED",
                "author_name": "Lucius Fox",
                "author_link": "mailto:lucius@wayne.test",
                "title": "Wayne Enterprises",
                "title_link": "https://crm.acme.test/accounts/4211",
                "fields": [
                    {"title": "Plan", "value": "Business", "short": True},
                    {"title": "Seats", "value": "25", "short": True},
                ],
                "footer": "Acme CRM",
                "timestamp": at,
            }
        ],
        "created_at": at,
    }
