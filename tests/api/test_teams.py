from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.db.models import Organization, Team
from missive_server.ids import new_id
from missive_server.schemas.teams import TeamsEnvelope
from tests.conftest import bearer, count_queries
from tests.factories import UNKNOWN_ID, Factory

UNAUTHORIZED = {"error": {"message": "Authentication token is invalid or has been revoked"}}
FORBIDDEN = {"error": {"message": "You must be an admin or owner of the organization to do this"}}
DEFAULTS: dict[str, Any] = {
    "emoji": None,
    "color": None,
    "active_members": [],
    "observers": [],
    "business_hours": None,
    "inactivity_period": None,
    "team_mention_behavior": "all_members",
    "user_reply_behavior": "assign_user",
    "received_reply_behavior": "show_in_assignee_inbox",
    "team_sidebar_behavior": "show_team_space",
    "team_inbox_enabled": True,
    "chat_room_enabled": False,
}
FULL_INPUT: dict[str, Any] = {
    "name": "Support",
    "emoji": ":dart:",
    "color": "#2266ED",
    "business_hours": {"tz": "America/Montreal", "t": [{"d": 1, "s": [32400, 61200]}]},
    "inactivity_period": 604800,
    "team_mention_behavior": "only_active_members",
    "user_reply_behavior": "leave_in_team_inbox",
    "received_reply_behavior": "show_in_team_inbox",
    "team_sidebar_behavior": "show_team_inbox",
    "team_inbox_enabled": False,
    "chat_room_enabled": True,
}


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message}}


def teams_of(response: Any) -> list[dict[str, Any]]:
    body = response.json()
    TeamsEnvelope.model_validate(body)  # the exact wire schema, no extra field
    teams: list[dict[str, Any]] = body["teams"]
    return teams


# --- GET /v1/teams ------------------------------------------------------------------------------


def test_list_returns_full_teams_of_the_callers_organizations(
    client: TestClient, factory: Factory
) -> None:
    acme, other = factory.organization("Acme"), factory.organization("Other")
    me, token = factory.member(acme)
    bob, carol = factory.member(acme)[0], factory.member(acme)[0]
    team = factory.team(acme, "Support", active=[carol, me], observers=[bob])
    factory.team(other, "Elsewhere")

    response = client.get("/v1/teams", headers=bearer(token))

    assert response.status_code == 200
    assert teams_of(response) == [
        {
            **DEFAULTS,
            "id": team.id,
            "name": "Support",
            "organization": acme.id,
            "active_members": [carol.id, me.id],
            "observers": [bob.id],
        }
    ]


def test_list_filters_by_organization(client: TestClient, factory: Factory) -> None:
    acme, beta, other = (factory.organization(n) for n in ("Acme", "Beta", "Other"))
    me = factory.user(organizations={acme: "user", beta: "user"})
    token = factory.token(me)
    factory.team(acme, "A")
    factory.team(beta, "B")

    both = client.get("/v1/teams", headers=bearer(token))
    only_beta = client.get(f"/v1/teams?organization={beta.id}", headers=bearer(token))
    foreign = client.get(f"/v1/teams?organization={other.id}", headers=bearer(token))

    assert [t["name"] for t in teams_of(both)] == ["A", "B"]
    assert [t["name"] for t in teams_of(only_beta)] == ["B"]
    assert foreign.status_code == 404
    assert foreign.json() == error(f"Organization with id '{other.id}' does not exist")


def test_list_pagination(client: TestClient, factory: Factory, session: Session) -> None:
    acme = factory.organization()
    _, token = factory.member(acme)
    add_teams(session, acme, 203)

    def names(query: str) -> list[str]:
        response = client.get(f"/v1/teams?{query}", headers=bearer(token))
        assert response.status_code == 200
        return [t["name"] for t in teams_of(response)]

    assert len(names("")) == 50
    assert len(names("limit=500")) == 200
    assert names("limit=2") == ["Team 000", "Team 001"]
    assert names("limit=2&offset=2") == ["Team 002", "Team 003"]
    assert names("limit=2&offset=202") == ["Team 202"]
    assert names("offset=203") == []
    for query, message in (
        ("limit=0", "min 'limit' value is 1"),
        ("offset=-1", "'offset' must be 0 or more"),
        ("limit=x", "'limit' must be an integer"),
    ):
        response = client.get(f"/v1/teams?{query}", headers=bearer(token))
        assert (response.status_code, response.json()) == (400, error(message))


def add_teams(session: Session, org: Organization, count: int) -> None:
    session.add_all(
        Team(id=new_id(), organization_id=org.id, name=f"Team {i:03}", created_at=0)
        for i in range(count)
    )
    session.commit()


def test_list_runs_a_constant_number_of_queries(
    client: TestClient, factory: Factory, engine: Engine
) -> None:
    acme = factory.organization()
    me, token = factory.member(acme)
    for i in range(5):
        factory.team(acme, f"T{i}", active=[me], observers=[factory.member(acme)[0]])

    with count_queries(engine) as statements:
        response = client.get("/v1/teams", headers=bearer(token))

    assert len(teams_of(response)) == 5
    assert len(statements) <= 3  # token, teams, members


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/teams"), ("POST", "/v1/teams"), ("PATCH", f"/v1/teams/{UNKNOWN_ID}")],
)
def test_missing_or_invalid_token_is_401(client: TestClient, method: str, path: str) -> None:
    body = {"teams": [{"id": path.rsplit("/", 1)[-1], "name": "X", "organization": new_id()}]}
    for headers in ({}, bearer("missive_pat-nope")):
        json = None if method == "GET" else body
        response = client.request(method, path, headers=headers, json=json)
        assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


# --- POST /v1/teams -----------------------------------------------------------------------------


def test_create_returns_full_team_and_stores_it(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    admin, token = factory.member(acme, "admin")
    bob = factory.member(acme)[0]
    item = {**FULL_INPUT, "organization": acme.id, "active_members": [bob.id, admin.id]}

    response = client.post(
        "/v1/teams", headers=bearer(token), json={"teams": [item, item | {"name": "Sales"}]}
    )

    assert response.status_code == 201
    created = teams_of(response)
    expected = {
        **FULL_INPUT,
        "organization": acme.id,
        "active_members": [bob.id, admin.id],
        "observers": [],
    }
    assert created == [
        {**expected, "id": created[0]["id"]},
        {**expected, "id": created[1]["id"], "name": "Sales"},
    ]
    listed = teams_of(client.get("/v1/teams", headers=bearer(token)))
    assert listed == [created[1], created[0]]  # by name


def test_create_applies_defaults_and_accepts_a_single_object(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "owner")

    response = client.post(
        "/v1/teams",
        headers=bearer(token),
        json={"teams": {"name": " Ops ", "organization": acme.id}},
    )

    assert response.status_code == 201
    [team] = teams_of(response)
    assert team == {**DEFAULTS, "id": team["id"], "name": "Ops", "organization": acme.id}


def test_create_requires_an_admin(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "user")

    response = client.post(
        "/v1/teams", headers=bearer(token), json={"teams": [{"name": "X", "organization": acme.id}]}
    )

    assert (response.status_code, response.json()) == (403, FORBIDDEN)


def test_create_in_an_unknown_or_foreign_organization_is_404(
    client: TestClient, factory: Factory
) -> None:
    acme, other = factory.organization(), factory.organization("Other")
    _, token = factory.member(acme, "admin")
    factory.member(other, "admin")

    for org_id in (other.id, new_id()):
        response = client.post(
            "/v1/teams",
            headers=bearer(token),
            json={"teams": [{"name": "X", "organization": org_id}]},
        )
        assert (response.status_code, response.json()) == (
            404,
            error(f"Organization with id '{org_id}' does not exist"),
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": None}, "'teams[0].name' must be a string"),
        ({"name": "  "}, "'teams[0].name' must not be empty"),
        ({"name": "x" * 256}, "'teams[0].name' must be at most 255 characters"),
        ({"organization": None}, "'teams[0].organization' must be a string"),
        ({"color": "blue"}, "'teams[0].color' must be a HEX color (#RGB or #RRGGBB)"),
        ({"emoji": "x" * 65}, "'teams[0].emoji' must be at most 64 characters"),
        (
            {"team_mention_behavior": "everyone"},
            "'teams[0].team_mention_behavior' must be 'all_members' or 'only_active_members'",
        ),
        (
            {"user_reply_behavior": "assign"},
            "'teams[0].user_reply_behavior' must be 'assign_user' or 'leave_in_team_inbox'",
        ),
        (
            {"received_reply_behavior": None},
            "'teams[0].received_reply_behavior' must not be null",
        ),
        (
            {"team_sidebar_behavior": "hide"},
            "'teams[0].team_sidebar_behavior' must be 'show_team_space' or 'show_team_inbox'",
        ),
        ({"team_inbox_enabled": "maybe"}, "'teams[0].team_inbox_enabled' must be true or false"),
        ({"active_members": "abc"}, "'teams[0].active_members' must be an array"),
        (
            {"inactivity_period": -1},
            "'teams[0].inactivity_period' must be a number of seconds from 0 to 2147483647",
        ),
        (
            {"business_hours": {"tz": "Mars/Olympus", "t": []}},
            "'teams[0].business_hours.tz'"
            " must be an IANA time zone name such as 'America/Montreal'",
        ),
        (
            {"business_hours": {"tz": "UTC", "t": [{"d": 7, "s": [0, 60]}]}},
            "'teams[0].business_hours.t[0].d' must be a day from 0 (Sunday) to 6 (Saturday)",
        ),
        (
            {
                "business_hours": {
                    "tz": "UTC",
                    "t": [{"d": 1, "s": [0, 60]}, {"d": 2, "s": [61200, 32400]}],
                }
            },
            "'teams[0].business_hours.t[1].s' must be [start, end] in seconds from midnight"
            " with 0 <= start < end <= 86400",
        ),
        (
            {"business_hours": {"tz": "UTC", "t": [{"d": 1, "s": [0, 86401]}]}},
            "'teams[0].business_hours.t[0].s' must be [start, end] in seconds from midnight"
            " with 0 <= start < end <= 86400",
        ),
        ({"business_hours": {"t": []}}, "'teams[0].business_hours.tz' is required"),
    ],
)
def test_create_validation_names_the_field(
    client: TestClient, factory: Factory, change: dict[str, Any], message: str
) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")

    body = {"teams": [{"name": "Support", "organization": acme.id, **change}]}
    response = client.post("/v1/teams", headers=bearer(token), json=body)

    assert (response.status_code, response.json()) == (400, error(message))


def test_create_body_envelope_errors(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")

    for body, message in (
        ({}, "'teams' is required"),
        ({"teams": []}, "'teams' must hold at least one object"),
        ({"teams": [{"organization": acme.id}]}, "'teams[0].name' is required"),
        ({"teams": [{"name": "X"}]}, "'teams[0].organization' is required"),
    ):
        response = client.post("/v1/teams", headers=bearer(token), json=body)
        assert (response.status_code, response.json()) == (400, error(message))


def test_create_members_must_belong_to_the_organization(
    client: TestClient, factory: Factory
) -> None:
    acme, other = factory.organization(), factory.organization("Other")
    admin, token = factory.member(acme, "admin")
    outsider = factory.member(other)[0]

    for field in ("active_members", "observers"):
        for user_id in (outsider.id, new_id()):
            body = {"teams": [{"name": "X", "organization": acme.id, field: [admin.id, user_id]}]}
            response = client.post("/v1/teams", headers=bearer(token), json=body)
            assert (response.status_code, response.json()) == (
                404,
                error(f"User with id '{user_id}' does not exist"),
            )


def test_create_refuses_a_user_both_active_and_observer(
    client: TestClient, factory: Factory
) -> None:
    acme = factory.organization()
    admin, token = factory.member(acme, "admin")

    body = {
        "teams": [
            {
                "name": "X",
                "organization": acme.id,
                "active_members": [admin.id],
                "observers": [admin.id],
            }
        ]
    }
    response = client.post("/v1/teams", headers=bearer(token), json=body)

    assert (response.status_code, response.json()) == (
        400,
        error(f"User with id '{admin.id}' cannot be both an active member and an observer"),
    )


def test_create_is_all_or_nothing(client: TestClient, factory: Factory) -> None:
    acme, beta = factory.organization("Acme"), factory.organization("Beta")
    me = factory.user(organizations={acme: "admin", beta: "user"})
    token = factory.token(me)

    bad_member = [
        {"name": "A", "organization": acme.id},
        {"name": "B", "organization": acme.id, "observers": [new_id()]},
    ]
    not_admin = [{"name": "A", "organization": acme.id}, {"name": "B", "organization": beta.id}]

    assert (
        client.post("/v1/teams", headers=bearer(token), json={"teams": bad_member}).status_code
        == 404
    )
    assert (
        client.post("/v1/teams", headers=bearer(token), json={"teams": not_admin}).status_code
        == 403
    )
    assert teams_of(client.get("/v1/teams", headers=bearer(token))) == []


# --- PATCH /v1/teams/:ids -----------------------------------------------------------------------


def test_update_is_partial(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    admin, token = factory.member(acme, "admin")
    bob = factory.member(acme)[0]
    created = teams_of(
        client.post(
            "/v1/teams",
            headers=bearer(token),
            json={
                "teams": [
                    {
                        **FULL_INPUT,
                        "organization": acme.id,
                        "active_members": [admin.id],
                        "observers": [bob.id],
                    }
                ]
            },
        )
    )[0]

    response = client.patch(
        f"/v1/teams/{created['id']}",
        headers=bearer(token),
        json={
            "teams": [
                {"id": created["id"], "name": "Help", "emoji": None, "chat_room_enabled": False}
            ]
        },
    )

    assert response.status_code == 200
    assert teams_of(response) == [
        {**created, "name": "Help", "emoji": None, "chat_room_enabled": False}
    ]
    assert teams_of(client.get("/v1/teams", headers=bearer(token))) == teams_of(response)


def test_update_replaces_member_lists(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    admin, token = factory.member(acme, "admin")
    bob, carol = factory.member(acme)[0], factory.member(acme)[0]
    team = factory.team(acme, active=[admin, bob], observers=[carol])

    def patch(item: dict[str, Any]) -> dict[str, Any]:
        response = client.patch(
            f"/v1/teams/{team.id}", headers=bearer(token), json={"teams": {"id": team.id, **item}}
        )
        assert response.status_code == 200, response.json()
        return teams_of(response)[0]

    assert patch({"active_members": [carol.id, admin.id], "observers": []}) == {
        **DEFAULTS,
        "id": team.id,
        "name": "Support",
        "organization": acme.id,
        "active_members": [carol.id, admin.id],
        "observers": [],
    }
    assert patch({"observers": [bob.id]})["active_members"] == [carol.id, admin.id]
    after = patch({"active_members": [], "observers": [admin.id, bob.id]})
    assert (after["active_members"], after["observers"]) == ([], [admin.id, bob.id])

    response = client.patch(
        f"/v1/teams/{team.id}",
        headers=bearer(token),
        json={"teams": {"id": team.id, "active_members": [bob.id]}},
    )
    assert (response.status_code, response.json()) == (
        400,
        error(f"User with id '{bob.id}' cannot be both an active member and an observer"),
    )


def test_update_several_in_path_order(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")
    one, two = factory.team(acme, "One"), factory.team(acme, "Two")

    response = client.patch(
        f"/v1/teams/{two.id},{one.id}",
        headers=bearer(token),
        json={"teams": [{"id": one.id, "color": "#abc"}, {"id": two.id, "color": "#123456"}]},
    )

    assert response.status_code == 200
    assert [(t["id"], t["color"]) for t in teams_of(response)] == [
        (two.id, "#123456"),
        (one.id, "#abc"),
    ]


def test_update_body_must_match_path(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")
    one, two = factory.team(acme, "One"), factory.team(acme, "Two")
    message = "'teams' must hold exactly one object per id in the path, each with its 'id'"

    for path, items in (
        (one.id, [{"id": two.id, "name": "X"}]),
        (f"{one.id},{two.id}", [{"id": one.id, "name": "X"}]),
        (one.id, [{"id": one.id, "name": "X"}, {"id": one.id, "name": "Y"}]),
    ):
        response = client.patch(f"/v1/teams/{path}", headers=bearer(token), json={"teams": items})
        assert (response.status_code, response.json()) == (400, error(message))
    response = client.patch(
        f"/v1/teams/{one.id}", headers=bearer(token), json={"teams": [{"name": "X"}]}
    )
    assert (response.status_code, response.json()) == (400, error("'teams[0].id' is required"))
    response = client.patch(
        f"/v1/teams/{one.id}", headers=bearer(token), json={"teams": [{"id": one.id, "name": None}]}
    )
    assert (response.status_code, response.json()) == (
        400,
        error("'teams[0].name' must not be null"),
    )


def test_update_unknown_or_foreign_team_is_404(client: TestClient, factory: Factory) -> None:
    acme, other = factory.organization(), factory.organization("Other")
    _, token = factory.member(acme, "admin")
    mine, foreign = factory.team(acme, "Mine"), factory.team(other, "Foreign")

    for team_id in (foreign.id, new_id()):
        response = client.patch(
            f"/v1/teams/{mine.id},{team_id}",
            headers=bearer(token),
            json={"teams": [{"id": mine.id, "name": "Changed"}, {"id": team_id, "name": "X"}]},
        )
        assert (response.status_code, response.json()) == (
            404,
            error(f"Team with id '{team_id}' does not exist"),
        )
    assert [t["name"] for t in teams_of(client.get("/v1/teams", headers=bearer(token)))] == ["Mine"]


def test_update_requires_an_admin(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "user")
    team = factory.team(acme)

    response = client.patch(
        f"/v1/teams/{team.id}",
        headers=bearer(token),
        json={"teams": [{"id": team.id, "name": "X"}]},
    )

    assert (response.status_code, response.json()) == (403, FORBIDDEN)


def test_update_is_all_or_nothing(client: TestClient, factory: Factory) -> None:
    acme = factory.organization()
    _, token = factory.member(acme, "admin")
    one, two = factory.team(acme, "One"), factory.team(acme, "Two")

    response = client.patch(
        f"/v1/teams/{one.id},{two.id}",
        headers=bearer(token),
        json={
            "teams": [{"id": one.id, "name": "Changed"}, {"id": two.id, "observers": [new_id()]}]
        },
    )

    assert response.status_code == 404
    assert [t["name"] for t in teams_of(client.get("/v1/teams", headers=bearer(token)))] == [
        "One",
        "Two",
    ]
