"""Organization wire objects (spec 2.8)."""

from __future__ import annotations

from typing import Any

from missive_server.db.models import Organization
from missive_server.schemas.base import WireModel


class OrganizationOut(WireModel):
    id: str
    name: str


class OrganizationsEnvelope(WireModel):
    organizations: list[OrganizationOut]


def render_organization(organization: Organization) -> dict[str, Any]:
    return {"id": organization.id, "name": organization.name}
