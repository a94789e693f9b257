"""Wire-model bases: one place decides the unknown-field policy for requests and responses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WireModel(BaseModel):
    """A response object exactly as Missive sends it; anything else is a bug (tests validate)."""

    model_config = ConfigDict(extra="forbid")


class RequestModel(BaseModel):
    """A request body item. Unknown attributes are ignored, as real clients send extras."""

    model_config = ConfigDict(extra="ignore")


class ErrorDetail(WireModel):
    message: str


class ErrorEnvelope(WireModel):
    error: ErrorDetail
