"""Refusals and faults as codes, each with all its texts in one place.

A :class:`Refusal` is why the counter did not take an intent (device/counter.py); a
:class:`Fault` is what is wrong with a peripheral or the store (``Core.fault``). Each code
has one :class:`Texts` entry: what the citizen reads on the screen (Chinese), what the
technician or officer does about it, and the English line for the journal (for a
refusal also the ``error`` a workstation gets back on the link).

Fault values go into ``device.fault`` events, to HQ over MQTT and into the control
socket's state: they are a wire format and never change. Refusal values are not stored;
only their texts leave the counter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Texts:
    citizen: str  # Chinese, shown on the screen
    fix: str  # what the technician (or, for a refusal, the officer or workstation) does
    # English, for the journal. A refusal's is a str.format template of the values the
    # counter gives with it (the case number, the badge), so the workstation is told
    # which case or field it got wrong.
    log: str


class Refusal(StrEnum):
    # A rating press (pad, screen, simulation keys).
    UNKNOWN_BUTTON = "unknown_button"
    RATED = "rated"
    NO_CASE = "no_case"
    NOT_YET = "not_yet"
    AWAY = "away"
    # The officer's buttons and the away board.
    END_CASE_FIRST = "end_case_first"
    WAITING_FOR_RATING = "waiting_for_rating"
    COME_BACK_FIRST = "come_back_first"
    AWAY_AFTER_RATING = "away_after_rating"
    BAD_RETURN_AT = "bad_return_at"
    BACKUP_IS_ABSENT = "backup_is_absent"
    NOT_AWAY = "not_away"
    # Officers signing in and out.
    SIGN_IN_MID_CASE = "sign_in_mid_case"
    SIGNED_IN = "signed_in"
    NO_OFFICER = "no_officer"
    SIGN_OUT_MID_CASE = "sign_out_mid_case"
    # Cases from the workstation.
    BAD_CASE_NO = "bad_case_no"
    BAD_SERVICE = "bad_service"
    CASE_STILL_OPEN = "case_still_open"
    CASE_STARTED = "case_started"
    NO_CASE_TO_END = "no_case_to_end"
    NOT_THE_OPEN_CASE = "not_the_open_case"
    # The mirror (the citizen checks what the officer typed).
    FIELD_NEEDS_CASE = "field_needs_case"
    ANSWER_NEEDS_CASE = "answer_needs_case"
    NO_FIELD = "no_field"
    FIELD_ANSWERED = "field_answered"
    # The details of an unsatisfied rating.
    NO_DETAILS_DUE = "no_details_due"
    DETAILS_SENT = "details_sent"
    # Written documents (notice, refusal, receipt, referral) for the open case.
    DOCUMENT_NEEDS_CASE = "document_needs_case"
    DOCUMENT_OTHER_CASE = "document_other_case"
    NO_DOCUMENT = "no_document"
    # The queue controls of the workstation link (recall, no_show, call, transfer).
    NO_CALLED_TICKET = "no_called_ticket"
    CALL_WHEN_IDLE = "call_when_idle"
    TICKET_UNKNOWN = "ticket_unknown"
    TICKET_NOT_WAITING = "ticket_not_waiting"
    SERVICE_BEGUN = "service_begun"
    SERVICE_UNKNOWN = "service_unknown"
    SAME_SERVICE = "same_service"
    OWN_WINDOW = "own_window"
    # A station's shared queue (docs/station.md): it did not answer, or said no.
    STATION_AWAY = "station_away"
    STATION_REFUSED = "station_refused"


# Every refused rating press says the same on the screen, except a repeated one: the
# citizen who rated already is thanked, not told off.
_CANNOT_RATE = "现在不能评价"
_END_CASE = "请先结束当前业务"
_NO_OPEN_CASE = "当前没有正在办理的业务"

REFUSALS: Mapping[Refusal, Texts] = {
    Refusal.UNKNOWN_BUTTON: Texts(
        _CANNOT_RATE, "the buttons are the rating levels, next and away (docs/wiring.md)",
        "unknown button {button!r}"),
    Refusal.RATED: Texts(
        "本次服务已评价，谢谢您", "nothing to do: a case is rated once",
        "case {case_no} was already rated"),
    Refusal.NO_CASE: Texts(
        _CANNOT_RATE, "start a case and end it: the pad takes a rating then",
        "no case to rate"),
    Refusal.NOT_YET: Texts(
        _CANNOT_RATE, "end the case (next button or case.end): the pad takes a rating then",
        "the case is still open"),
    Refusal.AWAY: Texts(
        _CANNOT_RATE, "press away to come back, then serve a case", "the counter is away"),
    Refusal.END_CASE_FIRST: Texts(
        _END_CASE, "end the case (next button or case.end), then go away",
        "end the open case before going away"),
    Refusal.WAITING_FOR_RATING: Texts(
        "请先完成评价", "wait for the rating or its timeout (timeouts.rating_s)",
        "waiting for the citizen's rating"),
    Refusal.COME_BACK_FIRST: Texts(
        "窗口暂停服务", "press away to come back first",
        "the counter is away: press away to come back first"),
    Refusal.AWAY_AFTER_RATING: Texts(
        "请先完成评价", "set away again after the rating (the away button waits for it)",
        "waiting for the citizen's rating: set away again after it"),
    Refusal.BAD_RETURN_AT: Texts(
        "返回时间有误", "send return_at as HH:MM or an ISO 8601 time",
        "return_at {return_at!r} must be HH:MM or an ISO 8601 time"),
    Refusal.BACKUP_IS_ABSENT: Texts(
        "替班民警不能是离开的民警", "name another officer or a window as the backup",
        "backup {officer} is the officer who is going away: name another officer or a "
        "window"),
    Refusal.NOT_AWAY: Texts(
        "窗口未暂停服务", "nothing to do: the counter is not away",
        "the counter is not away"),
    Refusal.SIGN_IN_MID_CASE: Texts(
        _END_CASE, "end the open case, then sign in",
        "case {case_no} is open: end it before another officer signs in"),
    Refusal.SIGNED_IN: Texts(
        "民警已登录", "nothing to do: that officer is signed in",
        "officer {badge} is already signed in"),
    Refusal.NO_OFFICER: Texts(
        "当前没有民警登录", "nothing to do: nobody is signed in", "no officer is signed in"),
    Refusal.SIGN_OUT_MID_CASE: Texts(
        _END_CASE, "end the open case, then sign out",
        "case {case_no} is open: end it before signing out"),
    Refusal.BAD_CASE_NO: Texts(
        "业务编号有误", "send a case number of 1-40 letters, digits, '-' or '_'",
        "case_no {case_no!r} must be 1-40 letters, digits, '-' or '_'"),
    Refusal.BAD_SERVICE: Texts(
        "业务类型有误", "send a service code of the catalogue, like 'id_card.renew'",
        "service {service!r} must be a catalogue code like 'id_card.renew'"),
    Refusal.CASE_STILL_OPEN: Texts(
        _END_CASE, "send case.end first", "case {case_no} is still open: send case.end first"),
    Refusal.CASE_STARTED: Texts(
        "该业务已办理", "send the new case's own number (a resent case.start is refused)",
        "case {case_no} was already started"),
    Refusal.NO_CASE_TO_END: Texts(
        _NO_OPEN_CASE, "nothing to do: no case is open", "no open case to end"),
    Refusal.NOT_THE_OPEN_CASE: Texts(
        "业务编号与当前业务不符", "send case.end with the open case's number, or without one",
        "case {case_no} is not the open case ({open_case})"),
    Refusal.FIELD_NEEDS_CASE: Texts(
        _NO_OPEN_CASE, "send case.start first", "mirror fields need an open case"),
    Refusal.ANSWER_NEEDS_CASE: Texts(
        _NO_OPEN_CASE, "send case.start first", "no open case"),
    Refusal.NO_FIELD: Texts(
        "没有该核对项", "send the field first, then its answer", "no mirror field {key!r}"),
    Refusal.FIELD_ANSWERED: Texts(
        "该项已核对", "nothing to do: the answer is recorded",
        "field {key!r} is already {status}"),
    Refusal.NO_DETAILS_DUE: Texts(
        "该业务没有需要补充的评价", "details follow an unsatisfied rating of the same case",
        "case {case_no} has no unsatisfied rating to add details to"),
    Refusal.DETAILS_SENT: Texts(
        "评价详情已提交，谢谢您", "nothing to do: one set of details per case",
        "details for case {case_no} were already sent"),
    Refusal.DOCUMENT_NEEDS_CASE: Texts(
        _NO_OPEN_CASE, "send case.start first: a document belongs to a case",
        "documents need an open case"),
    Refusal.DOCUMENT_OTHER_CASE: Texts(
        "业务编号与当前业务不符", "send it again: the open case changed while it was made",
        "the document was made for case {case_no}, the open case is {open_case}"),
    Refusal.NO_DOCUMENT: Texts(
        "没有需要确认的文书", "nothing to confirm: send the document first",
        "no document is waiting for the citizen's confirmation"),
    Refusal.NO_CALLED_TICKET: Texts(
        "当前没有叫到的号码", "call a ticket first (call_next or call)",
        "no ticket is being served: call one first (call_next or call)"),
    Refusal.CALL_WHEN_IDLE: Texts(
        _END_CASE, "end the case (and let the rating pass) or come back, then call",
        "the counter is {mode}: a ticket is called when it is idle"),
    Refusal.TICKET_UNKNOWN: Texts(
        "没有该号码", "send the number of a waiting ticket of today, e.g. 'A007'",
        "no waiting ticket {number} today; waiting: {waiting}"),
    Refusal.TICKET_NOT_WAITING: Texts(
        "该号码不在等候中", "send the number of a waiting ticket",
        "ticket {number} is not waiting: {why}; waiting: {waiting}"),
    Refusal.SERVICE_BEGUN: Texts(
        "业务已开始办理", "end the case instead; a ticket is transferred before service starts",
        "case {case_no} of ticket {number} has begun (a field or document was shown): end it "
        "instead"),
    Refusal.SERVICE_UNKNOWN: Texts(
        "业务类型有误", "send a service code of the catalogue in force",
        "service {service!r} is not in the catalogue (version {version}); use one of "
        "{codes}"),
    Refusal.SAME_SERVICE: Texts(
        "该号码已是此业务", "nothing to do, or name another service",
        "ticket {number} is already for service {service}"),
    Refusal.OWN_WINDOW: Texts(
        "不能转到本窗口", "name another window (1-99)",
        "window {window} is this counter's own window: name another window (1-99)"),
    Refusal.STATION_AWAY: Texts(
        "叫号系统暂时无法连接，请稍候", "check the station broker and kiosk-station "
        "(docs/station.md); own-block tickets still work",
        "the station did not answer {op} within station.timeout_s; nothing changed"),
    Refusal.STATION_REFUSED: Texts(
        "叫号系统拒绝了该操作", "see the station's error",
        "the station refused: {error}"),
}


def refusal_text(code: Refusal, detail: Mapping[str, object]) -> str:
    """The English reason for ``code``, naming what ``detail`` holds (journal, link)."""
    return REFUSALS[code].log.format_map(detail)


class Fault(StrEnum):
    # Values are stored and sent to HQ: never rename one.
    GONE = "gone"  # a serial port (sign, link, scanner)
    NO_REPLY = "no_reply"  # the sign
    STUCK = "stuck"  # a button
    START_FAILED = "start_failed"  # any driver
    NO_PLAYER = "no_player"  # sound
    PLAY_FAILED = "play_failed"
    PAPER_OUT = "paper_out"  # the printer
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    ERROR = "error"
    PORT_GONE = "port_gone"
    NO_FONT = "no_font"
    COMMIT_FAILED = "commit_failed"  # the store
    INTEGRITY_CHECK_FAILED = "integrity_check_failed"
    DB_FULL = "db_full"


FAULTS: Mapping[Fault, Texts] = {
    Fault.GONE: Texts(
        "设备连接中断",
        "the USB serial adapter is unplugged or re-enumerated: check the cable; use its "
        "/dev/serial/by-id/ path in config.toml",
        "the serial port is gone"),
    Fault.NO_REPLY: Texts(
        "设备无响应",
        "the sign does not answer OK: check its power, TX/RX wiring, sign.baudrate "
        "and sign.crc",
        "no OK from the device"),
    Fault.STUCK: Texts(
        "按键失灵",
        "a button is held down or shorted to ground: check its wiring (docs/wiring.md)",
        "a button is held down"),
    Fault.START_FAILED: Texts(
        "设备未能启动", "the driver did not start: journalctl -u kiosk -b shows why",
        "the driver did not start"),
    Fault.NO_PLAYER: Texts(
        "语音播报暂不可用", "install aplay: sudo apt install alsa-utils",
        "no audio player (aplay)"),
    Fault.PLAY_FAILED: Texts(
        "语音播报暂不可用",
        "aplay failed: check the sound card (aplay -l) and the speaker's cable",
        "playing a clip failed"),
    # The printer's citizen texts end the ticket screen's "... 号票暂未打印" and begin the
    # worker's announcement, so they name the problem only.
    Fault.PAPER_OUT: Texts("打印机缺纸", "load a paper roll", "the printer is out of paper"),
    Fault.COVER_OPEN: Texts(
        "打印机仓盖未关好", "close the printer's paper cover", "the printer's cover is open"),
    Fault.OFFLINE: Texts(
        "打印机暂时离线", "press the printer's online/FEED button or power-cycle it",
        "the printer is offline"),
    Fault.ERROR: Texts(
        "打印机故障", "clear the jam or cutter error, then power-cycle the printer",
        "the printer reports an error"),
    Fault.PORT_GONE: Texts(
        "打印机未连接", "check the printer's cable and power", "the printer is not connected"),
    Fault.NO_FONT: Texts(
        "打印机字体缺失",
        "install the CJK font (sudo apt install fonts-wqy-microhei) or set printer.font",
        "no font for the printer's Chinese text"),
    Fault.COMMIT_FAILED: Texts(
        "数据暂时无法保存",
        "the SD card refused a write: check free space (df -h) and the card (dmesg)",
        "the database refused a commit"),
    Fault.INTEGRITY_CHECK_FAILED: Texts(
        "数据文件已修复",
        "the database was corrupt and moved aside: check the SD card (dmesg); replace it "
        "if this repeats",
        "the database failed its integrity check"),
    Fault.DB_FULL: Texts(
        "存储空间已满",
        "the database is over store.max_db_mb: check the broker link so events get sent, "
        "or raise store.max_db_mb",
        "the database is over its size limit"),
}


def fault_texts(value: str) -> Texts | None:
    """The texts of a fault value read from outside (a running counter's state reply,
    an event): None for one this version does not know."""
    try:
        return FAULTS[Fault(value)]
    except ValueError:
        return None
