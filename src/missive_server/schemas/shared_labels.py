"""Shared label wire objects and request bodies (spec 1A "Shared label", 2.11)."""

from __future__ import annotations

from typing import Any, Literal, Protocol

from pydantic import field_validator

from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.fields import HexColor, Name, one_or_many, reject_null

Visibility = Literal["organization", "delegates"]

#: Fields only admins and owners may change (spec 2.11.2).
SHARING_FIELDS = ("visibility", "share_with_organization", "share_with_team", "share_with_users")


class SharedLabelFields(RequestModel):
    """Optional on create and update; ``null`` clears ``color``, ``parent``, ``share_with_team``."""

    color: HexColor | None = None
    parent: str | None = None
    share_with_organization: bool | None = None
    share_with_team: str | None = None
    share_with_users: list[str] | None = None
    visibility: Visibility | None = None

    _not_null = field_validator("share_with_organization", "share_with_users", "visibility")(
        reject_null
    )


class SharedLabelIn(SharedLabelFields):
    name: Name
    organization: str


class SharedLabelPatch(SharedLabelFields):
    id: str
    name: Name | None = None

    _name_not_null = field_validator("name")(reject_null)


class SharedLabelsCreateBody(RequestModel):
    shared_labels: list[SharedLabelIn]

    _one_or_many = field_validator("shared_labels", mode="before")(one_or_many)


class SharedLabelsUpdateBody(RequestModel):
    shared_labels: list[SharedLabelPatch]

    _one_or_many = field_validator("shared_labels", mode="before")(one_or_many)


class SharedLabelOut(WireModel):
    id: str
    name: str
    name_with_parent_names: str
    organization: str
    color: str | None
    parent: str | None
    share_with_organization: bool
    share_with_users: list[str]
    share_with_team: str | None
    visibility: Visibility


class SharedLabelsEnvelope(WireModel):
    shared_labels: list[SharedLabelOut]


class SharedLabelLike(Protocol):
    """What renders a label: an ORM ``SharedLabel`` or a Core row of its columns."""

    @property
    def id(self) -> str: ...
    @property
    def organization_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def color(self) -> str | None: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def share_with_organization(self) -> bool: ...
    @property
    def share_with_team_id(self) -> str | None: ...
    @property
    def visibility(self) -> str: ...


def render_shared_label(
    label: SharedLabelLike, *, parent_names: str, share_with_users: list[str]
) -> dict[str, Any]:
    """The full form (spec 1A). ``parent_names`` is the label's ``name_with_parent_names``, as
    computed in batch by ``services.shared_labels.names_with_parents``."""
    return {
        "id": label.id,
        "name": label.name,
        "name_with_parent_names": parent_names,
        "organization": label.organization_id,
        "color": label.color,
        "parent": label.parent_id,
        "share_with_organization": label.share_with_organization,
        "share_with_users": share_with_users,
        "share_with_team": label.share_with_team_id,
        "visibility": label.visibility,
    }
