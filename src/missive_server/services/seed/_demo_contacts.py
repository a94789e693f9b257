"""The demo organization's contact book: the customers who write in the demo conversations, so
``GET /v1/contacts?search=`` and ``GET /v1/conversations?contact_organization=`` show something."""

from __future__ import annotations

from typing import Any

ORGANIZATION = "Acme Inc."


def _person(
    first: str, last: str, email: str, company: str, title: str, **more: Any
) -> dict[str, Any]:
    return {
        "first_name": first,
        "last_name": last,
        "infos": [{"kind": "email", "label": "work", "value": email}, *more.pop("infos", [])],
        "memberships": [
            {"title": title, "group": {"kind": "organization", "name": company}},
            *more.pop("memberships", []),
        ],
        **more,
    }


def demo_contact_books() -> list[dict[str, Any]]:
    vip = {"group": {"kind": "group", "name": "VIPs"}}
    customers = [
        _person(
            "Jane",
            "Cooper",
            "jane.cooper@globex.test",
            "Globex",
            "Head of IT",
            starred=True,
            infos=[{"kind": "phone_number", "label": "work", "value": "+1 514 555-0142"}],
            memberships=[vip],
        ),
        _person(
            "Priya",
            "Natarajan",
            "accounts@initech.test",
            "Initech",
            "Accounts payable",
            notes="Prefers invoices in PDF.",
        ),
        _person(
            "Dana",
            "Whitfield",
            "dana@umbrella.test",
            "Umbrella",
            "Procurement",
            memberships=[vip],
            notes="Renewal due in the spring.",
        ),
        _person(
            "Tom",
            "Becker",
            "tom@hooli.test",
            "Hooli",
            "Data analyst",
            infos=[{"kind": "url", "label": "work", "value": "https://hooli.test"}],
        ),
        {"first_name": "Former", "last_name": "Customer", "deleted": True},
    ]
    return [
        {
            "name": "Customers",
            "organization": ORGANIZATION,
            "owner": "alice@acme.test",
            "description": "People who write to Acme Support",
            "share_with_organization": True,
            "contacts": customers,
        }
    ]
