"""The officer panel's parts without a browser: PIN hashes (the same as HQ's Django
makes), the one-officer desk, the PIN throttle, the forms as link requests, the roster
in force."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device import pins
from device.config import Config, PanelSection
from device.errors import ParseError
from device.roster import officers
from drivers import probes
from drivers.link import parse_message
from drivers.panel.forms import parse_body, to_message
from drivers.panel.sessions import Busy, Desk, Throttle
from tests.conftest import FakeClock

FAST = pins.MIN_ITERATIONS


def test_a_pin_hash_made_by_djangos_hasher_is_checked_here():
    # In a process of its own: Django's settings are configured once per process, and
    # the HQ tests configure them their way.
    ours = pins.make("482916", iterations=FAST)
    script = (
        "import sys\nfrom django.conf import settings\nsettings.configure()\n"
        "from django.contrib.auth.hashers import PBKDF2PasswordHasher as H\n"
        f"print(H().encode('482916', 'a1b2c3d4e5f6', iterations={FAST}))\n"
        f"print(H().verify('482916', {ours!r}), H().verify('482917', {ours!r}))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert pins.parse(out[0]).matches("482916")
    assert not pins.parse(out[0]).matches("482917")
    assert out[1] == "True False"  # ... and Django accepts ours


@pytest.mark.parametrize("text, words", [
    ("482916", "not a PIN hash"),
    ("pbkdf2_sha256$100$salt$" + "A" * 44, "100 iterations"),
    ("pbkdf2_sha256$20000$salt$" + "A" * 40, "not 32"),
    ("md5$20000$salt$" + "A" * 44, "not a PIN hash"),
])
def test_a_bad_pin_hash_is_refused_naming_the_fix(text, words):
    with pytest.raises(ParseError, match=words) as info:
        pins.parse(text)
    assert "kiosk hash-pin" in str(info.value)


def test_the_desk_holds_one_officer_until_sign_out_or_idle_time():
    clock = FakeClock()
    desk = Desk(idle_s=600, clock=clock)
    a = desk.open("000001", "李明")
    with pytest.raises(Busy) as info:
        desk.open("000002", "王芳")
    assert info.value.session.badge == "000001"
    assert desk.get(a.token) is a and desk.get("forged") is None and desk.get(None) is None
    again = desk.open("000001", "李明")  # the same officer from a second PC: a new session
    assert desk.get(a.token) is None and desk.get(again.token) is again
    clock.advance(599)
    assert desk.get(again.token) is again  # a request keeps it alive ...
    clock.advance(601)
    assert desk.get(again.token) is None  # ... idle for longer, it ends
    b = desk.open("000002", "王芳")
    assert desk.close(b.token) is b and desk.current() is None


def test_the_throttle_locks_after_max_failures_and_opens_after_lockout():
    clock = FakeClock()
    t = Throttle(max_failures=3, lockout_s=300, clock=clock)
    keys = ["badge:000001", "client:192.168.50.30"]
    for _ in range(2):
        t.failed(keys)
    assert t.wait(keys) == 0
    t.failed(keys)
    assert t.wait(keys) == 300 and t.wait(["client:192.168.50.30"]) == 300
    assert t.wait(["badge:000002"]) == 0
    clock.advance(299)
    assert t.wait(keys) == pytest.approx(1)
    clock.advance(2)
    assert t.wait(keys) == 0
    t.failed(keys)  # a new round: one failure is not a lock
    assert t.wait(keys) == 0
    t.succeeded(keys)
    t.failed(keys)
    t.failed(keys)
    assert t.wait(keys) == 0  # the success cleared the count


def test_failures_spread_over_more_than_the_lockout_do_not_add_up():
    clock = FakeClock()
    t = Throttle(max_failures=3, lockout_s=300, clock=clock)
    for _ in range(6):
        t.failed(["badge:1"])
        clock.advance(200)
        t.failed(["badge:1"])
        clock.advance(200)
    assert t.wait(["badge:1"]) == 0


def test_the_throttle_keeps_a_bounded_number_of_entries():
    t = Throttle(max_failures=3, lockout_s=300, clock=FakeClock())
    for i in range(5000):
        t.failed([f"client:10.0.{i // 256}.{i % 256}"])
    assert len(t._counts) <= 1000


@pytest.mark.parametrize("body, msg", [
    (b"op=call_next&csrf=t", {"op": "call_next"}),
    (b"op=notice&material=2&material=4&remarks=%E5%A4%8D%E5%8D%B0&deadline=",
     {"op": "notice", "materials": [2, 4], "remarks": "复印"}),
    (b"op=refusal&refusal=1&reason=x&basis=y", {"op": "refusal", "refusal": 1}),
    (b"op=refusal&refusal=other&reason=x&basis=y", {"op": "refusal", "reason": "x", "basis": "y"}),
    (b"op=transfer&number=A007&service=hukou.birth", {"op": "transfer", "number": "A007",
                                                      "service": "hukou.birth"}),
    (b"op=transfer&number=A007&window=3", {"op": "transfer", "number": "A007", "window": 3}),
    (b"op=away&reason=%E5%B0%B1%E9%A4%90&return_at=12:30&backup=&backup_window=2",
     {"op": "away", "reason": "就餐", "return_at": "12:30", "backup": "window 2"}),
    (b"op=intake&material=1&material=3&remarks=", {"op": "intake", "materials": [1, 3]}),
    (b"op=home_visit&date=2026-12-07&slot_from=09:00&slot_to=10:30&need=elderly",
     {"op": "home_visit", "date": "2026-12-07", "need": "elderly", "slot": "09:00-10:30"}),
    (b"op=case_start&case_no=&service=hukou.birth",
     {"op": "case_start", "case_no": "", "service": "hukou.birth"}),
])
def test_a_form_is_the_link_request_it_stands_for(body, msg):
    assert to_message(parse_body(body)) == msg


def test_an_empty_required_field_reaches_the_links_own_error():
    msg = to_message(parse_body(b"op=case_start&case_no=&service=hukou.birth"))
    with pytest.raises(ParseError, match="case_no"):
        parse_message(msg)


@pytest.mark.parametrize("body, words", [
    (b"op=sign_in&badge=1", "unknown op"),
    (b"op=call&op=recall", "sent 2 times"),
    (b"op=notice&material=x", "material must be a number"),
    (b"op=transfer&number=A007", "a service or a window"),
    (b"op=call&number=%FF", "not valid URL-encoded UTF-8"),
    (b"x" * 17000, "larger than"),
])
def test_a_form_it_cannot_be_is_refused_naming_the_field(body, words):
    with pytest.raises(ParseError, match=words):
        to_message(parse_body(body))


@given(st.binary(max_size=300))
def test_any_body_is_a_request_or_a_parse_error(body):
    try:
        msg = to_message(parse_body(body))
    except ParseError:
        return
    with contextlib.suppress(ParseError):
        parse_message(msg)


def test_the_roster_in_force_is_hqs_once_it_sent_one(store):
    cfg = Config()
    assert {b: o.pin for b, o in officers(cfg, store).items()} == {"000001": None,
                                                                   "000002": None}
    stored = pins.make("135790", iterations=FAST)
    store.put_site_content("roster", "r9", json.dumps({"version": "r9", "officers": [
        {"badge": "000007", "name": "赵强", "pin_hash": stored},
        {"badge": "000008", "name": "钱云"}]}), "2026-12-01T00:00:00Z")
    roster = officers(cfg, store)
    assert sorted(roster) == ["000007", "000008"]
    assert roster["000007"].pin is not None and roster["000007"].pin.matches("135790")
    assert roster["000008"].pin is None  # no PIN: cannot sign in at the panel


def test_the_doctor_names_a_panel_address_that_is_not_this_machines():
    roster = Config().roster
    status, detail, fix = probes.panel(PanelSection(enabled=True, listen="192.0.2.1:8080"),
                                       roster)
    assert status == "FAIL" and "192.0.2.1 is not an address of this machine" in detail
    assert "panel.listen" in fix
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status, detail, fix = probes.panel(
            PanelSection(enabled=True, listen=f"127.0.0.1:{port}"), roster)
        assert status == "FAIL" and "ss -ltnp" in fix
    status, detail, fix = probes.panel(PanelSection(enabled=True, listen="127.0.0.1:0"),
                                       roster)
    assert status == "WARN" and "no [[roster]] officer has a pin_hash" in detail
    with_pin = (dataclasses.replace(roster[0], pin_hash=pins.make("1234", iterations=FAST)),)
    assert probes.panel(PanelSection(enabled=True, listen="127.0.0.1:0"), with_pin)[0] == "PASS"
    assert probes.panel(PanelSection(), roster)[0] == "PASS"  # off
