"""Query parameters shared by several resources."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

Limit = Annotated[int | None, Query(description="Page size")]
Offset = Annotated[int | None, Query(description="Offset-style pagination (spec 1.7)")]
Until = Annotated[int | None, Query(description="Unix seconds; inclusive cursor (spec 1.7)")]
OrganizationFilter = Annotated[str | None, Query(description="Organization id filter")]
