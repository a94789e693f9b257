"""Missive's two pagination styles (spec 1.7) and their limit rules (spec 1.5)."""

from __future__ import annotations

import pytest

from missive_server.errors import BadRequest
from missive_server.pagination import CursorPage, OffsetPage, cursor_page, offset_page


@pytest.mark.parametrize(
    ("limit", "offset", "expected"),
    [
        (None, None, OffsetPage(limit=50, offset=0)),
        (1, None, OffsetPage(limit=1, offset=0)),
        (10, 20, OffsetPage(limit=10, offset=20)),
        (200, 0, OffsetPage(limit=200, offset=0)),
        (201, 0, OffsetPage(limit=200, offset=0)),
        (10_000, 5, OffsetPage(limit=200, offset=5)),
    ],
)
def test_offset_page_defaults_and_clamps_to_200(
    limit: int | None, offset: int | None, expected: OffsetPage
) -> None:
    assert offset_page(limit, offset) == expected


def test_offset_page_honours_a_resources_own_default_and_maximum() -> None:
    assert offset_page(None, None, default=10, maximum=20) == OffsetPage(limit=10, offset=0)
    assert offset_page(50, None, default=10, maximum=20) == OffsetPage(limit=20, offset=0)


@pytest.mark.parametrize(
    ("limit", "offset", "message"),
    [
        (0, None, "min 'limit' value is 1"),
        (-5, None, "min 'limit' value is 1"),
        (10, -1, "'offset' must be 0 or more"),
    ],
)
def test_offset_page_rejects_out_of_range_values(
    limit: int, offset: int | None, message: str
) -> None:
    with pytest.raises(BadRequest) as raised:
        offset_page(limit, offset)

    assert raised.value.message == message
    assert raised.value.status_code == 400


@pytest.mark.parametrize(
    ("limit", "until", "expected"),
    [
        (None, None, CursorPage(limit=25, until=None)),
        (2, None, CursorPage(limit=2, until=None)),
        (50, 1_700_000_000, CursorPage(limit=50, until=1_700_000_000)),
        (51, None, CursorPage(limit=50, until=None)),
        (1_000, 0, CursorPage(limit=50, until=0)),
    ],
)
def test_cursor_page_defaults_clamps_and_keeps_until(
    limit: int | None, until: int | None, expected: CursorPage
) -> None:
    assert cursor_page(limit, until, default=25, maximum=50) == expected


@pytest.mark.parametrize("limit", [1, 0, -1])
def test_cursor_page_limit_below_two_is_missives_400(limit: int) -> None:
    with pytest.raises(BadRequest) as raised:
        cursor_page(limit, None, default=25, maximum=50)

    assert raised.value.message == "min 'limit' value is 2"
    assert raised.value.status_code == 400
