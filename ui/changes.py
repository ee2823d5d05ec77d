"""What one committed change does to the screen, on Kivy's main thread.

The core's observer (:meth:`ui.kioskui.KioskUi._observe`) only hands each change over;
:func:`apply_change` then shows its toast (a notice, a refused screen press), updates the
header's called number, marks the screens whose data changed, shows a called ticket or a
scanned appointment, and brings up the screen the counter's mode wants
(:func:`ui.app.wants_screen`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from device.codes import REFUSALS
from device.core import Change
from device.counter import Mode
from device.events import EventType
from device.intents import Press
from ui.app import wants_screen
from ui.screens.base import KioskScreen
from ui.screens.ticket import TicketScreen

if TYPE_CHECKING:
    from ui.kioskui import KioskUi

HOME_DATA = (EventType.RATING_GIVEN, EventType.OFFICER_SIGNED_IN, EventType.OFFICER_SIGNED_OUT)
PRINTER_NEWS = (EventType.DEVICE_FAULT, EventType.DEVICE_RECOVERED)


def refusal_toast(change: Change) -> str | None:
    """The citizen's words for a rating they pressed on the screen that was not taken
    (device/codes.py); None when there is nothing to tell them. The pad and the
    officer's buttons answer with their own LEDs and beeps, not the screen."""
    if change.refused is None or not isinstance(change.intent, Press) \
            or change.intent.source != "screen":
        return None
    return REFUSALS[change.refused].citizen


def apply_change(ui: KioskUi, change: Change) -> None:
    ui.reclaimer.soon()
    if change.notice:
        ui.toast(change.notice, change.notice_kind)
    refused = refusal_toast(change)
    if refused is not None:
        ui.toast(refused, "info")
    if change.before.ticket != change.after.ticket and not change.after.ticket:
        ui.called_label.text = ""  # the case ended (or midnight): nobody is being served
    if any(ev.type in HOME_DATA for ev in change.events):
        _screen(ui, "home").mark_dirty()  # satisfaction rate or officer changed
    if any(ev.type in PRINTER_NEWS and ev.data.get("component") == "printer"
           for ev in change.events) and ui.sm.current == "ticket":
        _screen(ui, "ticket").rebuild()  # the ticket says whether it printed
    for ev in change.events:
        if ev.type in (EventType.TICKET_CALLED, EventType.TICKET_RECALLED):
            if ev.data.get("intake"):  # a handed-on intake: nobody in the hall to call
                continue
            ui.show_called(str(ev.data.get("number", "")),
                           int(ev.data.get("window", ui.cfg.window.number)))
        elif ev.type == EventType.APPOINTMENT_CHECKED_IN and ev.data.get("source") != "screen":
            issued = next((e for e in change.events if e.type == EventType.TICKET_ISSUED),
                          None)
            if issued is not None:
                _show_scanned(ui, issued)
    target = wants_screen(change, ui.sm.current)
    if target is not None:
        name, options = target
        if options.pop("refresh", False):
            _screen(ui, name).rebuild()
        elif name == "home":
            ui.home()
        else:
            ui.go(name, **options)


def _screen(ui: KioskUi, name: str) -> KioskScreen:
    screen = ui.sm.get_screen(name)
    assert isinstance(screen, KioskScreen)
    return screen


def _show_scanned(ui: KioskUi, issued: Any) -> None:
    from device.tickets import Ticket

    d = issued.data
    ticket = Ticket(0, d["number"], d["service"], ui.catalogue().name(d["service"]),
                    d.get("group", ""), int(d.get("priority", 1)), d.get("appointment", ""),
                    0.0, int(d.get("people_ahead", 0)), int(d.get("est_wait_min", 0)))
    note = f"签到成功，您的号码是 {ticket.number}"
    if ui.core.state.mode is not Mode.IDLE:
        # Someone else is being served at this screen: do not take it over.
        ui.toast(f"{note}，请留意叫号")
        return
    screen = ui.sm.get_screen("ticket")
    assert isinstance(screen, TicketScreen)
    screen.show(ticket, note=note)
