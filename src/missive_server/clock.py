"""Time as an injected dependency, so tests never sleep (design.md, convention 8)."""

from __future__ import annotations

import threading
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


class EmulatorClock:
    """The emulator's time (``/_emulator/clock``): a base clock plus an offset, optionally
    frozen. A lock guards it because the delivery worker thread reads it while the API moves
    it. In-process state: ``serve --emulator`` refuses ``--workers`` above 1 for this reason."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base: Clock = base or SystemClock()
        self._lock = threading.Lock()
        self._offset = 0
        self._frozen_at: int | None = None

    def now(self) -> int:
        with self._lock:
            return self._now_locked()

    def _now_locked(self) -> int:
        if self._frozen_at is not None:
            return self._frozen_at
        return self._base.now() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    @property
    def offset(self) -> int:
        """Seconds between emulator time and the base clock."""
        with self._lock:
            return self._now_locked() - self._base.now()

    def advance(self, seconds: int) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def set(self, value: int) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = value
            else:
                self._offset = value - self._base.now()

    def freeze(self, frozen: bool) -> None:
        """Freeze at the current emulator time, or resume from it."""
        with self._lock:
            if frozen and self._frozen_at is None:
                self._frozen_at = self._now_locked()
            elif not frozen and self._frozen_at is not None:
                self._offset = self._frozen_at - self._base.now()
                self._frozen_at = None

    def reset(self) -> None:
        with self._lock:
            self._offset, self._frozen_at = 0, None
