"""Home (警务公开): the window, the officer on duty and the backup, hours, today's notice,
phones, this month's satisfaction rate, the station's figure HQ published for the latest
month, and the way into every other flow."""

from __future__ import annotations

from pathlib import Path

from kivy.uix.image import Image
from kivy.uix.widget import Widget

from device.comments import monthly_satisfaction
from device.config import OfficerEntry
from device.notices import Notice
from ui import theme
from ui.fonts import markup
from ui.screens.base import KioskScreen, column, row, shrink_to_fit
from ui.theme import fs
from ui.widgets import BigButton, Panel, Txt

IMAGES = Path(__file__).resolve().parents[1] / "images"
PLACEHOLDER_PHOTO = IMAGES / "officer_placeholder.png"


def photo_path(officer: OfficerEntry | None) -> str:
    if officer and officer.photo and Path(officer.photo).is_file():
        return officer.photo
    return str(PLACEHOLDER_PHOTO)


def notice_labels(notices: list[Notice], size: float = 30) -> list[Txt]:
    """HQ's notices valid now (or config's window.notice), urgent ones in red."""
    out = []
    for n in notices:
        colour = theme.BAD_TEXT if n.level == "urgent" else theme.ACCENT
        out.append(Txt(f"公告：{n.text}", size=size, colour=colour, bold=True))
    return out


class HomeScreen(KioskScreen):
    screen_name = "home"

    def build_content(self) -> Widget:
        ui, cfg = self.ui, self.ui.cfg
        if ui.role == "entrance":  # the station's ticket kiosk at the door
            from ui.screens.entrance import entrance_home

            body, self.nav = entrance_home(ui)
            return body
        state = ui.core.state
        body = column(padding=[16, 12, 16, 12], spacing=14)
        top = row(spacing=14)

        # ---- officer on duty (the signed-in officer, else the configured one)
        officer = cfg.officer(state.officer) if state.officer else None
        officer = officer or cfg.officer(cfg.staff.on_duty)
        card = Panel(orientation="vertical", padding=16, spacing=8, size_hint_x=0.44)
        card.add_widget(Txt("当班民警", size=24, colour=theme.MUTED))
        who = row(size_hint_y=None, height=240)
        who.add_widget(Image(source=photo_path(officer), size_hint=(None, None),
                             size=(190, 230), fit_mode="contain"))
        info = column(spacing=6)
        if officer:
            self.officer_name = Txt(markup(officer.name), size=44, bold=True)
            info.add_widget(self.officer_name)
            info.add_widget(Txt(f"警号：{officer.badge}", size=28))
            info.add_widget(Txt(f"职务：{officer.role}", size=28))
            info.add_widget(Txt(f"电话：{officer.phone}", size=28))
        else:
            self.officer_name = Txt(f"警号 {state.officer}", size=36, bold=True)
            info.add_widget(self.officer_name)
        info.add_widget(Widget())
        who.add_widget(info)
        card.add_widget(who)
        backup = cfg.officer(cfg.staff.backup)
        if backup:
            text = f"B岗民警：{markup(backup.name)}（警号 {backup.badge}）电话 {backup.phone}"
            if cfg.staff.backup_window:
                text += f"，{cfg.staff.backup_window}号窗口"
            card.add_widget(Txt(text, size=24, colour=theme.MUTED))
        card.add_widget(Txt(f"咨询电话：{cfg.window.consult_phone}　"
                            f"投诉电话：{cfg.window.complaint_phone}", size=26))
        sat = monthly_satisfaction(ui.core.store, cfg.device.timezone, ui.core.clock())
        self.satisfaction = Txt(
            f"本月满意率：[b][color=#ffd600]{sat.text}[/color][/b]"
            + (f"（{sat.total} 次评价）" if sat.total else ""), size=26)
        card.add_widget(self.satisfaction)
        card.add_widget(Widget())
        top.add_widget(shrink_to_fit(card))

        # ---- the window's public information
        pub = column(spacing=12, padding=[4, 4])
        names = [s.name for s in ui.catalogue().only(cfg.window.services)]
        pub.add_widget(Txt("本窗口办理业务", size=26, colour=theme.ACCENT, bold=True))
        pub.add_widget(Txt("、".join(names), size=26))
        pub.add_widget(Txt("办公时间", size=26, colour=theme.ACCENT, bold=True))
        pub.add_widget(Txt(cfg.window.hours, size=26))
        for label in notice_labels(ui.current_notices()):
            pub.add_widget(label)
        pub.add_widget(Widget())
        panel = Panel(orientation="vertical", padding=12, size_hint_x=0.56)
        panel.add_widget(shrink_to_fit(pub))
        top.add_widget(panel)
        body.add_widget(top)

        # ---- HQ's published month for the station (警务公开: the figure the city
        # published, not this counter's own count above), full width and large.
        figure = ui.published_figure()
        self.figure: Txt | None = None
        if figure is not None:
            self.figure = Txt(figure.line, size=40, colour=theme.ACCENT, bold=True,
                              halign="center")
            body.add_widget(self.figure)

        # ---- every flow starts here: one tap to each
        nav = row(size_hint_y=None, height=max(theme.TARGET, fs(34) * 3.2), spacing=14)
        self.nav = {
            "guide": BigButton("办事指南", on_press=lambda: ui.go("guide"), size=34),
            "ticket": BigButton("取号", on_press=lambda: ui.go("ticket"), size=34,
                                colour=theme.GOOD),
            "checkin": BigButton("预约签到", on_press=lambda: ui.go("checkin"), size=34),
            "comment": BigButton("意见簿", on_press=lambda: ui.go("comment"), size=34,
                                 colour=theme.WARN),
        }
        for b in self.nav.values():
            b.height = nav.height
            nav.add_widget(b)
        body.add_widget(nav)
        return body
