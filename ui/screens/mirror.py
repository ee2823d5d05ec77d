"""Mirror (一机双屏): what the officer enters, live and large; the citizen confirms or
flags each field (MirrorAnswer). Values come from the core's memory-only state and are
never written anywhere by the UI."""

from __future__ import annotations

from functools import partial

from kivy.uix.widget import Widget

from device.counter import MirrorEntry
from device.documents import Document
from device.intents import ConfirmDocument, MirrorAnswer
from ui import theme
from ui.fonts import markup
from ui.screens.base import KioskScreen, column, row, shrink_to_fit
from ui.widgets import BigButton, Panel, Txt


def mask(value: str) -> str:
    """440301199001011234 -> 440301********1234 (keeps the region and the last four)."""
    v = value.strip()
    if len(v) <= 10:
        return v[:2] + "*" * max(0, len(v) - 4) + v[-2:] if len(v) > 4 else "*" * len(v)
    return v[:6] + "*" * (len(v) - 10) + v[-4:]


class MirrorScreen(KioskScreen):
    screen_name = "mirror"
    always_rebuild = True

    def build_content(self) -> Widget:
        s = self.ui.core.state
        body = column(padding=[16, 12], spacing=12)
        service = self.ui.catalogue().name(s.service) if s.service != "walk_in" else "窗口业务"
        body.add_widget(Txt(f"正在为您办理：{service}　　办件编号 {s.case_no}", size=24,
                            colour=theme.MUTED))
        self.rows: dict[str, dict[str, Widget]] = {}
        if s.document is not None:
            body.add_widget(self._document(s.document))
            return shrink_to_fit(body, min_scale=0.6)
        if not s.mirror:
            body.add_widget(Txt("民警正在为您办理，录入的信息将显示在这里，请您逐项核对。",
                                size=36, bold=True))
            body.add_widget(Widget())
            return body
        body.add_widget(Txt("请核对民警录入的信息：正确请点“正确”，有误请点“有误”",
                            size=30, bold=True, colour=theme.ACCENT))
        # No scroll view: every field of the case is on screen at once; with many fields
        # the text gets smaller instead (shrink_to_fit), never hidden below the edge.
        fields = column(spacing=10, size_hint_y=None)
        fields.bind(minimum_height=fields.setter("height"))
        for entry in s.mirror:
            fields.add_widget(self._row(entry))
        body.add_widget(fields)
        body.add_widget(Widget())
        return shrink_to_fit(body, min_scale=0.6)

    def _row(self, e: MirrorEntry) -> Widget:
        value = mask(e.value) if e.sensitive and self.ui.cfg.mirror.mask_id_numbers \
            else e.value
        height = theme.TARGET + 16
        r = Panel(orientation="horizontal", padding=12, spacing=12, size_hint_y=None,
                  height=height)
        text = column(spacing=2, size_hint_y=None, pos_hint={"center_y": 0.5})
        text.bind(minimum_height=text.setter("height"))
        text.add_widget(Txt(markup(e.label), size=24, colour=theme.MUTED))
        value_label = Txt(markup(value), size=48, bold=True)
        text.add_widget(value_label)
        # A long address wraps: the row grows with it.
        text.bind(height=lambda _w, h: setattr(r, "height", max(height, h + 16)))
        r.add_widget(text)
        status = {"confirmed": ("已确认", theme.GOOD), "flagged": ("已标记有误，民警将核实",
                                                                 theme.BAD)}.get(e.status)
        if status:
            r.add_widget(Txt(status[0], size=28, colour=theme.ACCENT, size_hint_x=0.3,
                             valign="middle"))
        ok = BigButton("正确", colour=theme.GOOD, size=30, size_hint_x=None, width=170,
                       on_press=partial(self.answer, e.key, True))
        bad = BigButton("有误", colour=theme.BAD, size=30, size_hint_x=None, width=170,
                        on_press=partial(self.answer, e.key, False))
        for b in (ok, bad):
            b.height = theme.TARGET
            b.size_hint_y = None
            b.pos_hint = {"center_y": 0.5}
        actions = row(size_hint_x=None, width=354)
        actions.add_widget(ok)
        actions.add_widget(bad)
        r.add_widget(actions)
        self.rows[e.key] = {"value": value_label, "ok": ok, "bad": bad}
        return r

    def _document(self, doc: Document) -> Widget:
        """A written document before it prints: every line of it, large, and 确认."""
        box = column(spacing=10)
        box.add_widget(Txt(f"请阅读民警为您出具的《{doc.title}》，确认后打印交给您",
                           size=30, bold=True, colour=theme.ACCENT))
        lines = Panel(orientation="vertical", padding=16, spacing=6, size_hint_y=None)
        lines.bind(minimum_height=lines.setter("height"))
        for label, text in doc.lines:
            if "\n" in text:  # a list: the label on its line, each item under it
                lines.add_widget(Txt(markup(f"{label}："), size=36))
                for item in text.split("\n"):  # indented, a wrapped line with it
                    lines.add_widget(Txt(markup(item), size=36, padding=(60, 0, 0, 0)))
            else:
                lines.add_widget(Txt(markup(f"{label}：{text}"), size=36))
        box.add_widget(lines)
        box.add_widget(Widget())
        self.confirm_button = BigButton("确认并打印", colour=theme.GOOD, size=36,
                                        size_hint_y=None, on_press=lambda *_: self.confirm())
        self.confirm_button.height = theme.TARGET
        box.add_widget(self.confirm_button)
        return box

    def confirm(self) -> None:
        # The observer rebuilds this screen when the document is issued.
        self.ui.core.submit(ConfirmDocument())

    def answer(self, key: str, ok: bool) -> None:
        # The observer rebuilds this screen when the answer is committed.
        self.ui.core.submit(MirrorAnswer(key, ok))
