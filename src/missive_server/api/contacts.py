"""POST/GET /v1/contacts, GET /v1/contacts/:id and PATCH /v1/contacts/:ids (spec 2.2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from missive_server.api.deps import Context
from missive_server.api.params import Limit, Offset
from missive_server.api.responses import envelope
from missive_server.api.routing import UnitOfWorkRoute
from missive_server.ids import split_ids
from missive_server.pagination import offset_page
from missive_server.schemas.contacts import (
    ContactsCreateBody,
    ContactsEnvelope,
    ContactsUpdateBody,
    render_contact,
    render_deleted_contact,
)
from missive_server.services.contacts import contacts
from missive_server.services.contacts.contacts import ContactQuery, ContactView

router = APIRouter(route_class=UnitOfWorkRoute, tags=["Contacts"])


def _render(views: list[ContactView], status_code: int = 200) -> Response:
    rendered = [
        render_deleted_contact(v.contact)
        if v.contact.deleted
        else render_contact(v.contact, v.infos, v.memberships)
        for v in views
    ]
    return envelope("contacts", rendered, status_code)


@router.get("/contacts", response_model=ContactsEnvelope, summary="List or search contacts")
async def list_contacts(
    ctx: Context,
    contact_book: Annotated[str, Query(description="Contact book id")],
    order: Annotated[str, Query(description="last_name or last_modified")] = "last_name",
    limit: Limit = None,
    offset: Offset = None,
    modified_since: Annotated[int | None, Query(description="Unix seconds")] = None,
    include_deleted: Annotated[bool, Query(description="With modified_since: stubs")] = False,
    search: Annotated[str | None, Query(description="Words matched by prefix")] = None,
) -> Response:
    page = offset_page(limit, offset)
    query = ContactQuery(
        book_id=contact_book,
        order=order,
        modified_since=modified_since,
        include_deleted=include_deleted,
        search=search,
    )
    return _render(contacts.list_contacts(ctx.session, actor=ctx.actor, query=query, page=page))


@router.get(
    "/contacts/{contact_id}",
    response_model=ContactsEnvelope,
    summary="Get a contact (an array of one; deleted contacts are 404)",
)
async def get_contact(contact_id: str, ctx: Context) -> Response:
    found = contacts.get_contact(
        ctx.session, actor=ctx.actor, contact_id=contact_id.strip().lower()
    )
    return _render([found])


@router.post(
    "/contacts", response_model=ContactsEnvelope, status_code=201, summary="Create contacts"
)
async def create_contacts(body: ContactsCreateBody, ctx: Context) -> Response:
    created = contacts.create_contacts(
        ctx.session, actor=ctx.actor, items=body.contacts, now=ctx.clock.now()
    )
    return _render(created, 201)


@router.patch("/contacts/{ids}", response_model=ContactsEnvelope, summary="Update contacts")
async def update_contacts(ids: str, body: ContactsUpdateBody, ctx: Context) -> Response:
    updated = contacts.update_contacts(
        ctx.session,
        actor=ctx.actor,
        contact_ids=split_ids(ids),
        items=body.contacts,
        now=ctx.clock.now(),
    )
    return _render(updated)
