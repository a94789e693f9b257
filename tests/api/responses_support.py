"""Helpers shared by the canned response tests (``/v1/responses``, spec 2.9)."""

from __future__ import annotations

import base64
import struct
from typing import Any

from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import CannedResponse, Organization, User
from missive_server.ids import new_id
from missive_server.schemas.canned_responses import ResponsesEnvelope
from tests.conftest import bearer
from tests.factories import Factory

NOW = 1_700_000_000
PLAIN: dict[str, Any] = {
    "title": None,
    "body": None,
    "subject": None,
    "organization": None,
    "user": None,
    "share_with_team": None,
    "modified_at": NOW,
    "to_fields": [],
    "cc_fields": [],
    "bcc_fields": [],
    "shared_labels": [],
    "external_id": None,
    "external_source": None,
    "attachments": [],
}


def png(width: int = 100, height: int = 80) -> bytes:
    """Enough of a PNG for its size to be read (signature + IHDR)."""
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + struct.pack(">II", width, height) + b"\0"


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def text_file(name: str, temporary_id: str | None = None) -> dict[str, Any]:
    """An attachment item whose content is its own name."""
    item = {"base64_data": b64(name.encode()), "filename": name}
    return item if temporary_id is None else {**item, "id": temporary_id}


def not_found(response_id: str) -> dict[str, Any]:
    return error(f"Response with id '{response_id}' does not exist")


def hidden_response_ids(factory: Factory, session: Session, org: Organization) -> list[str]:
    """Ids a member of ``org`` cannot see: unknown, another organization's, a colleague's own."""
    other = factory.organization("Other")
    colleague = factory.member(org)[0]
    return [
        new_id(),
        stored_response(session, organization=other).id,
        stored_response(session, user=colleague).id,
    ]


def sharing_values(factory: Factory, org: Organization) -> dict[str, Any]:
    return {
        "share_with_team": factory.team(org).id,
        "shared_labels": [factory.shared_label(org).id],
    }


def responses_of(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    ResponsesEnvelope.model_validate(body)  # the exact wire schema, no extra field
    items: list[dict[str, Any]] = body["responses"]
    return items


def post(client: TestClient, token: str, *items: dict[str, Any]) -> Any:
    return client.post("/v1/responses", headers=bearer(token), json={"responses": list(items)})


def patch(client: TestClient, token: str, path: str, *items: dict[str, Any]) -> Any:
    return client.patch(
        f"/v1/responses/{path}", headers=bearer(token), json={"responses": list(items)}
    )


def patched(
    client: TestClient, token: str, response_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """PATCH one response; its new wire form."""
    response = patch(client, token, response_id, {"id": response_id, **changes})
    assert response.status_code == 200, response.json()
    [one] = responses_of(response)
    return one


def delete(client: TestClient, token: str, path: str) -> Any:
    return client.delete(f"/v1/responses/{path}", headers=bearer(token))


def listed(client: TestClient, token: str, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v1/responses?{query}", headers=bearer(token))
    assert response.status_code == 200, response.json()
    return responses_of(response)


def created(client: TestClient, token: str, *items: dict[str, Any]) -> list[dict[str, Any]]:
    response = post(client, token, *items)
    assert response.status_code == 201, response.json()
    return responses_of(response)


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def stored_response(
    session: Session,
    *,
    organization: Organization | None = None,
    user: User | None = None,
    title: str = "Stored",
    created_at: int = NOW,
    integration: str | None = None,
    share_with_team_id: str | None = None,
    created_by: User | None = None,
) -> CannedResponse:
    """A response written directly (integration templates cannot be created through the API)."""
    row = CannedResponse(
        id=new_id(),
        organization_id=organization.id if organization else None,
        user_id=user.id if user else None,
        title=title,
        body="<p>Hi</p>",
        to_fields=[],
        cc_fields=[],
        bcc_fields=[],
        integration=integration,
        share_with_team_id=share_with_team_id,
        created_by_id=created_by.id if created_by else None,
        created_at=created_at,
        modified_at=created_at,
    )
    session.add(row)
    session.commit()
    return row
