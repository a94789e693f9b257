"""Contact wire objects and request bodies (spec 2.2).

The per-kind rules of ``infos`` (which ``label`` values and value fields each kind takes) are
checked by ``check_info`` rather than by pydantic, so messages name the exact item and field:
``'contacts[0].infos[2].label' must be one of: home, work, personal, other``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from missive_server.db.models import Contact, ContactGroup, ContactInfo, ContactMembership
from missive_server.errors import BadRequest
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.fields import Name, one_or_many, reject_null

GroupKind = Literal["group", "organization"]

#: Spec 2.2.1: allowed ``label`` values per info kind.
INFO_LABELS: dict[str, tuple[str, ...]] = {
    "email": ("home", "work", "personal", "other"),
    "phone_number": (
        "main",
        "mobile",
        "home",
        "work",
        "home_fax",
        "work_fax",
        "other_fax",
        "pager",
        "other",
    ),
    "twitter": ("work", "personal", "other"),
    "facebook": ("work", "personal", "other"),
    "physical_address": ("work", "home", "other"),
    "url": ("homepage", "profile", "blog", "work", "personal", "other"),
    "custom": ("other",),
}
ADDRESS_PARTS = ("street", "extended_address", "city", "region", "postal_code", "po_box", "country")
#: The value fields each kind carries on the wire (spec 2.2.1: facebook uses ``name``).
VALUE_FIELDS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(INFO_LABELS, ("value",)),
    "facebook": ("name",),
    "physical_address": ADDRESS_PARTS,
}
ALL_VALUE_FIELDS = ("value", "name", *ADDRESS_PARTS)
SCALAR_FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "phonetic_first_name",
    "phonetic_last_name",
    "phonetic_middle_name",
    "prefix",
    "suffix",
    "nickname",
    "file_as",
    "notes",
    "gender",
)
ORGANIZATION_ONLY = ("title", "location", "department", "description")
Text = Annotated[str, Field(max_length=255)]
Short = Annotated[str, Field(max_length=64)]


class InfoIn(RequestModel):
    """Loosely typed here; ``check_info`` applies the per-kind rules."""

    kind: str
    label: str | None = None
    custom_label: Text | None = None
    value: Annotated[str, Field(max_length=10_000)] | None = None
    name: Text | None = None
    street: Text | None = None
    extended_address: Text | None = None
    city: Text | None = None
    region: Text | None = None
    postal_code: Short | None = None
    po_box: Short | None = None
    country: Text | None = None


class GroupRef(RequestModel):
    kind: GroupKind
    name: Name


class MembershipIn(RequestModel):
    group: GroupRef
    title: Text | None = None
    location: Text | None = None
    department: Text | None = None
    description: Annotated[str, Field(max_length=10_000)] | None = None


class ContactFields(RequestModel):
    """Every attribute of spec 2.2.1 but ``contact_book``; on PATCH, ``null`` clears a scalar."""

    first_name: Text | None = None
    last_name: Text | None = None
    middle_name: Text | None = None
    phonetic_first_name: Text | None = None
    phonetic_last_name: Text | None = None
    phonetic_middle_name: Text | None = None
    prefix: Short | None = None
    suffix: Short | None = None
    nickname: Text | None = None
    file_as: Text | None = None
    notes: Annotated[str, Field(max_length=100_000)] | None = None
    gender: Short | None = None
    starred: bool | None = None
    infos: list[InfoIn] | None = None
    memberships: list[MembershipIn] | None = None

    _not_null = field_validator("starred", "infos", "memberships")(reject_null)


class ContactIn(ContactFields):
    contact_book: str


class ContactPatch(ContactFields):
    id: str
    contact_book: str | None = None


class ContactsCreateBody(RequestModel):
    contacts: list[ContactIn]

    _one_or_many = field_validator("contacts", mode="before")(one_or_many)


class ContactsUpdateBody(RequestModel):
    contacts: list[ContactPatch]

    _one_or_many = field_validator("contacts", mode="before")(one_or_many)


def check_info(where: str, info: InfoIn) -> InfoIn:
    """Spec 2.2.1's table, item by item; ``where`` is ``contacts[0].infos[2]``."""
    if info.kind not in INFO_LABELS:
        raise BadRequest(f"'{where}.kind' must be one of: {', '.join(INFO_LABELS)}")
    labels = INFO_LABELS[info.kind]
    label = info.label
    if label is None and info.kind == "custom":
        # Custom infos come back without their (implied) label (spec 2.2 notes).
        label = "other"
    if label is None:
        raise BadRequest(f"'{where}.label' is required")
    if label not in labels:
        raise BadRequest(f"'{where}.label' must be one of: {', '.join(labels)}")
    if info.custom_label is not None and label != "other":
        raise BadRequest(f"'{where}.custom_label' is only allowed when 'label' is 'other'")
    if info.kind == "custom" and not (info.custom_label or "").strip():
        raise BadRequest(f"'{where}.custom_label' is required for custom infos")
    _check_values(where, info)
    return info.model_copy(update={"label": label})


def _check_values(where: str, info: InfoIn) -> None:
    used = VALUE_FIELDS[info.kind]
    for field in ALL_VALUE_FIELDS:
        if field not in used and getattr(info, field) is not None:
            allowed = ", ".join(used)
            raise BadRequest(f"'{where}.{field}' is not used by {info.kind} infos (use: {allowed})")
    if info.kind == "physical_address":
        if all(not (getattr(info, part) or "").strip() for part in ADDRESS_PARTS):
            raise BadRequest(f"'{where}' needs at least one of: {', '.join(ADDRESS_PARTS)}")
        return
    field = used[0]
    text = (getattr(info, field) or "").strip()
    if not text:
        raise BadRequest(f"'{where}.{field}' is required for {info.kind} infos")
    if info.kind == "email" and ("@" not in text[1:-1] or any(c.isspace() for c in text)):
        raise BadRequest(f"'{where}.value' must be an email address")


def check_membership(where: str, membership: MembershipIn) -> None:
    if membership.group.kind == "organization":
        return
    for field in ORGANIZATION_ONLY:
        if getattr(membership, field) is not None:
            raise BadRequest(f"'{where}.{field}' is only allowed for organization memberships")


# --- wire ---------------------------------------------------------------------------------------


class InfoOut(WireModel):
    kind: str
    label: str | None = None
    custom_label: str | None = None
    value: str | None = None
    name: str | None = None
    street: str | None = None
    extended_address: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    po_box: str | None = None
    country: str | None = None


class GroupOut(WireModel):
    id: str
    kind: GroupKind
    name: str


class MembershipOut(WireModel):
    group: GroupOut
    title: str | None = None
    location: str | None = None
    department: str | None = None
    description: str | None = None


class ContactOut(WireModel):
    id: str
    contact_book: str
    first_name: str | None
    last_name: str | None
    middle_name: str | None
    phonetic_first_name: str | None
    phonetic_last_name: str | None
    phonetic_middle_name: str | None
    prefix: str | None
    suffix: str | None
    nickname: str | None
    file_as: str | None
    notes: str | None
    gender: str | None
    starred: bool
    deleted: bool
    modified_at: int
    infos: list[InfoOut]
    memberships: list[MembershipOut]


class DeletedContactOut(WireModel):
    """``include_deleted`` stubs (spec 2.2.3)."""

    id: str
    deleted: Literal[True]
    modified_at: int


class ContactsEnvelope(WireModel):
    contacts: list[ContactOut | DeletedContactOut]


def render_info(kind: str, fields: dict[str, str | None]) -> dict[str, Any]:
    """Kind, label, then only the value fields of that kind (spec 2.2 "Contact object")."""
    out: dict[str, Any] = {"kind": kind}
    if kind != "custom":
        out["label"] = fields["label"]
    if fields["custom_label"] is not None:
        out["custom_label"] = fields["custom_label"]
    for field in VALUE_FIELDS[kind]:
        out[field] = fields[field]
    return out


def render_membership(group: dict[str, str], fields: dict[str, str | None]) -> dict[str, Any]:
    out: dict[str, Any] = {"group": group}
    if group["kind"] == "organization":
        out.update({field: fields[field] for field in ORGANIZATION_ONLY})
    return out


def render_contact(
    contact: Contact,
    infos: Sequence[ContactInfo],
    memberships: Sequence[tuple[ContactMembership, ContactGroup]],
) -> dict[str, Any]:
    """Every scalar attribute (``null`` when unset) and always both arrays (compatibility.md)."""
    out: dict[str, Any] = {"id": contact.id, "contact_book": contact.contact_book_id}
    out.update({field: getattr(contact, field) for field in SCALAR_FIELDS})
    out["starred"] = contact.starred
    out["deleted"] = contact.deleted
    out["modified_at"] = contact.modified_at
    out["infos"] = [
        render_info(
            i.kind, {f: getattr(i, f) for f in ("label", "custom_label", *ALL_VALUE_FIELDS)}
        )
        for i in infos
    ]
    out["memberships"] = [
        render_membership(
            {"id": g.id, "kind": g.kind, "name": g.name},
            {f: getattr(m, f) for f in ORGANIZATION_ONLY},
        )
        for m, g in memberships
    ]
    return out


def render_deleted_contact(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "deleted": True, "modified_at": contact.modified_at}
