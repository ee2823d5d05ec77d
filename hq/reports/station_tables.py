"""The station report as tables: what the page shows and the exports hold, the same
sections in the same order, with Chinese heads and names for codes (a window is the
station's window number, 2号窗口). Figures come from hq.reports.station."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hq.db import HqDb
from hq.names import Names
from hq.reports.doc_tables import TOTAL, Section
from hq.reports.documents import Scope
from hq.reports.station import Key, Per, StationRow, figures, service_times

EMPTY = "本期没有叫号系统的数据（站点未启用共享队列，或事件尚未上传）"


def window_name(window: int) -> str:
    return f"{window}号窗口"


def name(key: Key, per: Per, names: Names) -> str:
    if per is Per.STATION:
        return names.station(str(key[0]))
    if per is Per.WINDOW:
        return f"{names.station(str(key[0]))} · {window_name(int(key[1]))}"
    return names.service(str(key[0]))


def _blank(v: float | None) -> Any:
    return "" if v is None else v


def ticket_section(rows: list[StationRow], total: StationRow | None, per: Per,
                   names: Names) -> Section:
    # Tickets are issued for a service, not a window; recalls and transfers name the
    # window, not a service: a dimension shows only the figures that are its own.
    issued = per is not Per.WINDOW
    moved = per is not Per.SERVICE
    head = [per.label, *(["取号", "其中自有号段"] if issued else []), "叫号", "办结", "过号",
            "其中重新排队", "其中作废",
            *(["转其他事项", "转其他窗口", "重新呼叫"] if moved else [])]

    def cells(r: StationRow) -> list[Any]:
        return [*([r.issued, r.block] if issued else []), r.called, r.done, r.no_shows,
                r.requeued, r.dropped,
                *([r.to_service, r.to_window, r.recalls] if moved else [])]

    note = ("取号 = 叫号系统出号（ticket.issued），含叫号系统中断时取号机或窗口用自有号段出的号"
            "（其中自有号段）；叫号 = 窗口叫号，过号重新排队或转移后再叫的号再计一次；办结 = "
            "窗口办结的号；过号 = 叫号后群众未到，其中重新排队的按设置排回队列，其余作废；"
            "转其他事项、转其他窗口 = 号票被改派；重新呼叫 = 同一号再次呼叫。")
    if not issued:
        note += "取号不分窗口，见按派出所或按事项统计。"
    if not moved:
        note += "重新呼叫与转移不带事项，见按窗口统计。"
    return Section("取号与叫号", head, _rows(rows, total, per, names, cells), note,
                   css="tickets")


def wait_section(rows: list[StationRow], total: StationRow | None, per: Per,
                 names: Names) -> Section:
    def cells(r: StationRow) -> list[Any]:
        return [r.called, _blank(r.avg_wait_min), _blank(r.longest_wait_min),
                _blank(r.p90_wait_min), r.done, _blank(r.avg_service_min),
                _blank(r.longest_service_min)]

    return Section("等候与办理时长", [per.label, "叫号", "平均等候分钟", "最长等候分钟",
                                      "90%等候分钟", "办结", "平均办理分钟", "最长办理分钟"],
                   _rows(rows, total, per, names, cells),
                   "等候 = 从取号到叫号的时间（每次叫号计一次）；90%等候 = 九成叫号的等候不超过"
                   "此值；办理 = 从叫号到办结的时间。", css="waits")


def times_section(db: HqDb, scope: Scope, names: Names) -> Section:
    rows = [[f"{names.station(t.site)} · {window_name(t.window)}", names.service(t.service),
             t.done, _blank(t.avg_min), _blank(t.longest_min)]
            for t in service_times(db, scope)]
    return Section("各窗口各事项办理时长", ["派出所 · 窗口", "事项", "办结", "平均办理分钟",
                                           "最长办理分钟"], rows,
                   "叫号系统按窗口和事项测得的办理时长，也是它估算等候时间的依据。",
                   css="times", text_cols=(0, 1))


def _rows(rows: list[StationRow], total: StationRow | None, per: Per, names: Names,
          cells: Callable[[StationRow], list[Any]]) -> list[list[Any]]:
    table = [[name(r.key, per, names), *cells(r)] for r in rows]
    if total is not None and len(rows) > 1:  # a total from the database, not a sum:
        table.append([TOTAL, *cells(total)])  # averages and percentiles do not add
    return table


def sections(db: HqDb, scope: Scope, per: Per, names: Names) -> list[Section]:
    """The report's sections; their rows are empty when no station event counts."""
    totals = figures(db, scope, None)
    total = totals[0] if totals else None
    rows = figures(db, scope, per) if total else []
    return [ticket_section(rows, total, per, names), wait_section(rows, total, per, names),
            times_section(db, scope, names)]
