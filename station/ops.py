"""What each request op does: read the queue, decide, and say what to write.

Each op gets a :class:`View` (the day's rows as they are now) and the request's checked
fields, and returns an :class:`Outcome`: the response, the events for HQ and the row
writers, committed together by :class:`station.service.StationService` with the
request's stored response. A refusal raises :class:`Refused` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from device.events import Draft, EventType
from device.store import Writer
from station import queue as q
from station.config import StationConfig
from station.queue import Away, Code, Row
from station.store import StationStore


class Refused(Exception):
    def __init__(self, code: Code, error: str) -> None:
        super().__init__(error)
        self.code = code
        self.error = error


@dataclass
class Outcome:
    response: dict[str, Any]
    drafts: list[Draft] = field(default_factory=list)
    writers: list[Writer] = field(default_factory=list)


@dataclass
class View:
    """The day's queue as one op sees it (read under the service's lock)."""

    cfg: StationConfig
    store: StationStore
    day: str
    now: float
    device: str
    away: dict[int, Away]
    times: dict[tuple[str, int], tuple[float, int]]

    def waiting(self) -> list[Row]:
        return q.ordered(self.store.tickets(self.day, "waiting"))

    def ticket(self, number: str) -> Row:
        row = self.store.ticket(self.day, number)
        if row is None:
            raise Refused(Code.TICKET_UNKNOWN, f"field 'number': ticket {number} was not "
                          f"issued on {self.day}")
        return row

    def window(self, number: int) -> int:
        if self.cfg.window(number) is None:
            known = ", ".join(str(w.number) for w in self.cfg.windows)
            raise Refused(Code.WINDOW_UNKNOWN, f"field 'window': window {number} is not "
                          f"configured at this station (windows {known})")
        return number

    def present(self, window: int) -> int:
        if q.is_away(self.away, self.window(window)):
            raise Refused(Code.WINDOW_AWAY, f"field 'window': window {window} is away; "
                          "send 'back' first")
        return window

    def serving(self, window: int) -> Row:
        row = self.store.serving(self.day, self.window(window))
        if row is None:
            raise Refused(Code.NO_CALLED_TICKET, f"field 'window': window {window} serves "
                          "no ticket now")
        return row

    def idle(self, window: int) -> None:
        row = self.store.serving(self.day, window)
        if row is not None:
            raise Refused(Code.BUSY, f"field 'window': window {window} still serves "
                          f"{row['number']}; send done or no_show first")


def ticket_json(row: Row, *, day: str) -> dict[str, Any]:
    """A ticket as the window ops answer it (drivers/station/ reads recalls, no_shows)."""
    return {"number": row["number"], "service": row["service"],
            "priority": int(row["priority"]), "issued_ts": float(row["issued_ts"]), "day": day,
            "status": row["status"], "window": int(row["window"]),
            "recalls": int(row["recalls"]), "no_shows": int(row["no_shows"])}


def issue(v: View, service: str, priority: int, appointment: str) -> Outcome:
    prefix = v.cfg.prefix_of(service)
    if prefix is None or service not in v.cfg.services:
        raise Refused(Code.SERVICE_UNKNOWN, f"field 'service': {service!r} is served at no "
                      f"window of this station (services {', '.join(v.cfg.services)})")
    count = v.store.number_count(v.day, prefix) + 1
    number = f"{prefix}{count:03d}"
    windows = q.eligible(v.cfg, service, 0, v.away)
    ahead = q.ahead_of(v.cfg, windows, priority, v.now, v.waiting(), v.away)
    wait = q.est_wait_min(v.cfg, service, windows, ahead, v.times)
    row = {"day": v.day, "number": number, "service": service, "priority": priority,
           "appointment": appointment, "issued_ts": v.now, "issued_by": v.device}
    ticket = {"number": number, "service": service, "priority": priority,
              "issued_ts": v.now, "day": v.day}
    return Outcome(
        {"ticket": ticket, "ahead": ahead, "est_wait_min": wait, "windows": sorted(windows)},
        [Draft(EventType.TICKET_ISSUED, {
            "number": number, "service": service, "group": "", "priority": priority,
            "appointment": appointment, "people_ahead": ahead, "est_wait_min": wait,
            "by": v.device})],
        [v.store.count_number(v.day, prefix, count), v.store.insert_ticket(row)])


def _called(v: View, row: Row, window: int, **facts: Any) -> Outcome:
    called = {**row, "status": "called", "window": window, "called_ts": v.now}
    extra = {"skipped": facts["skipped"]} if "skipped" in facts else {}
    return Outcome(
        {"ticket": ticket_json(called, day=v.day), **extra},
        [Draft(EventType.TICKET_CALLED, {
            "number": row["number"], "service": row["service"], "window": window,
            "priority": int(row["priority"]),
            "waited_s": round(max(0.0, v.now - float(row["issued_ts"])), 1), **facts})],
        [v.store.update_ticket(int(row["id"]), status="called", window=window,
                               called_ts=v.now)])


def call_next(v: View, window: int) -> Outcome:
    v.present(window)
    v.idle(window)
    row = q.next_for(v.cfg, window, v.waiting(), v.away)
    if row is None:
        return Outcome({"ticket": None})
    return _called(v, row, window)


def call(v: View, window: int, number: str) -> Outcome:
    v.present(window)
    v.idle(window)
    row = v.ticket(number)
    if row["status"] != "waiting":
        raise Refused(Code.TICKET_NOT_WAITING, f"field 'number': ticket {number} is "
                      f"{row['status']}" + (f" at window {row['window']}"
                                            if row["window"] else ""))
    if window not in q.serving_windows(v.cfg, row["service"], int(row["to_window"])) | \
            q.eligible_row(v.cfg, row, v.away):
        raise Refused(Code.NOT_FOR_WINDOW, f"field 'number': ticket {number} "
                      f"({row['service']}) is not served at window {window}")
    skipped = sum(1 for r in v.waiting() if q.key(r) < q.key(row)
                  and window in q.eligible_row(v.cfg, r, v.away))
    return _called(v, row, window, out_of_order=True, skipped=skipped)


def recall(v: View, window: int) -> Outcome:
    row = v.serving(window)
    count = int(row["recalls"]) + 1
    return Outcome({"ticket": ticket_json({**row, "recalls": count}, day=v.day)},
                   [Draft(EventType.TICKET_RECALLED, {
                       "number": row["number"], "window": window, "count": count})],
                   [v.store.update_ticket(int(row["id"]), recalls=count, called_ts=v.now)])


def no_show(v: View, window: int) -> Outcome:
    row = v.serving(window)
    no_shows = int(row["no_shows"]) + 1
    requeued = no_shows <= v.cfg.no_show_requeue
    if requeued:
        windows = q.eligible_row(v.cfg, row, v.away)
        same = [r for r in v.waiting() if q.eligible_row(v.cfg, r, v.away) & windows]
        priority, place = q.requeue_place(row, same, v.cfg.no_show_requeue_after)
        write = v.store.update_ticket(int(row["id"]), status="waiting", window=0,
                                      called_ts=None, priority=priority, place=place,
                                      no_shows=no_shows)
        status = "waiting"
    else:
        write = v.store.update_ticket(int(row["id"]), status="no_show", no_shows=no_shows,
                                      done_ts=v.now)
        status = "no_show"
    after = {**row, "status": status, "no_shows": no_shows}
    return Outcome({"ticket": ticket_json(after, day=v.day), "requeued": requeued},
                   [Draft(EventType.TICKET_NO_SHOW, {
                       "number": row["number"], "service": row["service"], "window": window,
                       "no_shows": no_shows, "requeued": requeued})],
                   [write])


def transfer(v: View, window: int, number: str, service: str, to_window: int) -> Outcome:
    v.window(window)
    row = v.ticket(number)
    served_here = row["status"] == "called" and int(row["window"]) == window
    if not (served_here or row["status"] == "waiting"):
        raise Refused(Code.TICKET_NOT_WAITING, f"field 'number': ticket {number} is "
                      f"{row['status']}; only a waiting ticket or the one this window "
                      "serves can be transferred")
    facts: dict[str, Any] = {"number": number, "window": window,
                             "from_service": row["service"]}
    values: dict[str, Any] = {"status": "waiting", "window": 0, "called_ts": None}
    if service:
        if service not in v.cfg.services:
            raise Refused(Code.SERVICE_UNKNOWN, f"field 'service': {service!r} is served at "
                          "no window of this station")
        if service == row["service"]:
            raise Refused(Code.SAME_SERVICE, f"field 'service': ticket {number} is already "
                          f"for {service}")
        facts["to_service"] = values["service"] = service
        values["to_window"] = 0
    else:
        v.window(to_window)
        if to_window == window:
            raise Refused(Code.OWN_WINDOW, f"field 'to_window': {to_window} is this window")
        facts["to_window"] = values["to_window"] = to_window
    after = {**row, **values}
    return Outcome({"ticket": ticket_json(after, day=v.day), "from_service": row["service"]},
                   [Draft(EventType.TICKET_TRANSFERRED, facts)],
                   [v.store.update_ticket(int(row["id"]), **values)])


def done(v: View, window: int) -> Outcome:
    row = v.serving(window)
    service_s = round(max(0.0, v.now - float(row["called_ts"])), 1)
    avg, n = q.moving_average(v.times.get((row["service"], window)), service_s,
                              v.cfg.average_weight)
    after = {**row, "status": "done", "done_ts": v.now}
    return Outcome({"ticket": ticket_json(after, day=v.day), "service_s": service_s},
                   [Draft(EventType.TICKET_DONE, {
                       "number": row["number"], "service": row["service"], "window": window,
                       "service_s": service_s, "waited_s": round(max(
                           0.0, float(row["called_ts"]) - float(row["issued_ts"])), 1)})],
                   [v.store.update_ticket(int(row["id"]), status="done", done_ts=v.now),
                    v.store.service_time(row["service"], window, avg, n)])


def away(v: View, window: int, backup: int) -> Outcome:
    v.window(window)
    if backup:
        v.window(backup)
        if backup == window:
            raise Refused(Code.BAD_BACKUP, "field 'backup': a window cannot be its own backup")
    else:
        # 0: the backup the station's config names for this window (0 there too: none).
        entry = v.cfg.window(window)
        backup = entry.backup if entry else 0
    state = v.away.get(window)
    again = bool(state and state.away)  # a new backup for an absence that goes on
    since = state.since if state and again else v.now
    after = {**v.away, window: Away(True, backup, since)}
    moved = [n for n in q.routed(v.cfg, v.waiting(), v.away, after, window)
             if backup and _callable_by(v, n, backup, after)]
    return Outcome({"moved": moved, "backup": backup},
                   writers=[v.store.set_window(window, away=True, backup=backup, since=since,
                                               alerted=bool(state and again and state.alerted))])


def _callable_by(v: View, number: str, window: int, away_map: Mapping[int, Away]) -> bool:
    row = v.store.ticket(v.day, number)
    return row is not None and window in q.eligible_row(v.cfg, row, away_map)


def back(v: View, window: int) -> Outcome:
    v.window(window)
    state = v.away.get(window)
    if not (state and state.away):
        raise Refused(Code.NOT_AWAY, f"field 'window': window {window} is not away")
    after = {**v.away, window: Away(False, state.backup, 0.0)}
    returned = q.routed(v.cfg, v.waiting(), after, v.away, window)
    return Outcome({"returned": returned, "away_min": round((v.now - state.since) / 60, 1)},
                   writers=[v.store.set_window(window, away=False, backup=state.backup,
                                               since=0.0)])
