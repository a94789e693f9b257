"""Team wire objects and request bodies (spec 2.12)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, field_validator

from missive_server.db.models import Team
from missive_server.schemas.base import RequestModel, WireModel
from missive_server.schemas.fields import (
    Emoji,
    HexColor,
    Name,
    invalid,
    one_or_many,
    reject_null,
)

TeamMentionBehavior = Literal["all_members", "only_active_members"]
UserReplyBehavior = Literal["assign_user", "leave_in_team_inbox"]
ReceivedReplyBehavior = Literal["show_in_assignee_inbox", "show_in_team_inbox"]
TeamSidebarBehavior = Literal["show_team_space", "show_team_inbox"]

SECONDS_PER_DAY = 86_400
#: Stored in a 32-bit INTEGER column (PostgreSQL would refuse anything larger).
MAX_SECONDS = 2**31 - 1


def _seconds(value: int) -> int:
    if not 0 <= value <= MAX_SECONDS:
        raise invalid(f"must be a number of seconds from 0 to {MAX_SECONDS}")
    return value


Seconds = Annotated[int, AfterValidator(_seconds)]


# --- business hours ---------------------------------------------------------------------


class BusinessDay(RequestModel):
    d: int
    s: list[int]

    @field_validator("d")
    @classmethod
    def _weekday(cls, value: int) -> int:
        if not 0 <= value <= 6:
            raise invalid("must be a day from 0 (Sunday) to 6 (Saturday)")
        return value

    @field_validator("s")
    @classmethod
    def _span(cls, value: list[int]) -> list[int]:
        if len(value) != 2 or not 0 <= value[0] < value[1] <= SECONDS_PER_DAY:
            raise invalid(
                "must be [start, end] in seconds from midnight"
                f" with 0 <= start < end <= {SECONDS_PER_DAY}"
            )
        return value


class BusinessHours(RequestModel):
    tz: str
    t: list[BusinessDay]

    @field_validator("tz")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a path
            raise invalid("must be an IANA time zone name such as 'America/Montreal'") from None
        return value


# --- requests -----------------------------------------------------------------------------

#: Scalar columns a request may set directly (members are stored in their own table).
TEAM_SETTINGS = frozenset(
    {
        "name",
        "emoji",
        "color",
        "business_hours",
        "inactivity_period",
        "team_mention_behavior",
        "user_reply_behavior",
        "received_reply_behavior",
        "team_sidebar_behavior",
        "team_inbox_enabled",
        "chat_room_enabled",
    }
)


class TeamFields(RequestModel):
    """Everything optional on both create and update. ``null`` clears the nullable settings."""

    emoji: Emoji | None = None
    color: HexColor | None = None
    active_members: list[str] | None = None
    observers: list[str] | None = None
    business_hours: BusinessHours | None = None
    inactivity_period: Seconds | None = None
    team_mention_behavior: TeamMentionBehavior | None = None
    user_reply_behavior: UserReplyBehavior | None = None
    received_reply_behavior: ReceivedReplyBehavior | None = None
    team_sidebar_behavior: TeamSidebarBehavior | None = None
    team_inbox_enabled: bool | None = None
    chat_room_enabled: bool | None = None

    _not_null = field_validator(
        "active_members",
        "observers",
        "team_mention_behavior",
        "user_reply_behavior",
        "received_reply_behavior",
        "team_sidebar_behavior",
        "team_inbox_enabled",
        "chat_room_enabled",
    )(reject_null)


class TeamIn(TeamFields):
    name: Name
    organization: str


class TeamPatch(TeamFields):
    id: str
    name: Name | None = None

    _name_not_null = field_validator("name")(reject_null)


class TeamsCreateBody(RequestModel):
    teams: list[TeamIn]

    _one_or_many = field_validator("teams", mode="before")(one_or_many)


class TeamsUpdateBody(RequestModel):
    teams: list[TeamPatch]

    _one_or_many = field_validator("teams", mode="before")(one_or_many)


# --- responses ----------------------------------------------------------------------------


class BusinessDayOut(WireModel):
    d: int
    s: list[int]


class BusinessHoursOut(WireModel):
    tz: str
    t: list[BusinessDayOut]


class TeamOut(WireModel):
    id: str
    name: str
    emoji: str | None
    color: str | None
    organization: str
    active_members: list[str]
    observers: list[str]
    business_hours: BusinessHoursOut | None
    inactivity_period: int | None
    team_mention_behavior: TeamMentionBehavior
    user_reply_behavior: UserReplyBehavior
    received_reply_behavior: ReceivedReplyBehavior
    team_sidebar_behavior: TeamSidebarBehavior
    team_inbox_enabled: bool
    chat_room_enabled: bool


class TeamsEnvelope(WireModel):
    teams: list[TeamOut]


def render_team(team: Team, *, active_members: list[str], observers: list[str]) -> dict[str, Any]:
    return {
        "id": team.id,
        "name": team.name,
        "emoji": team.emoji,
        "color": team.color,
        "organization": team.organization_id,
        "active_members": active_members,
        "observers": observers,
        "business_hours": team.business_hours,
        "inactivity_period": team.inactivity_period,
        "team_mention_behavior": team.team_mention_behavior,
        "user_reply_behavior": team.user_reply_behavior,
        "received_reply_behavior": team.received_reply_behavior,
        "team_sidebar_behavior": team.team_sidebar_behavior,
        "team_inbox_enabled": team.team_inbox_enabled,
        "chat_room_enabled": team.chat_room_enabled,
    }
