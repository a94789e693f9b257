"""Time as an injected dependency, so tests never sleep (design.md, convention 8)."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Current time as integer Unix seconds (Missive's only time format, spec 1.9)."""
        ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


class FrozenClock:
    """A clock that only moves when told to; used by tests and the emulator."""

    def __init__(self, start: int = 1_700_000_000) -> None:
        self._now = start

    def now(self) -> int:
        return self._now

    def set(self, value: int) -> None:
        self._now = value

    def advance(self, seconds: int) -> None:
        self._now += seconds
