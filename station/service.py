"""StationService: every request op of docs/station.md, exactly once, and the board.

:meth:`StationService.handle` checks a request once where it enters (device/fields.py:
every error names the field), answers a ``rid`` it has answered before with the stored
response (changing nothing), and otherwise commits what the op changed, its events for
HQ and its response in one transaction before it returns the response. One lock
serialises requests: a ticket is numbered and called by one request at a time.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from device.errors import ParseError, StoreError
from device.events import Draft, EventType
from device.fields import int_field, text_field
from station import ops
from station import queue as q
from station.config import StationConfig
from station.ops import Outcome, Refused, View
from station.queue import Away, Code
from station.reconcile import parse_items, reconcile
from station.store import StationStore

log = logging.getLogger("station")

PROTOCOL = 1
CALLED_ON_BOARD = 8
_WINDOW_OPS = ("call_next", "call", "recall", "no_show", "transfer", "done", "away", "back")
OPS = ("issue", *_WINDOW_OPS, "reconcile")


def refusal(rid: str, code: Code, error: str) -> dict[str, Any]:
    return {"v": PROTOCOL, "rid": rid, "ok": False, "error": error, "code": str(code)}


def request_id(request: Mapping[str, Any]) -> str:
    """The request's ``rid`` (a UUID's text), or "" when it has none we can echo."""
    try:
        return text_field(request, "rid", limit=64, nonempty=True)
    except ParseError:
        return ""


class StationService:
    def __init__(self, store: StationStore, config: StationConfig, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.cfg = config
        self.clock = clock
        self._tz = ZoneInfo(config.timezone)
        self._lock = threading.RLock()

    def today(self, now: float | None = None) -> str:
        return datetime.fromtimestamp(self.clock() if now is None else now,
                                      self._tz).strftime("%Y-%m-%d")

    @property
    def version(self) -> int:
        """Bumped by every commit that changed the queue or the windows."""
        return int(self.store.meta("version", "0"))

    # ------------------------------------------------------------------ requests

    def handle(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The response to ``request`` (a decoded JSON object); never raises for a bad
        request. A database that fails (the disk refused the commit) is answered with
        code ``store``: nothing was stored, the client sends the same rid again."""
        rid = request_id(request)
        try:
            if not rid:
                raise ParseError("missing field 'rid' (the request's UUIDv7, echoed back)")
            v = request.get("v")
            if v != PROTOCOL:
                raise ParseError(f"field 'v' must be {PROTOCOL}")
            device = text_field(request, "device", limit=64, nonempty=True)
            op = text_field(request, "op", limit=32, nonempty=True)
        except ParseError as exc:
            return refusal(rid, Code.BAD_REQUEST, str(exc))
        with self._lock:
            try:
                return self._answer(rid, device, op, request)
            except (StoreError, sqlite3.Error) as exc:
                log.error("request %s (%s from %s) not stored: %s", rid, op, device, exc)
                return refusal(rid, Code.STORE, "the station could not store the request; "
                               "send it again with the same rid")

    def _answer(self, rid: str, device: str, op: str,
                request: Mapping[str, Any]) -> dict[str, Any]:
        stored = self.store.response(rid)
        if stored is not None:
            return stored
        now = self.clock()
        day = self.today(now)
        try:
            outcome = self._run(op, request, self._view(day, now, device))
            response = {"v": PROTOCOL, "rid": rid, "ok": True, **outcome.response}
        except (ParseError, Refused) as exc:
            code = exc.code if isinstance(exc, Refused) else (
                Code.UNKNOWN_OP if op not in OPS else Code.BAD_REQUEST)
            outcome, response = Outcome({}), refusal(rid, code, str(exc))
        writers = [*outcome.writers]
        if outcome.writers:
            writers.append(self.store.set_meta("version", str(self.version + 1)))
        # Refusals are stored too: the same rid always gets the same answer.
        writers.append(self.store.save_response(rid, day, device, op, response, now))
        if self.store.meta("requests_day") != day:
            yesterday = datetime.strptime(day, "%Y-%m-%d") - timedelta(days=1)
            writers += [self.store.prune_requests(yesterday.strftime("%Y-%m-%d")),
                        self.store.set_meta("requests_day", day)]
        self.store.commit(outcome.drafts, writers)
        return response

    def _view(self, day: str, now: float, device: str) -> View:
        away = {n: Away(bool(r["away"]), int(r["backup"]), float(r["since"]),
                        bool(r["alerted"])) for n, r in self.store.windows().items()}
        return View(self.cfg, self.store, day, now, device, away, self.store.service_times())

    @staticmethod
    def _run(op: str, r: Mapping[str, Any], v: View) -> Outcome:
        if op == "issue":
            return ops.issue(v, text_field(r, "service", limit=64, nonempty=True),
                             int_field(r, "priority", lo=0, hi=2, required=False),
                             text_field(r, "appointment", required=False, limit=32))
        if op == "reconcile":
            return reconcile(v, parse_items(r.get("tickets")))
        if op not in _WINDOW_OPS:
            raise ParseError(f"field 'op': {op!r} is not an op (one of {', '.join(OPS)})")
        window = int_field(r, "window", lo=1, hi=999)
        if op == "call_next":
            return ops.call_next(v, window)
        if op == "call":
            return ops.call(v, window, text_field(r, "number", limit=16, nonempty=True))
        if op == "transfer":
            service = text_field(r, "service", required=False, limit=64)
            to_window = int_field(r, "to_window", lo=0, hi=999, required=False)
            if bool(service) == bool(to_window):
                raise ParseError("send either field 'service' or field 'to_window'")
            return ops.transfer(v, window, text_field(r, "number", limit=16, nonempty=True),
                                service, to_window)
        if op == "away":
            return ops.away(v, window, int_field(r, "backup", lo=0, hi=999, required=False))
        simple = {"recall": ops.recall, "no_show": ops.no_show, "done": ops.done,
                  "back": ops.back}
        return simple[op](v, window)

    # ------------------------------------------------------------------ the board

    def board(self) -> dict[str, Any]:
        """What the hall shows (docs/station.md, "The board"), read from the store."""
        with self._lock:
            now = self.clock()
            day = self.today(now)
            v = self._view(day, now, "")
            windows = []
            notices = []
            for w in self.cfg.windows:
                serving = self.store.serving(day, w.number)
                away = q.is_away(v.away, w.number)
                backup = q.backup_of(self.cfg, w.number, v.away)
                windows.append({"window": w.number, "serving": serving["number"] if serving
                                else "", "away": away, "backup": backup,
                                "services": list(w.services)})
                if away:
                    notices.append(q.away_notice(w.number, backup if backup and not
                                                 q.is_away(v.away, backup) else 0))
            waiting = self.store.tickets(day, "waiting")
            counts = {s: 0 for s in self.cfg.services}
            for r in waiting:
                counts[r["service"]] = counts.get(r["service"], 0) + 1
            called = [{"number": r["number"], "window": int(r["window"]),
                       "ts": float(r["called_ts"])}
                      for r in self.store.recent_calls(day, CALLED_ON_BOARD)]
            return {"v": PROTOCOL, "ts": now, "day": day, "version": self.version,
                    "windows": windows, "called": called, "waiting": counts,
                    "longest_wait_min": _longest(waiting, now), "notices": notices}

    # ------------------------------------------------------------------ alerts

    def tick(self) -> bool:
        """Alerts for HQ, at most once each: a window away longer than away_alert_min
        (once per absence), the station crowded (once a day). True when it wrote."""
        with self._lock:
            now = self.clock()
            day = self.today(now)
            drafts: list[Draft] = []
            writers = []
            for n, r in self.store.windows().items():
                minutes = (now - float(r["since"])) / 60.0
                if r["away"] and not r["alerted"] and minutes >= self.cfg.away_alert_min:
                    drafts.append(Draft(EventType.WINDOW_AWAY_TOO_LONG, {
                        "window": n, "away_min": round(minutes, 1), "backup": int(r["backup"]),
                        "limit_min": self.cfg.away_alert_min}))
                    writers.append(self.store.set_window(n, away=True, backup=int(r["backup"]),
                                                         since=float(r["since"]), alerted=True))
            waiting = self.store.tickets(day, "waiting")
            longest = _longest(waiting, now)
            crowd = self.cfg.crowd
            if (len(waiting) >= crowd.waiting or longest >= crowd.longest_wait_min) and \
                    self.store.meta("crowded_day") != day:
                drafts.append(Draft(EventType.STATION_CROWDED, {
                    "waiting": len(waiting), "longest_wait_min": longest,
                    "limit_waiting": crowd.waiting,
                    "limit_wait_min": crowd.longest_wait_min}))
                writers.append(self.store.set_meta("crowded_day", day))
            if not drafts:
                return False
            self.store.commit(drafts, writers)
            return True


def _longest(waiting: list[Any], now: float) -> int:
    if not waiting:
        return 0
    return int(max(0.0, now - min(float(r["issued_ts"]) for r in waiting)) // 60)
