"""The periodic evaluation report: HTML with inline SVG charts, and CSV files.

Per window (device), officer, service and day (in the city's time zone) over
[start, end): satisfaction by level, unrated cases, mirror flags per case, away time,
tickets and waits, comments, and officers with two or more unsatisfied-rating work
orders in the twelve months before ``end``; per window, the written documents it issued
by kind, withdrew and whose promises moved, and its queue controls (counted by
hq.reports.documents, the console's document report, so both say the same). A window
is its counter, "site/device".
Reads only ``hq_events`` and ``work_orders`` through :class:`~hq.db.HqDb`, so it
runs on SQLite and PostgreSQL alike. Only events whose hash chain verified count
(``verified = 1``); simulated data (sync/loadsim.py) is left out unless asked for.
A number that is not a finite number (``"NaN"``, a string) counts as absent.
No JavaScript, no external assets: the HTML file is self-contained.
No personal data: comments are reported by category and reference, never a phone number.
"""

from __future__ import annotations

import csv
import html
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hq.db import HqDb
from hq.facts import INTAKE, STATION_DEVICE, doc_facts
from hq.reports.documents import KINDS, DocRow, QueueRow, Scope, documents, queue

LEVELS = ("very_satisfied", "satisfied", "basic", "unsatisfied", "very_unsatisfied")
LEVEL_LABELS = {"very_satisfied": "非常满意", "satisfied": "满意", "basic": "基本满意",
                "unsatisfied": "不满意", "very_unsatisfied": "非常不满意"}
LEVEL_COLOURS = {"very_satisfied": "#1a9850", "satisfied": "#91cf60", "basic": "#fee08b",
                 "unsatisfied": "#fc8d59", "very_unsatisfied": "#d73027"}
DIMENSIONS = ("window", "officer", "service", "day")


def _utc_bound(day: date, tz: ZoneInfo) -> str:
    dt = datetime.combine(day, time(0), tz).astimezone(UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Group:
    levels: Counter[str] = field(default_factory=Counter)
    cases: int = 0
    unrated: int = 0
    mirror_flags: int = 0
    away_s: float = 0.0
    aways: int = 0
    tickets: int = 0
    called: int = 0
    wait_s: float = 0.0
    comments: int = 0

    @property
    def rated(self) -> int:
        return sum(self.levels.values())

    @property
    def satisfaction(self) -> float | None:
        """Share of ratings that are not unsatisfied (非常满意, 满意, 基本满意)."""
        if not self.rated:
            return None
        bad = self.levels["unsatisfied"] + self.levels["very_unsatisfied"]
        return round(100.0 * (self.rated - bad) / self.rated, 1)

    @property
    def avg_wait_min(self) -> float | None:
        return round(self.wait_s / self.called / 60.0, 1) if self.called else None


@dataclass
class Report:
    start: date
    end: date
    tz: str
    groups: dict[str, dict[str, Group]]
    cases: list[dict[str, Any]]
    comments: list[dict[str, Any]]
    repeat_officers: list[tuple[str, int]]
    work_orders: list[tuple[Any, ...]]
    events: int
    windows: list[list[Any]] = field(default_factory=list)  # documents and queue controls


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    f = float(value)
    return f if math.isfinite(f) else 0.0


def build(db: HqDb, start: date, end: date, tz: str = "Asia/Shanghai", *,
          simulated: bool = False) -> Report:
    zone = ZoneInfo(tz)
    lo, hi = _utc_bound(start, zone), _utc_bound(end, zone)
    sim = "" if simulated else " AND simulated = 0"
    rows = [(f"{site}/{device}", ts, etype, body) for site, device, ts, etype, body in db.all(
        "SELECT site, device, ts, type, body FROM hq_events WHERE ts >= ? AND ts < ? AND "
        f"verified = 1{sim} AND device <> '{STATION_DEVICE}' ORDER BY site, device, seq",
        (lo, hi))]
    groups: dict[str, dict[str, Group]] = {d: defaultdict(Group) for d in DIMENSIONS}
    cases: dict[tuple[str, str], dict[str, Any]] = {}
    rated: set[tuple[str, str]] = set()
    comments: list[dict[str, Any]] = []

    def keys(device: str, ts: str, data: dict[str, Any]) -> dict[str, str]:
        try:
            local = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(zone)
        except ValueError:  # stored before HQ validated timestamps
            local = datetime.fromisoformat(lo.replace("Z", "+00:00")).astimezone(zone)
        return {"window": device, "officer": str(data.get("officer") or "-"),
                "service": str(data.get("service") or "-"), "day": local.date().isoformat()}

    def each(k: dict[str, str]) -> Iterable[Group]:
        return (groups[d][k[d]] for d in DIMENSIONS)

    for device, ts, etype, body in rows:
        data = json.loads(body).get("data", {})
        if not isinstance(data, dict):
            continue
        k = keys(device, ts, data)
        case_key = (device, str(data.get("case_no", "")))
        if etype == "rating.given":
            level = str(data.get("level", ""))
            if level in LEVELS:
                for g in each(k):
                    g.levels[level] += 1
                rated.add(case_key)
        elif etype == "case.ended":
            for g in each(k):
                g.cases += 1
            cases[case_key] = {"window": device, "case_no": case_key[1], "officer": k["officer"],
                               "service": k["service"], "day": k["day"], "mirror_flags": 0,
                               "rating": "", "ended": ts}
        elif etype == "mirror.flagged":
            for g in each(k):
                g.mirror_flags += 1
        elif etype == "away.ended":
            for g in each(k):
                g.aways += 1
                g.away_s += _num(data.get("duration_s"))
        elif etype == "ticket.issued":
            for g in each(k):
                g.tickets += 1
        elif etype == "ticket.called" and doc_facts({"type": etype, "data": data}).kind != INTAKE:
            for g in each(k):  # not a handed-on intake's call: nobody waited for that
                g.called += 1
                g.wait_s += _num(data.get("waited_s"))
        elif etype == "comment.submitted":
            for g in each(k):
                g.comments += 1
            cats = data.get("categories")
            comments.append({"ts": ts, "window": device, "officer": k["officer"],
                             "categories": ";".join(str(c) for c in cats)
                             if isinstance(cats, list) else "",
                             "ref": str(data.get("ref", "")),
                             "callback_requested": bool(data.get("callback_requested"))})
    # Second pass for per-case facts that may precede case.ended in the journal.
    for device, _ts, etype, body in rows:
        data = json.loads(body).get("data", {})
        if not isinstance(data, dict):
            continue
        case = cases.get((device, str(data.get("case_no", ""))))
        if case is None:
            continue
        if etype == "mirror.flagged":
            case["mirror_flags"] += 1
        elif etype == "rating.given":
            case["rating"] = str(data.get("level", ""))
    for key, case in cases.items():
        if key not in rated:
            for d in DIMENSIONS:
                groups[d][case[d]].unrated += 1
    year_ago = _utc_bound(end - timedelta(days=365), zone)
    repeat = [(str(o), int(n)) for o, n in db.all(
        "SELECT officer, count(*) FROM work_orders WHERE event_ts >= ? AND event_ts < ?"
        f"{sim} GROUP BY officer HAVING count(*) >= 2 ORDER BY count(*) DESC, officer",
        (year_ago, hi))]
    work_orders = [(wid, f"{site}/{device}", *rest) for wid, site, device, *rest in db.all(
        "SELECT id, site, device, officer, case_no, service, level, event_ts, status "
        f"FROM work_orders WHERE event_ts >= ? AND event_ts < ?{sim} ORDER BY event_ts, id",
        (lo, hi))]
    return Report(start, end, tz, {d: dict(sorted(g.items())) for d, g in groups.items()},
                  sorted(cases.values(), key=lambda c: c["ended"]), comments, repeat,
                  work_orders, len(rows), _windows(db, Scope(start, end, None, simulated, tz)))


WINDOW_HEAD = ["window", *KINDS, "other_kinds", "issued", "withdrawn", "promise_changes",
               "receipts_promise_moved", "called", "out_of_order", "recalls", "no_shows",
               "no_shows_requeued", "to_service", "to_window", "intake_calls"]


def _windows(db: HqDb, scope: Scope) -> list[list[Any]]:
    """One row per window: its documents and its queue controls (WINDOW_HEAD)."""
    docs = {r.key: r for r in documents(db, scope)}
    controls = {r.key: r for r in queue(db, scope)}
    out: list[list[Any]] = []
    for key in sorted(docs.keys() | controls.keys()):
        d, q = docs.get(key) or DocRow(key), controls.get(key) or QueueRow(key)
        known = [d.issued[k] for k in KINDS]
        out.append([f"{key[0]}/{key[1]}", *known, d.total - sum(known), d.total, d.withdrawn,
                    d.promise_changes, d.moved_receipts, q.called, q.out_of_order, q.recalls,
                    q.no_shows, q.requeued, q.to_service, q.to_window, q.intakes])
    return out


# --------------------------------------------------------------------------- output


def write_report(db: HqDb, start: date, end: date, out: Path,
                 tz: str = "Asia/Shanghai", *, simulated: bool = False) -> list[Path]:
    rep = build(db, start, end, tz, simulated=simulated)
    out.mkdir(parents=True, exist_ok=True)
    files = [_write_csvs(rep, out, name) for name in
             ("satisfaction", "cases", "away", "tickets", "comments", "repeat_officers",
              "work_orders", "documents")]
    page = out / "report.html"
    page.write_text(render_html(rep), encoding="utf-8")
    return [page, *files]


def _rows(rep: Report, name: str) -> tuple[list[str], list[Sequence[Any]]]:
    if name == "satisfaction":
        head = ["dimension", "key", *LEVELS, "rated", "unrated", "satisfaction_pct",
                "mirror_flags", "cases"]
        rows: list[Sequence[Any]] = [
            [d, k, *(g.levels[lv] for lv in LEVELS), g.rated, g.unrated,
             "" if g.satisfaction is None else g.satisfaction, g.mirror_flags, g.cases]
            for d in DIMENSIONS for k, g in rep.groups[d].items()]
        return head, rows
    if name == "cases":
        head = ["window", "case_no", "officer", "service", "day", "rating", "mirror_flags"]
        return head, [[c[h] for h in head] for c in rep.cases]
    if name == "away":
        head = ["dimension", "key", "aways", "away_minutes"]
        return head, [[d, k, g.aways, round(g.away_s / 60.0, 1)]
                      for d in ("window", "officer", "day") for k, g in rep.groups[d].items()
                      if g.aways]
    if name == "tickets":
        head = ["dimension", "key", "tickets", "called", "avg_wait_min"]
        return head, [[d, k, g.tickets, g.called, "" if g.avg_wait_min is None
                       else g.avg_wait_min]
                      for d in ("window", "service", "day") for k, g in rep.groups[d].items()
                      if g.tickets or g.called]
    if name == "comments":
        head = ["ts", "window", "officer", "categories", "ref", "callback_requested"]
        return head, [[c[h] for h in head] for c in rep.comments]
    if name == "documents":
        return WINDOW_HEAD, list(rep.windows)
    if name == "repeat_officers":
        return ["officer", "unsatisfied_work_orders_12_months"], [list(r) for r in
                                                                 rep.repeat_officers]
    head = ["id", "window", "officer", "case_no", "service", "level", "ts", "status"]
    return head, [list(r) for r in rep.work_orders]


def _write_csvs(rep: Report, out: Path, name: str) -> Path:
    head, rows = _rows(rep, name)
    path = out / f"{name}.csv"
    # utf-8-sig: Excel on the city's desktops opens Chinese CSV correctly only with a BOM.
    with path.open("w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        w.writerows(rows)
    return path


def _e(v: Any) -> str:
    return html.escape(str(v))


def stacked_bars(title: str, groups: dict[str, Group], width: int = 640) -> str:
    """One horizontal bar per key, split by rating level (inline SVG)."""
    keys = [k for k, g in groups.items() if g.rated]
    if not keys:
        return f"<p>{_e(title)}: no ratings.</p>"
    bar_h, label_w, gap = 18, 150, 6
    chart_w = width - label_w - 60
    height = len(keys) * (bar_h + gap) + 30
    most = max(groups[k].rated for k in keys)
    parts = [f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="12">']
    for i, k in enumerate(keys):
        g = groups[k]
        y = i * (bar_h + gap)
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(k)}</text>')
        x = float(label_w)
        for lv in LEVELS:
            n = g.levels[lv]
            if not n:
                continue
            w = chart_w * n / most
            parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                         f'fill="{LEVEL_COLOURS[lv]}"><title>{_e(LEVEL_LABELS[lv])}: {n}'
                         f'</title></rect>')
            x += w
        pct = "" if g.satisfaction is None else f"{g.satisfaction}%"
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 13}">{g.rated} · {pct}</text>')
    ly = len(keys) * (bar_h + gap) + 12
    lx = label_w
    for lv in LEVELS:
        parts.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" '
                     f'fill="{LEVEL_COLOURS[lv]}"/><text x="{lx + 13}" y="{ly + 9}">'
                     f'{_e(LEVEL_LABELS[lv])}</text>')
        lx += 90
    parts.append("</svg>")
    return "".join(parts)


def bars(title: str, values: dict[str, float], unit: str, width: int = 640) -> str:
    items = [(k, v) for k, v in values.items() if v]
    if not items:
        return f"<p>{_e(title)}: none.</p>"
    bar_h, label_w, gap = 18, 150, 6
    chart_w = width - label_w - 80
    most = max(v for _, v in items)
    height = len(items) * (bar_h + gap)
    parts = [f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg" font-size="12">']
    for i, (k, v) in enumerate(items):
        y = i * (bar_h + gap)
        w = chart_w * v / most
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{_e(k)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                     f'fill="#4575b4"/><text x="{label_w + w + 4:.1f}" y="{y + 13}">'
                     f'{v:g} {_e(unit)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table(head: list[str], rows: list[Sequence[Any]]) -> str:
    if not rows:
        return "<p>None.</p>"
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def render_html(rep: Report) -> str:
    g = rep.groups
    last = rep.end - timedelta(days=1)
    sections = [
        f"<h1>窗口服务评价报告 · Counter evaluation report</h1><p>{rep.start} – {last} "
        f"({_e(rep.tz)}), {rep.events} events.</p>",
        "<h2>Satisfaction by window</h2>" + stacked_bars("by window", g["window"]),
        "<h2>Satisfaction by officer</h2>" + stacked_bars("by officer", g["officer"]),
        "<h2>Satisfaction by service</h2>" + stacked_bars("by service", g["service"]),
        "<h2>Satisfaction by day</h2>" + stacked_bars("by day", g["day"]),
        "<h2>Officers with two or more unsatisfied ratings in twelve months</h2>"
        + _table(*_rows(rep, "repeat_officers")),
        "<h2>Summary</h2>" + _table(*_rows(rep, "satisfaction")),
        "<h2>Away time by officer</h2>" + bars(
            "away minutes", {k: round(v.away_s / 60.0, 1) for k, v in g["officer"].items()},
            "min") + _table(*_rows(rep, "away")),
        "<h2>Tickets and waits</h2>" + bars(
            "average wait", {k: v.avg_wait_min or 0.0 for k, v in g["service"].items()},
            "min") + _table(*_rows(rep, "tickets")),
        "<h2>Cases (unrated and mirror flags)</h2>" + _table(
            *_case_rows(rep)),
        "<h2>Comments</h2>" + _table(*_rows(rep, "comments")),
        "<h2>文书与叫号控制 · Documents and queue controls by window</h2>"
        + _table(*_rows(rep, "documents")),
        "<h2>Work orders (unsatisfied ratings)</h2>" + _table(*_rows(rep, "work_orders")),
    ]
    style = ("body{font-family:'WenQuanYi Micro Hei','Noto Sans CJK SC',sans-serif;margin:2em}"
             "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;"
             "padding:2px 6px;font-size:13px}th{background:#eee}")
    return ("<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
            f"<title>Evaluation report {rep.start} – {last}</title><style>{style}</style>"
            "</head><body>" + "".join(sections) + "</body></html>\n")


def _case_rows(rep: Report) -> tuple[list[str], list[Sequence[Any]]]:
    head, rows = _rows(rep, "cases")
    # Only the cases that need a look: unrated or flagged on the mirror.
    keep = [r for r in rows if not r[5] or r[6]]
    return head, keep
