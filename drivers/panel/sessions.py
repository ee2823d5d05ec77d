"""Who is signed in at the panel, and how often a PIN may be wrong. Pure: time comes from
the clock the panel is given, so tests move it instead of waiting.

One window has one officer: :class:`Desk` holds at most one session, and another badge
cannot sign in while it lasts (it ends at sign-out or after ``idle_s`` without a
request). :class:`Throttle` counts wrong PINs per badge and per desk PC: after
``max_failures`` within ``lockout_s`` of each other, sign-in is refused for ``lockout_s``,
a right PIN included, so guessing a 6-digit PIN takes years.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

MAX_TRACKED = 1000  # throttle entries kept; the oldest go first (a flood cannot grow it)


@dataclass
class Session:
    token: str  # the cookie's value
    badge: str
    name: str
    csrf: str  # every form of this session carries it
    last: float  # clock time of the last request
    flash: list[tuple[bool, str]] = field(default_factory=list)  # results to show once


class Busy(Exception):
    """Another officer is signed in at this window."""

    def __init__(self, session: Session) -> None:
        super().__init__(f"{session.name}（{session.badge}）is signed in")
        self.session = session


class Desk:
    def __init__(self, idle_s: float, clock: Callable[[], float]) -> None:
        self.idle_s = idle_s
        self.clock = clock
        self._session: Session | None = None

    def current(self) -> Session | None:
        s = self._session
        if s is not None and self.clock() - s.last > self.idle_s:
            self._session = s = None  # idle too long: the next officer may sign in
        return s

    def get(self, token: str | None) -> Session | None:
        """The session ``token`` names, refreshed; None if it ended or never was."""
        s = self.current()
        if s is None or not token or not secrets.compare_digest(s.token, token):
            return None
        s.last = self.clock()
        return s

    def open(self, badge: str, name: str) -> Session:
        """A new session for ``badge`` (replacing its own older one); Busy if another
        officer holds the desk."""
        s = self.current()
        if s is not None and s.badge != badge:
            raise Busy(s)
        self._session = Session(secrets.token_urlsafe(32), badge, name,
                                secrets.token_urlsafe(32), self.clock())
        return self._session

    def close(self, token: str | None) -> Session | None:
        s = self.get(token)
        if s is not None:
            self._session = None
        return s


@dataclass
class _Count:
    failures: int
    first: float
    locked_until: float = 0.0


class Throttle:
    def __init__(self, max_failures: int, lockout_s: float,
                 clock: Callable[[], float]) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.clock = clock
        self._counts: dict[str, _Count] = {}

    def wait(self, keys: Iterable[str]) -> float:
        """Seconds until ``keys`` may try again (0: now)."""
        now = self.clock()
        waits = [c.locked_until - now for k in keys if (c := self._counts.get(k)) is not None]
        return max([0.0, *waits])

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        for k in keys:
            c = self._counts.get(k)
            if c is None or now - c.first > self.lockout_s:
                c = self._counts[k] = _Count(0, now)
            c.failures += 1
            if c.failures >= self.max_failures:
                c.locked_until = now + self.lockout_s
                c.failures, c.first = 0, now + self.lockout_s
        while len(self._counts) > MAX_TRACKED:
            del self._counts[next(iter(self._counts))]

    def succeeded(self, keys: Iterable[str]) -> None:
        for k in keys:
            self._counts.pop(k, None)
