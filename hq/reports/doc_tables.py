"""The document report as tables: what the page shows and the exports hold, the same
sections in the same order (a supervisor's spreadsheet matches the screen), with Chinese
labels and names for ids. Figures come from hq.reports.documents."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse

from hq.accounts.scope import visible_sites
from hq.db import HqDb
from hq.names import Names
from hq.reports.documents import (
    KINDS,
    NEED_LABELS,
    DocRow,
    QueueRow,
    Scope,
    documents,
    intakes,
    kind_label,
    moved_receipts,
    queue,
    ranked,
)
from hq.reports.queries import By

MOVED_SHOWN = 200  # receipts the page lists; the exports hold them all
TOTAL = "合计"


@dataclass
class Section:
    name: str  # the heading, and the Excel sheet's name (at most 31 characters)
    head: list[str]
    rows: list[list[Any]]
    note: str = ""  # what the figures count, under the table
    empty: str = "这一时段没有记录。"
    css: str = ""
    text_cols: tuple[int, ...] = (0,)  # the columns of names and reasons; the rest figures

    @property
    def shown_head(self) -> list[tuple[str, bool]]:
        """The head as (label, is a figure): figures align right."""
        return [(h, i not in self.text_cols) for i, h in enumerate(self.head)]

    @property
    def shown(self) -> list[list[tuple[Any, bool]]]:
        """What the page lists (a long list only its first MOVED_SHOWN rows), as cells."""
        return [[(c, i not in self.text_cols) for i, c in enumerate(r)]
                for r in self.rows[:MOVED_SHOWN]]


def _name(key: tuple[str, ...], by: By, names: Names) -> str:
    if by is By.STATION:
        return names.station(key[0])
    if by is By.WINDOW:
        return f"{names.station(key[0])} · {names.window(*key)}"
    if by is By.OFFICER:
        return names.officer(key[0])
    return names.service(key[0])


def _pct(v: float | None) -> Any:
    return "" if v is None else v


def _with_total(rows: list[list[Any]], total: list[Any]) -> list[list[Any]]:
    return [*rows, [TOTAL, *total]] if len(rows) > 1 else rows


def issued_sections(docs: list[DocRow], by: By, names: Names) -> list[Section]:
    # Known kinds always (a zero is a figure), then any code a newer counter sent.
    extra = sorted({k for r in docs for k in r.issued} - set(KINDS))
    kinds = [*KINDS, *extra]
    total = DocRow(("",))
    for r in docs:
        total.add(r)

    def kind_cells(r: DocRow) -> list[Any]:
        return [*(r.issued[k] for k in kinds), r.total]

    def flow_cells(r: DocRow) -> list[Any]:
        return [r.total, r.withdrawn, _pct(r.withdrawn_pct), r.promise_changes,
                r.moved_receipts]

    label = by.label
    return [
        Section("文书出具", [label, *(kind_label(k) for k in kinds), "出具合计"], _with_total(
            [[_name(r.key, by, names), *kind_cells(r)] for r in docs], kind_cells(total)),
            "出具 = 群众在镜像屏上确认、打印交付的文书（document.issued）。",
            css="docs"),
        Section("撤回与承诺变更", [label, "出具", "撤回", "撤回占比%", "承诺变更次数",
                                  "承诺变更的回执"], _with_total(
            [[_name(r.key, by, names), *flow_cells(r)] for r in docs], flow_cells(total)),
            "撤回 = 展示后未经确认即被更正或随办结作废、未打印的文书；撤回占比 = 撤回 ÷"
            "（出具 + 撤回）。承诺变更次数按登记变更的窗口统计（按事项时归入其受理回执的事项）；"
            "承诺变更的回执 = 本时段出具、其承诺办结日期此后被变更过的受理回执件数。",
            css="flow"),
    ]


def queue_section(rows: list[QueueRow], by: By, names: Names) -> Section:
    per = By.STATION if by is By.STATION else By.WINDOW
    total = QueueRow(("",))
    for r in rows:
        for f in ("called", "out_of_order", "recalls", "no_shows", "requeued", "to_service",
                  "to_window", "intakes"):
            setattr(total, f, getattr(total, f) + getattr(r, f))

    def cells(r: QueueRow) -> list[Any]:
        return [r.called, r.out_of_order, r.recalls, r.no_shows, r.requeued, r.to_service,
                r.to_window, r.intakes]

    head = [per.label, "叫号", "越号叫号", "重新呼叫", "过号", "其中重新排队", "转其他事项",
            "转其他窗口", "户口代办叫号"]
    table = _with_total([[_name(r.key, per, names), *cells(r)] for r in rows], cells(total))
    return Section("叫号控制", head, table,
        "按窗口统计（重新呼叫不带事项、叫号不带民警）。越号叫号 = 按号码叫号且越过了排在"
        "前面的等候号；按号码叫到排在最前的号不算越号。过号 = 叫号后群众未到；其中重新排队"
        "的按设置排回队列，其余作废。转其他事项、转其他窗口 = 号票（等候中或正在办理）被改派。"
        "户口代办叫号 = 户籍窗口叫到移交来的户口代办（不计入叫号和群众等候时间）。",
        css="queue")


def ranking_sections(db: HqDb, scope: Scope, today: date) -> list[Section]:
    def rank(kind: str | None, labels: dict[str, str] | None = None) -> list[list[Any]]:
        return [[(labels or {}).get(d, d) or "（未写明）", n] for d, n in ranked(db, scope, kind)]

    got = intakes(db, scope, today)
    return [
        Section("不予受理理由", ["理由", "件数"], rank("refusal"),
                "出具的不予受理告知书按理由排列（前 20 项）。", "这一时段没有不予受理。",
                "rank"),
        Section("转办去向", ["去向单位", "件数"], rank("referral"),
                "出具的转办告知书按前往单位排列（前 20 项）。", "这一时段没有转办。", "rank"),
        Section("上门服务对象", ["对象", "件数"], rank("home_visit", NEED_LABELS),
                "出具的上门服务预约单按服务对象统计。", "这一时段没有上门服务。", "rank"),
        Section("承诺变更原因", ["原因", "次数"], rank(None),
                "登记的承诺办结日期变更按原因排列（前 20 项）。", "这一时段没有承诺变更。",
                "rank"),
        # One figure a line, like the rankings beside it: five heads do not fit a card.
        Section("户口代办移交", ["项目", "件数"], [
                    ["代办受理", got.issued], ["已移交", got.handed_on],
                    ["已办理", got.taken_up], ["待办理", got.waiting],
                    ["逾期未办理", got.overdue]] if got.issued else [],
                "本时段非工作时间收取材料的户口代办，截至 "
                f"{today.isoformat()}：已移交 = 已排入约定移交日的户籍窗口队列；已办理 = "
                "户籍民警已叫号受理；待办理 = 尚未受理、移交日为今天或以后；逾期未办理 = "
                "移交日已过仍未受理。", "这一时段没有户口代办。", "rank"),
    ]


def moved_section(db: HqDb, scope: Scope, names: Names) -> Section:
    zone = ZoneInfo(scope.tz)

    def local(ts: str) -> str:
        try:
            t = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:  # stored before HQ checked timestamps
            return ts
        return t.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    moved = moved_receipts(db, scope)
    rows = [[m.case_no, f"{names.station(m.site)} · {names.window(m.site, m.device)}",
             names.service(m.service), local(m.issued_ts), m.promised, m.changes, m.new_date,
             m.reason] for m in moved]
    more = (f"共 {len(rows)} 件，页面列出前 {MOVED_SHOWN} 件，导出文件含全部。"
            if len(rows) > MOVED_SHOWN else "")
    return Section("承诺日期变更的受理回执", [
        "受理编号", "派出所 · 窗口", "事项", "出具时间", "原承诺日期", "变更次数",
        "最新承诺日期", "最新变更原因"], rows, more or "本时段出具、承诺日期此后被变更的回执。",
        "这一时段出具的受理回执都没有变更承诺日期。", "moved", (0, 1, 2, 3, 4, 6, 7))


def sections(db: HqDb, scope: Scope, by: By, names: Names, today: date) -> list[Section]:
    return [*issued_sections(documents(db, scope, by), by, names),
            queue_section(queue(db, scope, by), by, names),
            *ranking_sections(db, scope, today), moved_section(db, scope, names)]


# ----------------------------------------------------------------------------- exports


def export(request: HttpRequest, title: str, parts: list[Section],
           filename: str) -> HttpResponse | None:
    """The CSV or Excel file ``?format=`` asks for, or None: render the page."""
    fmt = request.GET.get("format", "")
    if fmt == "csv":
        return csv_reply(title, parts, filename)
    if fmt == "xlsx":
        return xlsx_reply(title, parts, filename)
    return None


def page_context(request: HttpRequest, names: Names) -> dict[str, Any]:
    """What every report page's form shows beside its tables: the stations the user may
    choose, and the query without ``format`` (the export links add their own)."""
    visible = visible_sites(request.user)
    stations = sorted(((s, names.station(s)) for s in (
        names.stations.keys() if visible is None else visible)), key=lambda p: p[1])
    query = request.GET.copy()
    query.pop("format", None)
    return {"stations": stations, "query": query.urlencode()}


def csv_reply(title: str, parts: list[Section], filename: str) -> HttpResponse:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([title])
    for s in parts:  # one block a section: its name, its head, its rows, a blank line
        w.writerow([])
        w.writerow([s.name])
        w.writerow(s.head)
        w.writerows(s.rows)
    # UTF-8 with a BOM: Excel on a police office PC opens it as Chinese, not mojibake.
    reply = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    reply["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return reply


def xlsx_reply(title: str, parts: list[Section], filename: str) -> HttpResponse:
    from openpyxl import Workbook

    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for s in parts:  # a sheet a section, each with the report's title above its table
        ws = wb.create_sheet(s.name[:31])
        ws.append([title])
        ws.append(s.head)
        for row in s.rows:
            ws.append(row)
        ws.column_dimensions["A"].width = 36
    buf = io.BytesIO()
    wb.save(buf)
    reply = HttpResponse(buf.getvalue(), content_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    reply["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
    return reply
