"""The written documents and the queue controls, aggregated in SQL on the columns the
collector fills at ingest (hq.facts.doc_facts): what each window issued by kind, what it
withdrew, the promises it moved, why it refused and where it referred, and what it did
to its queue (recalls, no-shows, transfers, calls out of order).

Like hq.reports.queries: only events whose chain verified count, the load simulator's
only when asked, and no event row is held in Python whatever the period (the groups and
the rankings are). A document kind this module does not know (a newer counter's) is
counted under its code, never dropped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

from hq.db import HqDb
from hq.facts import INTAKE, OUT_OF_ORDER, PROMISE, STATION_DEVICE
from hq.reports.queries import By, utc_bound

KINDS = ("notice", "refusal", "receipt", "referral", "intake", "home_visit")
KIND_LABELS = {"notice": "补正材料告知", "refusal": "不予受理", "receipt": "受理回执",
               "referral": "转办", "intake": "户口代办", "home_visit": "上门服务"}
NEED_LABELS = {"elderly": "老年人", "disabled": "残疾人"}
ISSUED, WITHDRAWN, SHOWN = "document.issued", "document.withdrawn", "document.shown"
QUEUE_TYPES = ("ticket.called", "ticket.recalled", "ticket.no_show", "ticket.transferred")


def kind_label(code: str) -> str:
    """补正材料告知 for notice; a code HQ does not know yet is shown as it came."""
    return KIND_LABELS.get(code) or (f"其他（{code}）" if code else "其他（未注明类型）")


@dataclass
class DocRow:
    key: tuple[str, ...]
    issued: Counter[str] = field(default_factory=Counter)  # by kind code
    withdrawn: int = 0
    promise_changes: int = 0
    moved_receipts: int = 0  # receipts of the period whose promised date moved since

    @property
    def total(self) -> int:
        return sum(self.issued.values())

    @property
    def withdrawn_pct(self) -> float | None:
        """撤回占比: of the documents shown and then issued or withdrawn, the withdrawn."""
        done = self.total + self.withdrawn
        return round(100.0 * self.withdrawn / done, 1) if done else None

    def add(self, other: DocRow) -> None:
        self.issued.update(other.issued)
        self.withdrawn += other.withdrawn
        self.promise_changes += other.promise_changes
        self.moved_receipts += other.moved_receipts


@dataclass
class QueueRow:
    key: tuple[str, ...]
    called: int = 0  # citizens' tickets (not intakes)
    out_of_order: int = 0  # called by number before waiting tickets
    recalls: int = 0
    no_shows: int = 0
    requeued: int = 0  # of the no-shows, put back in the queue
    to_service: int = 0
    to_window: int = 0
    intakes: int = 0  # handed-on intakes taken up at this window (ticket.called, intake)

    @property
    def transfers(self) -> int:
        return self.to_service + self.to_window


@dataclass(frozen=True)
class Moved:
    """A receipt whose promised date moved: as issued, and its latest change."""

    site: str
    device: str
    case_no: str
    service: str
    issued_ts: str
    promised: str
    changes: int
    new_date: str
    reason: str


@dataclass(frozen=True)
class Scope:
    """Which events count: local days [start, end) of the given sites (None: all)."""

    start: date
    end: date
    sites: Collection[str] | None = None
    simulated: bool = False
    tz: str = "Asia/Shanghai"

    def where(self, types: Sequence[str], alias: str = "", *,
              station: bool = False) -> tuple[str, list[object]]:
        """``station``: also the station's own events (hq.reports.station); otherwise
        only the counters', so a ticket of a shared queue counts once, at its window."""
        a = f"{alias}." if alias else ""
        marks = ", ".join("?" * len(types))
        sql = [f"{a}verified = 1", f"{a}ts >= ?", f"{a}ts < ?", f"{a}type IN ({marks})"]
        if not station:
            sql.append(f"{a}device <> '{STATION_DEVICE}'")
        params: list[object] = [utc_bound(self.start, self.tz), utc_bound(self.end, self.tz),
                                *types]
        if not self.simulated:
            sql.append(f"{a}simulated = 0")
        if self.sites is not None:
            # An empty set matches nothing (IN () is not SQL): a chief without a station.
            sql.append(f"{a}site IN ({', '.join('?' * len(self.sites))})"
                       if self.sites else "1 = 0")
            params += sorted(self.sites)
        return " AND ".join(sql), params

    def held(self, alias: str) -> str:
        """The conditions on a second row (a promise change, its receipt) to count."""
        return f"{alias}.verified = 1" + ("" if self.simulated else f" AND {alias}.simulated = 0")


def _keys(by: By, alias: str) -> list[str]:
    if by is By.STATION:
        return [f"{alias}.site"]
    if by is By.WINDOW:
        return [f"{alias}.site", f"{alias}.device"]
    return [f"{alias}.{by.value}"]


def documents(db: HqDb, scope: Scope, by: By = By.WINDOW) -> list[DocRow]:
    """One row per group: issued by kind, withdrawn, promise changes, moved receipts.
    By service, a promise change (which names no service) counts under its receipt's."""
    keys = _keys(by, "e")
    if by is By.SERVICE:
        keys = [f"CASE WHEN e.type = '{PROMISE}' THEN (SELECT MIN(r.service) FROM hq_events "
                f"r WHERE r.site = e.site AND r.case_no = e.case_no AND r.type = '{ISSUED}' "
                f"AND r.kind = 'receipt' AND {scope.held('r')}) ELSE e.service END"]
    where, params = scope.where((ISSUED, WITHDRAWN, PROMISE), "e")
    moved = (f"CASE WHEN e.type = '{ISSUED}' AND e.kind = 'receipt' AND EXISTS (SELECT 1 "
             f"FROM hq_events p WHERE p.site = e.site AND p.case_no = e.case_no AND p.type = "
             f"'{PROMISE}' AND {scope.held('p')}) THEN 1 ELSE 0 END")
    cols = ", ".join(f"COALESCE({k}, '') AS k{i}" for i, k in enumerate(keys))
    grouped = ", ".join(f"k{i}" for i in range(len(keys)))
    # Grouped outside: a key that is a correlated subquery (by service) cannot be
    # grouped by in place on PostgreSQL.
    sql = (f"SELECT {grouped}, t, kd, COUNT(*), SUM(m) FROM (SELECT {cols}, e.type AS t, "
           f"COALESCE(e.kind, '') AS kd, {moved} AS m FROM hq_events e WHERE {where}) x "
           f"GROUP BY {grouped}, t, kd")
    n = len(keys)
    rows: dict[tuple[str, ...], DocRow] = {}
    for r in db.all(sql, params):
        key = tuple(str(k) for k in r[:n])
        etype, kind, count, receipts = str(r[n]), str(r[n + 1]), int(r[n + 2]), r[n + 3]
        row = rows.setdefault(key, DocRow(key))
        if etype == ISSUED:
            row.issued[kind] += count
            row.moved_receipts += int(receipts or 0)
        elif etype == WITHDRAWN:
            row.withdrawn += count
        else:
            row.promise_changes += count
    return sorted(rows.values(), key=lambda row: row.key)


def queue(db: HqDb, scope: Scope, by: By = By.WINDOW) -> list[QueueRow]:
    """The queue controls per window (per station when ``by`` is the station): a recall
    names no service and a call no officer, so they are the window's, not a person's."""
    keys = _keys(By.STATION if by is By.STATION else By.WINDOW, "e")
    key_sql = ", ".join(keys)
    where, params = scope.where(QUEUE_TYPES, "e")
    sql = (f"SELECT {key_sql}, e.type, COALESCE(e.kind, ''), COUNT(*) FROM hq_events e "
           f"WHERE {where} GROUP BY {key_sql}, e.type, COALESCE(e.kind, '')")
    n = len(keys)
    rows: dict[tuple[str, ...], QueueRow] = {}
    for r in db.all(sql, params):
        key = tuple(str(k) for k in r[:n])
        etype, kind, count = str(r[n]), str(r[n + 1]), int(r[n + 2])
        row = rows.setdefault(key, QueueRow(key))
        if etype == "ticket.called" and kind == INTAKE:
            row.intakes += count
        elif etype == "ticket.called":
            row.called += count
            row.out_of_order += count if kind == OUT_OF_ORDER else 0
        elif etype == "ticket.recalled":
            row.recalls += count
        elif etype == "ticket.no_show":
            row.no_shows += count
            row.requeued += count if kind == "requeued" else 0
        elif kind == "service":
            row.to_service += count
        elif kind == "window":
            row.to_window += count
    return sorted(rows.values(), key=lambda row: row.key)


def ranked(db: HqDb, scope: Scope, kind: str | None, limit: int = 20) -> list[tuple[str, int]]:
    """The ``detail`` of the issued documents of ``kind`` (None: of the promise changes),
    most frequent first: refusal reasons, referral units, home-visit needs, why promises
    moved. A document without one counts as ""."""
    where, params = scope.where((ISSUED,) if kind else (PROMISE,))
    if kind:
        where += " AND kind = ?"
        params.append(kind)
    sql = (f"SELECT COALESCE(detail, ''), COUNT(*) FROM hq_events WHERE {where} "
           "GROUP BY COALESCE(detail, '') ORDER BY COUNT(*) DESC, COALESCE(detail, '') "
           f"LIMIT {int(limit)}")
    # Ties in code-point order on either database (PostgreSQL's collation may differ).
    return sorted(((str(d), int(c)) for d, c in db.all(sql, params)),
                  key=lambda p: (-p[1], p[0]))


@dataclass(frozen=True)
class Intakes:
    """户口代办 intakes issued in the period, and what became of them since."""

    issued: int = 0
    handed_on: int = 0  # queued for their handover day (intake.queued)
    taken_up: int = 0  # called there by the registration officer (intake.called)
    waiting: int = 0  # not taken up, their handover day today or later
    overdue: int = 0  # not taken up, their handover day past


def intakes(db: HqDb, scope: Scope, today: date) -> Intakes:
    """The intakes issued in the period (the after-hours receipt, document.issued) and,
    by case, whether they were handed on and taken up, at any time since."""
    where, params = scope.where((ISSUED,), "e")

    def has(etype: str) -> str:
        return (f"EXISTS (SELECT 1 FROM hq_events i WHERE i.site = e.site AND i.case_no = "
                f"e.case_no AND i.type = '{etype}' AND {scope.held('i')})")
    sql = (f"SELECT COUNT(*), SUM(CASE WHEN {has('intake.queued')} THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN {has('intake.called')} THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN NOT {has('intake.called')} AND e.on_date >= ? THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN NOT {has('intake.called')} AND e.on_date < ? THEN 1 ELSE 0 END) "
           f"FROM hq_events e WHERE {where} AND e.kind = 'intake'")
    day = today.isoformat()
    got = [int(v or 0) for v in db.all(sql, [day, day, *params])[0]]
    return Intakes(*got)


def moved_receipts(db: HqDb, scope: Scope) -> list[Moved]:
    """The receipts issued in the period whose promised date moved (at any time since),
    in the order they were issued, each with its number of changes and the latest."""
    where, params = scope.where((ISSUED,), "e")
    sql = ("SELECT e.site, e.device, e.case_no, COALESCE(e.service, ''), e.ts, "
           "COALESCE(e.on_date, ''), COALESCE(p.on_date, ''), COALESCE(p.detail, ''), e.id "
           f"FROM hq_events e JOIN hq_events p ON p.site = e.site AND p.case_no = e.case_no "
           f"AND p.type = '{PROMISE}' AND {scope.held('p')} "
           f"WHERE {where} AND e.kind = 'receipt' ORDER BY e.ts, e.id, p.ts, p.seq")
    out: dict[str, Moved] = {}
    for site, device, case_no, service, ts, promised, new, reason, eid in db.all(sql, params):
        seen = out.get(eid)
        out[eid] = Moved(str(site), str(device), str(case_no), str(service), str(ts),
                         str(promised), (seen.changes if seen else 0) + 1, str(new),
                         str(reason))
    return list(out.values())
