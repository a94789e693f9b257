"""The ``responses`` section of a seed document: canned responses, matched by owner and title."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select

from missive_server.db.models import CannedResponse, CannedResponseLabel, Organization, User
from missive_server.ids import new_id
from missive_server.schemas.canned_responses import ResponseAttachmentIn
from missive_server.schemas.seed import AddressSeed, ResponseSeed, entry_label
from missive_server.services.responses.canned_response_files import attach_files
from missive_server.services.seed._context import SeedContext, SeedError


def seed_responses(
    ctx: SeedContext, responses: Sequence[ResponseSeed], step: Callable[[str], None]
) -> None:
    for index, item in enumerate(responses):
        where = entry_label("responses", index, {"title": item.title})
        org = (
            ctx.organization(f"{where}: organization", item.organization)
            if item.organization
            else None
        )
        owner = ctx.user(f"{where}: user", item.user) if item.user else None
        response = _find(ctx, org, owner, item.title) or _create(ctx, where, item, org, owner)
        ctx.record("responses", item.title, response.id, org.name if org else "")
        step(where)


def _find(
    ctx: SeedContext, org: Organization | None, owner: User | None, title: str
) -> CannedResponse | None:
    in_scope = (
        CannedResponse.organization_id == org.id
        if org is not None
        else CannedResponse.user_id == (owner.id if owner else None)
    )
    return ctx.session.scalar(
        select(CannedResponse)
        .where(in_scope, CannedResponse.title == title)
        .order_by(CannedResponse.created_at, CannedResponse.id)
        .limit(1)
    )


def _create(
    ctx: SeedContext,
    where: str,
    item: ResponseSeed,
    org: Organization | None,
    owner: User | None,
) -> CannedResponse:
    _check_external_id(ctx, where, item, org, owner)
    creator = ctx.user(f"{where}: created_by", item.created_by) if item.created_by else owner
    team = (
        ctx.team(f"{where}: share_with_team", org, item.share_with_team)
        if org and item.share_with_team
        else None
    )
    labels = (
        [ctx.label(f"{where}: shared_labels", org, ref) for ref in item.shared_labels]
        if org
        else []
    )
    response = CannedResponse(
        id=new_id(),
        organization_id=org.id if org else None,
        user_id=owner.id if owner else None,
        title=item.title,
        subject=item.subject,
        body=item.body,
        share_with_team_id=team.id if team else None,
        to_fields=_addresses(item.to_fields),
        cc_fields=_addresses(item.cc_fields),
        bcc_fields=_addresses(item.bcc_fields),
        external_id=item.external_id,
        external_source=item.external_source,
        integration=item.integration,
        created_by_id=creator.id if creator else None,
        created_at=ctx.now,
        modified_at=ctx.now,
    )
    ctx.session.add(response)
    ctx.session.flush()
    ctx.session.add_all(
        CannedResponseLabel(response_id=response.id, shared_label_id=label_id)
        for label_id in dict.fromkeys(label.id for label in labels)
    )
    files = [ResponseAttachmentIn.model_validate(a.model_dump()) for a in item.attachments]
    response.body = attach_files(ctx.session, response, files, now=ctx.now)
    return response


def _check_external_id(
    ctx: SeedContext,
    where: str,
    item: ResponseSeed,
    org: Organization | None,
    owner: User | None,
) -> None:
    if item.external_id is None:
        return
    in_scope = (
        CannedResponse.organization_id == org.id
        if org is not None
        else CannedResponse.user_id == (owner.id if owner else None)
    )
    taken = ctx.session.scalar(
        select(CannedResponse.title).where(
            in_scope,
            CannedResponse.external_source == item.external_source,
            CannedResponse.external_id == item.external_id,
        )
    )
    if taken is not None:
        raise SeedError(
            f"{where}: external_id '{item.external_id}' (external_source"
            f" '{item.external_source}') is already used by the response '{taken}'"
        )


def _addresses(addresses: list[AddressSeed]) -> list[dict[str, str | None]]:
    return [{"name": a.name, "address": a.address} for a in addresses]
