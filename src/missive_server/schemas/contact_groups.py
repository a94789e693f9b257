"""Contact group wire objects (spec 2.4)."""

from __future__ import annotations

from typing import Any

from missive_server.db.models import ContactGroup
from missive_server.schemas.base import WireModel


class ContactGroupOut(WireModel):
    id: str
    name: str


class ContactGroupsEnvelope(WireModel):
    contact_groups: list[ContactGroupOut]


def render_contact_group(group: ContactGroup) -> dict[str, Any]:
    return {"id": group.id, "name": group.name}
