"""Queue ticket (取号) and appointment check-in (预约签到): the queue lives in the core
(the queue desk); these screens only ask it and show the answer."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from kivy.uix.gridlayout import GridLayout
from kivy.uix.widget import Widget

from device.codes import FAULTS, Fault
from device.errors import KioskError
from device.queue import Ticket
from ui import theme
from ui.screens.base import KioskScreen, column, row
from ui.theme import fs
from ui.widgets import BigButton, Cell, Chip, NumberPad, Panel, Txt

log = logging.getLogger("ui.ticket")


def printed_line(printer_fault: Fault | None, number: str = "") -> str:
    """What is true about the paper ticket: taken from the slot, or not printed yet."""
    if not printer_fault:
        return "请取走号票，留意屏幕和语音叫号"
    known = FAULTS.get(printer_fault)
    why = known.citizen if known else "打印机暂时故障"
    return (f"{why}，号票暂未打印\n请记住您的号码 {number}，留意屏幕和语音叫号\n"
            "打印机恢复后号票自动打印")


def where_to_go(ticket: Ticket) -> str:
    """Which window(s) a station's ticket goes to; with the station away, which to watch
    (docs/station.md). "" for a standalone counter's own ticket."""
    windows = "、".join(str(w) for w in ticket.windows)
    if ticket.fallback:
        return f"请留意{windows}号窗口叫号" if windows else "请留意大厅屏幕和语音叫号"
    return f"请留意叫号，到{windows}号窗口办理" if windows else ""


def ticket_view(ticket: Ticket, note: str = "",
                printer_fault: Fault | None = None) -> Widget:
    v = Panel(orientation="vertical", padding=24, spacing=12)
    if note:
        v.add_widget(Txt(note, size=30, colour=theme.ACCENT, halign="center"))
    v.add_widget(Txt("您的号码", size=32, halign="center"))
    where = where_to_go(ticket)
    # A station's ticket has one line more (which window): the number gives it room.
    v.add_widget(Txt(ticket.number, size=130 if where else 150, bold=True,
                     colour=theme.ACCENT, halign="center"))
    kind = {2: "绿色通道 优先办理", 1: "预约 优先办理"}.get(ticket.priority, "")
    v.add_widget(Txt(ticket.service_name + (f"　[b]{kind}[/b]" if kind else ""), size=32,
                     halign="center"))
    v.add_widget(Txt(f"前面还有 [b]{ticket.people_ahead}[/b] 人等候，预计等候约 "
                     f"[b]{ticket.est_wait_min}[/b] 分钟", size=32, halign="center"))
    if where:
        v.add_widget(Txt(where, size=36, bold=True, colour=theme.ACCENT, halign="center"))
    v.add_widget(Txt(printed_line(printer_fault, ticket.number), size=28,
                     colour=theme.ACCENT if printer_fault else theme.MUTED, halign="center"))
    v.add_widget(Widget())
    return v


class TicketScreen(KioskScreen):
    screen_name = "ticket"

    def build_content(self) -> Widget:
        ticket: Ticket | None = self.options.get("ticket")
        self.group_chips: dict[str, Chip] = {}
        body = column(padding=[16, 12], spacing=14)
        if ticket is not None:
            self.result = ticket_view(ticket, self.options.get("note", ""),
                                      self.ui.core.faults.get("printer"))
            body.add_widget(self.result)
            body.add_widget(self.home_button())
            return body
        body.add_widget(Txt("请选择要办理的业务，点击即取号", size=34, bold=True))
        groups = self.ui.desk.groups()
        if groups:
            g = row(size_hint_y=None, height=theme.TARGET)
            g.add_widget(Cell("绿色通道：", size=26, size_hint_x=None, width=fs(26) * 5 + 10))
            for key, label in groups:
                chip = Chip(label, key, group="green")
                self.group_chips[key] = chip
                g.add_widget(chip)
            body.add_widget(g)
        grid = GridLayout(cols=3, spacing=14)
        self.service_buttons: dict[str, BigButton] = {}
        for s in self.ui.catalogue().only(self.ui.cfg.window.services):
            b = BigButton(s.name, size=28, on_press=partial(self.issue, s.code))
            self.service_buttons[s.code] = b
            grid.add_widget(b)
        body.add_widget(grid)
        body.add_widget(Widget())
        bottom = row(size_hint_y=None, height=theme.TARGET)
        bottom.add_widget(BigButton("已预约？预约签到", size=28,
                                    on_press=lambda: self.ui.go("checkin")))
        bottom.add_widget(self.home_button())
        body.add_widget(bottom)
        return body

    def refresh(self) -> None:
        for chip in self.group_chips.values():
            chip.state = "normal"

    def issue(self, service: str) -> None:
        group = next((k for k, c in self.group_chips.items() if c.state == "down"), None)
        self.take(service, group)

    def take(self, service: str, group: str | None = None) -> None:
        """A ticket for ``service`` now (the picker, or the guide's 取号办理)."""
        try:
            ticket = self.ui.desk.issue_ticket(service, group)
        except KioskError:
            log.exception("ticket for %s failed", service)
            self.ui.toast("取号失败，请到窗口咨询", "error")
            return
        self.show(ticket)

    def show(self, ticket: Ticket, note: str = "") -> None:
        self.prepare(ticket=ticket, note=note)
        if self.ui.sm.current == self.name:
            self.rebuild()
        else:
            self.ui.go("ticket", ticket=ticket, note=note)


class CheckinScreen(KioskScreen):
    screen_name = "checkin"

    def build_content(self) -> Widget:
        body = row(padding=[16, 12], spacing=20)
        left = column(spacing=14)
        left.add_widget(Txt("预约签到", size=40, bold=True, colour=theme.ACCENT))
        left.add_widget(Txt("请将预约二维码对准扫码口，或在右侧输入预约码后点“签到”。",
                            size=28))
        self.display = Txt("", size=60, bold=True, halign="center", markup=True)
        box = Panel(orientation="vertical", padding=12, size_hint_y=None, height=130)
        box.add_widget(self.display)
        left.add_widget(box)
        self.message = Txt("", size=28, colour=theme.ACCENT)
        left.add_widget(self.message)
        left.add_widget(Widget())
        bottom = row(size_hint_y=None, height=theme.TARGET)
        # The refusals say "或直接取号": the way to do it is right here.
        bottom.add_widget(BigButton("直接取号", colour=theme.GOOD, size=28,
                                    on_press=lambda: self.ui.go("ticket")))
        bottom.add_widget(self.home_button())
        left.add_widget(bottom)
        body.add_widget(left)
        right = column(spacing=14, size_hint_x=0.48)
        self.pad = NumberPad(max_len=12)
        self.pad.bind(value=self._show_value)
        right.add_widget(self.pad)
        self.submit = BigButton("签到", colour=theme.GOOD, size=34,
                                on_press=self.check_in)
        right.add_widget(self.submit)
        right.add_widget(Widget())
        body.add_widget(right)
        self._show_value()
        return body

    def refresh(self) -> None:
        self.pad.value = ""
        self.message.text = ""

    def _show_value(self, *_: Any) -> None:
        self.display.text = self.pad.value or "[color=#8899bb]请输入预约码[/color]"

    def check_in(self) -> None:
        result = self.ui.desk.check_in(self.pad.value, source="screen")
        if result.ok and result.ticket is not None:
            ticket_screen = self.ui.sm.get_screen("ticket")
            assert isinstance(ticket_screen, TicketScreen)
            ticket_screen.show(result.ticket, note=result.message)
        else:
            self.message.text = result.message
            self.pad.value = ""
