"""Service guide (办事指南): every service of the catalogue in full, and the one-time
checklist slip (一次性告知单) printed with the catalogue version."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kivy.uix.image import Image
from kivy.uix.widget import Widget

from device import printjobs
from device.catalogue import Service
from ui import theme
from ui.app import local_time
from ui.screens.base import KioskScreen, column, row, scrolled
from ui.widgets import BigButton, Panel, Txt

if TYPE_CHECKING:
    from ui.kioskui import KioskUi

FORMS = Path(__file__).resolve().parents[1] / "images" / "forms"


def form_path(name: str, site_dir: str = "") -> Path | None:
    for base in ([Path(site_dir)] if site_dir else []) + [FORMS]:
        p = base / name
        if p.is_file():
            return p
    return None


def _list(items: tuple[str, ...], numbered: bool = True) -> str:
    return "\n".join(f"{i}. {x}" if numbered else f"• {x}" for i, x in enumerate(items, 1))


class GuideScreen(KioskScreen):
    screen_name = "guide"

    def __init__(self, ui: KioskUi, **kw: Any) -> None:
        super().__init__(ui, **kw)
        self.selected = ""

    def build_content(self) -> Widget:
        cat = self.ui.catalogue()
        services = cat.only(self.ui.cfg.window.services)
        if self.options.get("service"):
            self.selected = self.options.pop("service")
        if not any(s.code == self.selected for s in services):
            self.selected = services[0].code if services else ""
        body = row(padding=[16, 12], spacing=14)
        menu = column(spacing=10)
        self.service_buttons: dict[str, BigButton] = {}
        for s in services:
            b = BigButton(s.name, size=26, on_press=partial(self.select, s.code))
            self.service_buttons[s.code] = b
            menu.add_widget(b)
        left = column(size_hint_x=0.32)
        left.add_widget(scrolled(menu))
        left.add_widget(self.home_button())
        body.add_widget(left)
        self.detail_box = Panel(orientation="vertical", padding=16, spacing=12,
                                size_hint_x=0.68)
        body.add_widget(self.detail_box)
        self.show_detail()
        return body

    def show_detail(self) -> None:
        """The selected service on the right; only this part changes on a selection."""
        cat = self.ui.catalogue()
        for code, b in self.service_buttons.items():
            chosen = code == self.selected
            b.background_color = theme.ACCENT if chosen else theme.PRIMARY
            b.fg = list(theme.DARK_TEXT if chosen else theme.TEXT)
        right = self.detail_box
        right.clear_widgets()
        service = cat.get(self.selected)
        if service is not None:
            right.add_widget(scrolled(self._detail(service)))
            actions = row(size_hint_y=None, height=theme.TARGET)
            self.print_button = BigButton("打印一次性告知单", colour=theme.GOOD, size=30,
                                          on_press=partial(self.print_checklist, service))
            actions.add_widget(self.print_button)
            actions.add_widget(BigButton("取号办理", size=30,
                                         on_press=partial(self.take_ticket, service)))
            right.add_widget(actions)
        right.add_widget(Txt(f"指南版本 {cat.version}　　内容较长时请上下滑动查看", size=18,
                             colour=theme.MUTED))

    def _detail(self, s: Service) -> Widget:
        d = column(spacing=10, padding=[0, 0, 26, 0])  # clear of the scroll bar
        self.title_label = Txt(s.name, size=38, bold=True, colour=theme.ACCENT)
        d.add_widget(self.title_label)
        if s.summary:
            d.add_widget(Txt(s.summary, size=26))
        sections = [
            ("办理条件", _list(s.conditions, numbered=False)),
            ("所需材料", _list(s.materials)),
            ("办理流程", " → ".join(s.process)),
            ("办理时限", s.time_limit),
            ("收费标准", "\n".join(f"• {f.item}：{f.amount_text}\n   依据：{f.basis}"
                                  for f in s.fees)),
            ("设定依据", "\n".join(s.basis)),
            ("审批机关", s.authority),
        ]
        for title, text in sections:
            if text:
                d.add_widget(Txt(title, size=28, bold=True, colour=theme.ACCENT))
                d.add_widget(Txt(text, size=26))
        forms = [p for p in (form_path(f) for f in s.forms) if p is not None]
        if forms:
            d.add_widget(Txt("样表", size=28, bold=True, colour=theme.ACCENT))
            for p in forms:
                d.add_widget(Image(source=str(p), size_hint_y=None, height=420,
                                   fit_mode="contain"))
        return d

    def select(self, code: str) -> None:
        self.selected = code
        self.show_detail()

    def take_ticket(self, service: Service) -> None:
        """The ticket for the service on show, in one tap (not the picker again)."""
        from ui.screens.ticket import TicketScreen

        screen = self.ui.sm.get_screen("ticket")
        assert isinstance(screen, TicketScreen)
        screen.take(service.code)

    def print_checklist(self, service: Service) -> None:
        cat = self.ui.catalogue()
        cfg = self.ui.cfg
        job = printjobs.PrintJob("checklist", {
            "service_code": service.code, "service_name": service.name,
            "conditions": list(service.conditions),
            "materials": list(service.materials),
            "fees": [{"item": f.item, "yuan": f.yuan, "basis": f.basis} for f in service.fees],
            "station": cfg.window.station, "window": cfg.window.number,
            "window_name": cfg.window.name, "hours": cfg.window.hours,
            "consult_phone": cat.consult_phone or cfg.window.consult_phone,
            "catalogue_version": cat.version,
            "time_limit": service.time_limit,
            "issued_at": local_time(self.ui.core, cfg).strftime("%Y-%m-%d %H:%M"),
            "qr": f"{cfg.window.guide_url}?service={service.code}&v={cat.version}",
        })
        # The printer driver prints it and records slip.printed with this version.
        self.ui.core.record([], also=[self.ui.core.store.enqueue_print(job)])
        self.ui.toast("正在打印一次性告知单，请在出票口取单")
