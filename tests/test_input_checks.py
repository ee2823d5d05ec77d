"""Outside text is checked once where it enters (issue 9, items 8-10): the workstation
link, the control socket and the scanner refuse invalid Unicode, control characters,
values shaped like a resident ID number outside mirror fields, empty or past away
details, services not in the catalogue and odd request ids, each with a reason that
names the field, and nothing is recorded."""

from __future__ import annotations

import json
import socket
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.config import Config, LinkSection
from device.core import Core
from device.counter import Mode
from device.errors import ParseError
from device.fields import check_text, looks_like_resident_id
from drivers.link import LinkSession
from drivers.scanner import MSG_UNKNOWN, make_payload
from kiosk.app import KioskApp
from kiosk.control import ControlClient
from tests.conftest import T0
from tests.kiosk_support import db_rows, running_kiosk

# 18 characters with a valid GB 11643 check character (made up, not a real person's).
RESIDENT_ID = "11010519491231002X"


def _acceptable(ch: str, multiline: bool) -> bool:
    """The rule check_text states, a character at a time (its slow path)."""
    cat = unicodedata.category(ch)
    if cat == "Cc":
        return multiline and ch in "\n\t"
    return cat not in ("Cf", "Cs", "Co", "Cn") or ch == "\ufeff"


@given(st.text(alphabet=st.characters(codec=None), max_size=40)
       | st.text(alphabet=st.sampled_from("a 中\u3000\n\t\x1b\u200b\ufeff\ud800\ue000\u2028"
                                          "\u0378"), max_size=8),
       st.booleans())
def test_check_text_accepts_exactly_what_its_rule_allows(text: str, multiline: bool) -> None:
    """Its fast path (str.isprintable) never lets through what the rule refuses."""
    try:
        check_text(text, "x", limit=100, multiline=multiline)
        accepted = True
    except ParseError:
        accepted = False
    assert accepted == all(_acceptable(ch, multiline) for ch in text)


def test_the_sample_id_is_shaped_like_a_resident_id() -> None:
    assert looks_like_resident_id(RESIDENT_ID)


def _send(core: Core, *lines: str | bytes) -> list[dict]:
    """Lines through a real link session (the bytes a workstation sends), replies back."""
    session = LinkSession(core, LinkSection())
    data = b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines)
    return [json.loads(r) for r in session.process(data).splitlines()]


def _away(**kw: object) -> str:
    return json.dumps({"op": "away", "reason": "临时会议", "return_at": "15:30", **kw})


# ------------------------------------------------------------------ item 8: Unicode, controls

@pytest.mark.parametrize(("line", "field"), [
    (rb'{"op":"away","reason":"\udcff","return_at":"15:30"}', "reason"),
    (rb'{"op":"away","reason":"x","return_at":"15:30","phone":"\ud800"}', "phone"),
    (rb'{"op":"sign_in","badge":"\udcff1"}', "badge"),
    (rb'{"op":"back","id":"\udcff"}', "id"),
    (rb'{"op":"back","\udcff":1}', "\\udcff"),
])
def test_lone_surrogate_is_refused_naming_the_field(core: Core, line: bytes,
                                                    field: str) -> None:
    head = core.store.head()[0]
    (reply,) = _send(core, line)
    assert reply["ok"] is False
    assert f"field '{field}'" in reply["error"] and "not valid Unicode" in reply["error"]
    assert "internal error" not in reply["error"]
    assert core.store.head()[0] == head


@pytest.mark.parametrize(("value", "char"), [
    ("临时\x1b[2J会议", "U+001B"), ("第一行\n第二行", "U+000A"), ("a\rb", "U+000D"),
    ("a\u202eb", "U+202E"), ("a\x00b", "U+0000"),
])
def test_control_and_invisible_characters_in_an_away_reason_are_refused(
        core: Core, value: str, char: str) -> None:
    (reply,) = _send(core, _away(reason=value))
    assert reply["ok"] is False and "'reason'" in reply["error"] and char in reply["error"]
    assert core.state.mode is Mode.IDLE and core.store.head()[0] == 0


def test_a_refused_line_never_stops_the_session(core: Core) -> None:
    # An echoed lone surrogate used to make the reply unencodable (the session died).
    replies = _send(core, rb'{"op":"back","id":"\udcff"}', _away(id="a"))
    assert [r["ok"] for r in replies] == [False, True]
    assert replies[1]["id"] == "a"


def test_surrogate_label_is_refused_and_state_keeps_working(config: Config) -> None:
    with running_kiosk(config) as app, ControlClient(app.config.control_socket) as c:
        c.request({"cmd": "press", "button": "next"})
        reply = c.request({"cmd": "link", "line":
                           '{"op":"field","key":"name","label":"\\udcff","value":"张三"}'})
        assert reply["reply"]["ok"] is False and "'label'" in reply["reply"]["error"]
        state = c.request({"cmd": "state"})
        assert state["ok"] is True and state["state"]["mirror"] == []


# ------------------------------------------------------------------ item 9: wrong but accepted

@pytest.mark.parametrize(("line", "needle"), [
    (_away(reason=""), "field 'reason' is empty"),
    (_away(reason="   "), "field 'reason' is empty"),
    (_away(return_at=""), "field 'return_at' is empty"),
    (_away(return_at="2026-11-26T08:59:00+08:00"), "return_at '2026-11-26T08:59:00+08:00' "
     "is in the past"),
    (_away(return_at="2020-01-01T10:00"), "is in the past"),
    (_away(return_at="25:00"), "must be HH:MM or an ISO 8601 time"),
    ('{"op":"case_start","case_no":"C-1","service":"no.such"}',
     "service 'no.such' is not in the catalogue"),
    ('{"op":"case_start","case_no":"C-1","service":"id_card.renew","id":true}', "'id' must"),
    ('{"op":"back","id":false}', "'id' must"),
    ('{"op":"back","id":1.5}', "'id' must"),
    ('{"op":"back","id":{"a":1}}', "'id' must"),
    ('{"op":"back","id":123456789012345678901234567890}', "'id' must be an integer between"),
    ('{"op":"back","id":"' + "x" * 65 + '"}', "'id' is longer than 64"),
    ('{"op":"back","id":NaN}', "NaN is not a JSON value"),
])
def test_wrong_values_are_refused_naming_the_field(core: Core, line: str, needle: str) -> None:
    (reply,) = _send(core, line)
    assert reply["ok"] is False and needle in reply["error"], reply
    assert "id" not in reply  # a refused id is never echoed
    assert core.state.mode is Mode.IDLE and core.store.head()[0] == 0


def test_good_values_still_pass(core: Core) -> None:
    replies = _send(
        core, _away(return_at="2026-11-26T10:30:00+08:00", id=7),
        '{"op":"back","id":-3}',
        '{"op":"case_start","case_no":"C-1","service":"hukou.birth","id":"c"}')
    assert [(r["ok"], r["id"]) for r in replies] == [(True, 7), (True, -3), (True, "c")]
    assert core.clock() == T0 and core.state.service == "hukou.birth"


# ------------------------------------------------------------------ item 10: resident IDs

@pytest.mark.parametrize("line", [
    json.dumps({"op": "sign_in", "badge": RESIDENT_ID}),
    json.dumps({"op": "case_start", "case_no": RESIDENT_ID, "service": "id_card.renew"}),
    json.dumps({"op": "case_start", "case_no": RESIDENT_ID.lower(), "service": "id_card.renew"}),
    json.dumps({"op": "case_end", "case_no": RESIDENT_ID}),
    _away(reason=RESIDENT_ID), _away(phone=RESIDENT_ID), _away(backup=RESIDENT_ID),
    _away(id=RESIDENT_ID),
])
def test_resident_id_shaped_values_are_refused_outside_mirror_fields(core: Core,
                                                                     line: str) -> None:
    (reply,) = _send(core, line)
    assert reply["ok"] is False and "looks like a resident ID number" in reply["error"]
    assert RESIDENT_ID not in json.dumps(reply)  # not echoed back either
    events, state = db_rows(core.config.db_path)
    assert RESIDENT_ID not in repr(events) + repr(state)


def test_resident_id_in_a_mirror_field_key_or_label_is_refused_in_its_value_kept(
        core: Core) -> None:
    field = {"op": "field", "key": "id_number", "label": "公民身份号码", "value": RESIDENT_ID}
    replies = _send(core, '{"op":"call_next"}', json.dumps({**field, "key": RESIDENT_ID}),
                    json.dumps({**field, "label": RESIDENT_ID}), json.dumps(field))
    assert [r["ok"] for r in replies] == [True, False, False, True]
    assert "'key'" in replies[1]["error"] and "'label'" in replies[2]["error"]
    assert [m.value for m in core.state.mirror] == [RESIDENT_ID]  # in memory only


# ------------------------------------------------------------------ the control socket

@pytest.fixture(scope="module")
def idle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskApp]:
    cfg = Config().with_state_dir(tmp_path_factory.mktemp("idle") / "state").simulated()
    with running_kiosk(cfg) as a:
        yield a


def _raw(app: KioskApp, payload: bytes) -> list[dict]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(app.config.control_socket))
        f = s.makefile("rwb")
        f.write(payload)
        f.flush()
        return [json.loads(f.readline()) for _ in range(payload.count(b"\n"))]


@pytest.mark.parametrize(("request_line", "needle"), [
    (rb'{"cmd":"press","button":"\udcff"}', "field 'button' is not valid Unicode"),
    (rb'{"cmd":"ping","x":["\udcff"]}', "field 'x[0]' is not valid Unicode"),
    (rb'{"cmd":"link","line":"{}","\udc80":1}', "is not valid Unicode"),
    (rb'{"cmd":"scan","code":"\ud83d"}', "field 'code' is not valid Unicode"),
    (rb'{"cmd":"printer","last":Infinity}', "Infinity is not a JSON value"),
    (b'{"cmd":"ping","a":' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper"),
    (b'{"cmd":"ping","a":' + b"9" * 5000 + b"}", "request is not JSON"),
])
def test_control_requests_with_bad_text_are_refused_and_the_socket_stays_in_step(
        idle: KioskApp, request_line: bytes, needle: str) -> None:
    before = db_rows(idle.config.db_path)
    replies = _raw(idle, request_line + b'\n{"cmd":"ping"}\n')
    assert replies[0]["ok"] is False and needle in replies[0]["error"], replies
    assert replies[1] == {"ok": True}
    assert db_rows(idle.config.db_path) == before


# ------------------------------------------------------------------ the scanner

@pytest.mark.parametrize("code", [
    "CK1|demo-site|2026\x1b1001|20261126|F", "CK1|demo-site|20261001\u200b|20261126|F",
    "https://example.com/\x07",
])
def test_scans_with_control_or_invisible_characters_are_refused(idle: KioskApp,
                                                                code: str) -> None:
    with ControlClient(idle.config.control_socket) as c:
        reply = c.request({"cmd": "scan", "code": code})["reply"]
    assert reply["ok"] is False and reply["screen"] == MSG_UNKNOWN
    assert "field 'scan'" in reply["error"]


def test_a_scan_whose_code_is_a_resident_id_is_refused() -> None:
    from drivers.scanner import ScanError, parse_scan

    with pytest.raises(ScanError, match="looks like a resident ID number") as info:
        parse_scan(make_payload("demo-site", RESIDENT_ID, "20261126").encode())
    assert info.value.screen == MSG_UNKNOWN and RESIDENT_ID not in str(info.value)


def test_a_good_scan_still_reads(idle: KioskApp) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d")
    with ControlClient(idle.config.control_socket) as c:
        reply = c.request({"cmd": "scan", "code": make_payload("demo-site", "20261001",
                                                               today)})["reply"]
    assert reply.get("code") == "20261001", reply
