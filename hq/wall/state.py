"""The live wall's tiles: one per window, from hq_devices.state/health (what the counters
publish, sync/health.py) and the window's last rating.

:class:`Wall` keeps every tile of one database in memory with a revision number: a refresh
reads only the hq_devices rows whose ``last_seen`` moved (plus an overlap, since a writer
that took its timestamp earlier may commit later), rebuilds the tiles whose row changed
and bumps their revision. A browser then asks for "everything after revision N" and gets
only the windows that changed, whatever their number.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from django.utils.html import escape

from device.codes import FAULTS, Fault
from device.rating import RatingLevel
from device.snapshot import Mode
from hq import clock
from hq.conf import TIME_ZONE
from hq.facts import STATION_DEVICE
from hq.names import Names

TZ = ZoneInfo(TIME_ZONE)
OVERLAP_S = 10.0  # re-read rows this much older than the newest seen (late commits)
MIN_REFRESH_S = 0.2  # several browsers polling share one read
NAMES_EVERY_S = 30.0  # renames in the admin show within this


class Status(StrEnum):
    OFFLINE = "offline"
    NEVER = "never"  # a window in the admin whose counter never reported
    IDLE = Mode.IDLE.value
    SERVING = Mode.SERVING.value
    RATING = Mode.RATING.value
    AWAY = Mode.AWAY.value


STATUS_LABEL = {Status.OFFLINE: "离线", Status.NEVER: "未接入", Status.IDLE: "空闲",
                Status.SERVING: "办理中", Status.RATING: "评价中", Status.AWAY: "暂离"}
COMPONENT_LABEL = {"printer": "打印机", "sign": "暂离屏", "link": "工作站连接",
                   "scanner": "扫码器", "sound": "音响", "gpio": "按键", "store": "存储"}


def _local(iso: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return (t if t.tzinfo else t.replace(tzinfo=TZ)).astimezone(TZ)


def _clock_text(t: datetime, now: datetime) -> str:
    return t.strftime("%H:%M") if t.date() == now.date() else t.strftime("%m-%d %H:%M")


def _age_text(seconds: float) -> str:
    if seconds < 60:
        return f"{int(seconds)} 秒"
    if seconds < 3600:
        return f"{int(seconds // 60)} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def _fault_text(component: str, info: dict[str, Any]) -> str:
    what = COMPONENT_LABEL.get(component, component)
    try:
        known = FAULTS.get(Fault(str(info.get("fault", ""))))
    except ValueError:
        known = None
    return f"{what}：{known.citizen if known else '故障'}"


@dataclass(frozen=True)
class Tile:
    """What one window's tile shows, every text already in Chinese and local time."""

    site: str
    device: str
    window: str
    status: Status
    officer: str = "—"
    away_reason: str = ""
    away_back: str = ""
    overdue: bool = False
    waiting: int | None = None
    faults: tuple[str, ...] = ()
    outbox: str = ""
    last_rating: str = ""
    seen: str = ""

    @property
    def key(self) -> str:
        return f"{self.site}/{self.device}"

    def html(self) -> str:
        """The tile as HTML (the page and /live/data send the same fragment)."""
        cls = ["tile", self.status.value]
        if self.overdue:
            cls.append("overdue")
        if self.faults:
            cls.append("faulty")
        lines = [f'<div class="tile-head"><span class="win">{escape(self.window)}</span>'
                 f'<span class="badge state">{STATUS_LABEL[self.status]}</span></div>',
                 f'<div class="officer">民警：{escape(self.officer)}</div>']
        if self.status is Status.AWAY:
            back = f"，预计 {escape(self.away_back)} 返回" if self.away_back else ""
            late = '<span class="badge red">逾期未归</span>' if self.overdue else ""
            lines.append(f'<div class="away">暂离：{escape(self.away_reason or "未说明")}'
                         f'{back} {late}</div>')
        if self.waiting is not None:
            lines.append(f'<div class="waiting">排队 <b>{self.waiting}</b> 人</div>')
        for f in self.faults:
            lines.append(f'<div class="fault">{escape(f)}</div>')
        if self.outbox:
            lines.append(f'<div class="outbox">{escape(self.outbox)}</div>')
        if self.last_rating:
            lines.append(f'<div class="rating">最近评价：{escape(self.last_rating)}</div>')
        if self.seen:
            lines.append(f'<div class="seen muted">{escape(self.seen)}</div>')
        return (f'<div class="{" ".join(cls)}" data-key="{escape(self.key)}" '
                f'data-status="{self.status.value}">{"".join(lines)}</div>')


def _json(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def rating_text(body: str | None, names: Names, now: datetime) -> str:
    """``满意 14:05`` from a rating.given envelope."""
    doc = _json(body)
    data = doc.get("data")
    if not isinstance(data, dict):
        return ""
    try:
        label = RatingLevel(str(data.get("level", ""))).label
    except ValueError:
        return ""
    at = _local(str(doc.get("ts", "")))
    return f"{label} {_clock_text(at, now)}" if at else label


def build_tile(site: str, device: str, state: str | None, health: str | None,
               last_seen: str | None, rating: str, names: Names, now: datetime) -> Tile:
    """One window's tile from its stored state and health JSON."""
    st, hl = _json(state), _json(health)
    window = names.window(site, device)
    seen_at = _local(last_seen or "")
    if last_seen is None:
        return Tile(site, device, window, Status.NEVER)
    if st.get("online") is False:
        # The store keeps the last state under the Last Will: who was there is known,
        # what the window does now is not.
        officer = str(st.get("officer") or "")
        return Tile(site, device, window, Status.OFFLINE, last_rating=rating,
                    officer=f"{names.officer(officer)}（离线前）" if officer else "—",
                    seen=f"最后消息 {_clock_text(seen_at, now)}" if seen_at else "")
    try:
        status = Status(str(st.get("mode", "idle")))
    except ValueError:
        status = Status.IDLE
    away = st.get("away")
    reason, back, overdue = "", "", False
    if status is Status.AWAY and isinstance(away, dict):
        reason = str(away.get("reason", ""))
        at = _local(str(away.get("return_at", "")))
        if at is not None:
            back, overdue = _clock_text(at, now), at < now
    faults = tuple(_fault_text(str(c), info)
                   for c, info in sorted((hl.get("peripherals") or {}).items())
                   if isinstance(info, dict) and info.get("ok") is False)
    depth, age = hl.get("outbox_depth"), hl.get("oldest_unsent_age_s")
    outbox = ""
    if isinstance(depth, int) and depth > 0:
        outbox = f"待上传 {depth} 条" + (f"，最早 {_age_text(float(age))}前"
                                        if isinstance(age, int | float) else "")
    waiting = hl.get("people_waiting")
    return Tile(site, device, window, status, officer=names.officer(str(st.get("officer", ""))),
                away_reason=reason, away_back=back, overdue=overdue,
                waiting=waiting if isinstance(waiting, int) else None, faults=faults,
                outbox=outbox, last_rating=rating)


@dataclass
class Entry:
    rev: int
    tile: Tile
    html: str
    raw: tuple[Any, ...]  # the row it was built from: unchanged row, no rebuild


@dataclass
class Wall:
    """Every tile of one database, with revisions (one per console process and alias)."""

    alias: str = "default"
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    rev: int = 0
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    names: Names = field(default_factory=Names)
    newest: str = ""
    _read_at: float = -1e9
    _names_at: float = -1e9
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            if not force and time.monotonic() - self._read_at < MIN_REFRESH_S:
                return
            self._refresh()
            self._read_at = time.monotonic()

    def _refresh(self) -> None:
        from hq.db import HqDb

        db = HqDb(self.alias)
        now = clock.now()
        mono = time.monotonic()
        renamed = mono - self._names_at > NAMES_EVERY_S
        if renamed:
            names = Names.load(self.alias)
            self._names_at = mono
            if names != self.names:  # a rename in the admin: every tile says it at once
                self.names = names
                for key, e in list(self.entries.items()):
                    self._put(key, e.raw, rating_text(e.raw[4] if len(e.raw) > 4 else None,
                                                      names, now), now)
            for site, device in self.names.windows:
                if (site, device) not in self.entries:
                    self._put((site, device), (None, None, None, None), "", now)
        since = self._since()
        # The station's queue server reports as a device too (its kiosk-sync's state): it
        # is no window; its trouble reaches HQ as station alerts (hq.alerts).
        rows = db.all("SELECT site, device, head_seq, state, health, last_seen FROM "
                      "hq_devices WHERE last_seen >= ? AND device <> ?",
                      (since, STATION_DEVICE))
        for site, device, head, state, health, seen in rows:
            key = (str(site), str(device))
            raw = (int(head), state, health, seen)
            old = self.entries.get(key)
            if old is not None and old.raw[:4] == raw:
                continue
            rating = old.raw[4] if old is not None and len(old.raw) > 4 else None
            if old is None or old.raw[0] != raw[0]:
                found = db.one("SELECT body FROM hq_events WHERE site = ? AND device = ? AND "
                               "type = 'rating.given' ORDER BY seq DESC LIMIT 1", key)
                rating = str(found[0]) if found else None
            self._put(key, (*raw, rating), rating_text(rating, self.names, now), now)
            if str(seen) > self.newest:
                self.newest = str(seen)
        # A return time passes without any message: those tiles turn overdue by the clock.
        for key, e in list(self.entries.items()):
            if e.tile.status is Status.AWAY and not e.tile.overdue and len(e.raw) > 4:
                self._put(key, e.raw, e.tile.last_rating, now)

    def _since(self) -> str:
        if not self.newest:
            return ""
        t = datetime.fromisoformat(self.newest.replace("Z", "+00:00"))
        return (datetime.fromtimestamp(t.timestamp() - OVERLAP_S, t.tzinfo)
                .isoformat(timespec="milliseconds").replace("+00:00", "Z"))

    def _put(self, key: tuple[str, str], raw: tuple[Any, ...], rating: str,
             now: datetime) -> None:
        tile = build_tile(key[0], key[1], raw[1], raw[2], raw[3], rating, self.names, now)
        html = tile.html()
        old = self.entries.get(key)
        if old is not None and old.html == html:
            old.raw = raw
            return
        self.rev += 1
        self.entries[key] = Entry(self.rev, tile, html, raw)

    def cursor(self) -> str:
        return f"{self.epoch}.{self.rev}"

    def after(self, cursor: str) -> tuple[bool, list[Entry]]:
        """(full, entries): entries changed after ``cursor``; every entry when the cursor
        is from another process (a restarted console) or missing."""
        epoch, _, rev = cursor.partition(".")
        if epoch != self.epoch or not rev.isdigit():
            return True, list(self.entries.values())
        n = int(rev)
        return False, [e for e in self.entries.values() if e.rev > n]


_walls: dict[str, Wall] = {}
_walls_lock = threading.Lock()


def wall_for(alias: str = "default") -> Wall:
    with _walls_lock:
        if alias not in _walls:
            _walls[alias] = Wall(alias)
        return _walls[alias]
