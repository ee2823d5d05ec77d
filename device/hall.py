"""What the hall's calling display shows, from the station's board (docs/station.md).

Pure, so the Kivy screen (ui/screens/hall.py), the headless hall (``kiosk sim hall``)
and the tests read the same lines. :class:`HallBoard` keeps the latest board for both:
the station driver puts each retained board in, the screen subscribes to it.

The notices come from two places: HQ's site notices (device/notices.py; the
extended-hours notice a chief pushes when the station is crowded, an urgent one) first,
then the station board's own (a window away, go to its backup).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

NameOf = Callable[[str], str]  # a service code -> its name on screen (the catalogue's)
SiteNotices = Callable[[], Sequence[str]]  # HQ's notices valid now, urgent first


OFFLINE = "叫号系统暂时中断，请留意各窗口的屏幕和语音叫号"


def call_text(number: str, window: int | str) -> str:
    """The sentence a call is shown and spoken as."""
    return f"请{number}号到{window}号窗口办理"


@dataclass(frozen=True)
class WindowLine:
    window: int
    serving: str
    away: bool
    backup: int

    @property
    def text(self) -> str:
        if self.away:
            return (f"{self.window}号窗口暂离，请到{self.backup}号窗口办理" if self.backup
                    else f"{self.window}号窗口暂停服务")
        return (f"{self.window}号窗口　正在办理 {self.serving}" if self.serving
                else f"{self.window}号窗口　等候叫号")


@dataclass(frozen=True)
class HallView:
    latest: str = ""  # the newest call, as it is spoken ("请A007号到2号窗口办理")
    windows: tuple[WindowLine, ...] = ()
    called: tuple[str, ...] = ()  # the last calls, newest first: "A007 → 2号窗口"
    waiting: tuple[str, ...] = ()  # "居民身份证换领 3人"
    notices: tuple[str, ...] = ()
    longest_wait_min: int = 0
    # The station said it is gone (its LWT): the windows call from their own blocks
    # meanwhile, on their own screens and speakers (docs/station.md).
    offline: bool = False

    def lines(self) -> list[str]:
        """Everything the hall shows, top to bottom, as text."""
        out = [self.latest or "请留意叫号"]
        if self.offline:
            out.append(OFFLINE)
        out += [w.text for w in self.windows]
        if self.called:
            out.append("最近叫号：" + "　".join(self.called))
        if self.waiting:
            out.append("等候人数：" + "　".join(self.waiting))
        if self.longest_wait_min:
            out.append(f"最长等候约 {self.longest_wait_min} 分钟")
        out += [f"公告：{n}" for n in self.notices]
        return out


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def hall_view(board: Mapping[str, Any] | None, name_of: NameOf = str,
              online: bool | None = None, site_notices: Sequence[str] = ()) -> HallView:
    """The display of ``board`` (None: nothing heard from the station yet); ``online``
    False when the station's state says it is gone; ``site_notices`` HQ's, shown first."""
    site = tuple(n for n in site_notices if n)
    if not board:
        return HallView(notices=site, offline=online is False)
    windows = tuple(
        WindowLine(_int(w.get("window")), str(w.get("serving") or ""), bool(w.get("away")),
                   _int(w.get("backup")))
        for w in board.get("windows", ()) or () if isinstance(w, Mapping))
    calls = [c for c in board.get("called", ()) or () if isinstance(c, Mapping)]
    calls.sort(key=lambda c: float(c.get("ts") or 0), reverse=True)
    latest = call_text(str(calls[0]["number"]), _int(calls[0].get("window"))) if calls else ""
    waiting_map = board.get("waiting") or {}
    waiting = tuple(f"{name_of(str(s))} {_int(n)}人" for s, n in waiting_map.items()
                    if _int(n) > 0) if isinstance(waiting_map, Mapping) else ()
    own = tuple(str(n.get("text", "")) if isinstance(n, Mapping) else str(n)
                for n in board.get("notices", ()) or ())
    notices = tuple(dict.fromkeys(site + tuple(n for n in own if n)))
    return HallView(latest, windows,
                    tuple(f"{c['number']} → {_int(c.get('window'))}号窗口" for c in calls[:8]),
                    waiting, notices, _int(board.get("longest_wait_min")), online is False)


def new_calls(before: Mapping[str, Any] | None,
              after: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The calls ``after`` has that ``before`` had not (number, window), oldest first: what
    the hall speaks. A recall is a new entry (its own ts)."""
    def key(c: Mapping[str, Any]) -> tuple[str, int, float]:
        return (str(c.get("number", "")), _int(c.get("window")), float(c.get("ts") or 0))

    seen = {key(c) for c in (before or {}).get("called", ()) or () if isinstance(c, Mapping)}
    fresh = [key(c) for c in after.get("called", ()) or ()
             if isinstance(c, Mapping) and key(c) not in seen]
    return [(n, w) for n, w, _ in sorted(fresh, key=lambda k: k[2])]


@dataclass
class HallBoard:
    """The latest board, shared by the station driver (writes) and the screen (reads)."""

    name_of: NameOf = str
    site_notices: SiteNotices = tuple
    board: dict[str, Any] | None = None
    _observers: list[Callable[[HallView], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(default_factory=threading.Condition)
    version: int = 0
    online: bool | None = None  # the station's retained state; None: not heard

    def update(self, board: dict[str, Any] | None = None,
               online: bool | None = None) -> HallView:
        """A new board, or (``online``) the station's state."""
        with self._lock:
            if board is not None:
                self.board = board
            if online is not None:
                self.online = online
            view = self.view()
        with self.changed:
            self.version += 1
            self.changed.notify_all()
        for observer in list(self._observers):
            observer(view)
        return view

    def view(self) -> HallView:
        return hall_view(self.board, self.name_of, self.online, self.site_notices())

    def lines(self) -> list[str]:
        return self.view().lines()

    def subscribe(self, observer: Callable[[HallView], None]) -> None:
        self._observers.append(observer)

    def unsubscribe(self, observer: Callable[[HallView], None]) -> None:
        if observer in self._observers:
            self._observers.remove(observer)

    def wait_for(self, predicate: Callable[[HallView], bool], timeout: float) -> bool:
        """Wait until the view satisfies ``predicate`` (tests, headless checks)."""
        with self.changed:
            return self.changed.wait_for(lambda: predicate(self.view()), timeout)
