"""The workstation link's real backends: JSON lines over a pty (USB CDC) and a real TCP
socket on 127.0.0.1, line and rate limits, garbage, unplug/replug, the sample client."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.config import Config, LinkSection
from device.core import Core
from device.counter import Mode
from device.errors import DriverError
from device.events import EventType
from device.intents import Press
from drivers import registry
from drivers.link import (
    LineSplitter,
    LinkSession,
    RateLimiter,
    SerialLink,
    TcpLink,
    TooLong,
    parse_tcp_url,
)
from tests.conftest import FakeClock
from tests.serial_helpers import FakeDevice, Pty, Replug, Watcher

ROOT = Path(__file__).resolve().parent.parent


def _lines(data: bytes) -> list[dict]:
    return [json.loads(x) for x in data.splitlines()]


def _cfg(**kw: object) -> LinkSection:
    return dataclasses.replace(LinkSection(), **kw)


# ----------------------------------------------------------------- framing and limits


def test_splitter_joins_chunks_and_bounds_memory() -> None:
    s = LineSplitter(16)
    assert s.feed(b'{"op":') == []
    assert s.feed(b'"back"}\n{"op"') == [b'{"op":"back"}']
    assert s.feed(b':"x"}\n') == [b'{"op":"x"}']
    # A line over the limit: one TooLong as soon as it goes over, the rest dropped up to
    # the newline, and never more than the limit held in memory.
    out = []
    for _ in range(1000):
        out += s.feed(b"x" * 1000)
        assert len(s._buf) <= 16
    out += s.feed(b"tail\nok\n")
    assert len(out) == 2 and isinstance(out[0], TooLong) and out[1] == b"ok"
    # Exactly at the limit is fine; one more byte is not.
    assert LineSplitter(4).feed(b"abcd\nabcde\n")[0] == b"abcd"
    assert isinstance(LineSplitter(4).feed(b"abcde\n")[0], TooLong)


def test_rate_limiter_token_bucket() -> None:
    clock = FakeClock(0.0)
    r = RateLimiter(5, clock)
    assert [r.allow() for _ in range(6)] == [True] * 5 + [False]
    clock.advance(0.2)  # one token back
    assert [r.allow(), r.allow()] == [True, False]
    clock.advance(10)  # never more than a burst of 5
    assert sum(r.allow() for _ in range(10)) == 5


def test_session_rate_error_applies_nothing(core: Core) -> None:
    clock = FakeClock(0.0)
    session = LinkSession(core, _cfg(max_lines_per_s=2), clock)
    head = core.store.head()[0]
    burst = b'{"op":"away","reason":"r","return_at":"10:00"}\n{"op":"back"}\n'
    burst += b'{"op":"sign_out","id":7}\n'
    replies = _lines(session.process(burst))
    assert [r["ok"] for r in replies] == [True, True, False]
    assert "too many lines" in replies[2]["error"]
    assert core.state.officer == "000001"  # the sign_out was not applied
    assert core.store.head()[0] == head + 2  # away.started, away.ended only
    clock.advance(1.0)
    assert _lines(session.process(b'{"op":"sign_out","id":7}\n')) == [
        {"ok": True, "state": "idle", "id": 7, "seq": [head + 3]}]


def test_session_garbage_changes_nothing(core: Core) -> None:
    session = LinkSession(core, _cfg(max_line_bytes=64))
    before = (core.state, core.store.head())
    garbage = [b"\xff\xfe\x00garbage", b"not json", b"[1,2]", b'{"op":"launch"}',
               b'{"op":"case_start","case_no":5}', b'{"op":"sign_in"}',
               b'{"op":"field","key":"k","label":"l","value":"v","sensitive":"yes"}',
               b"[" * 60, b'{"op":"back","id":[1]}', b"x" * 500]
    replies = _lines(session.process(b"\n".join(garbage) + b"\n\r\n\n"))
    assert len(replies) == len(garbage)  # one reply per line; empty lines get none
    assert all(r["ok"] is False and r["error"] for r in replies)
    assert "not UTF-8" in replies[0]["error"] and "longer than 64" in replies[-1]["error"]
    assert (core.state, core.store.head()) == before


# ----------------------------------------------------------------- serial (pty)


@pytest.fixture
def serial_link(core: Core, config: Config) -> Iterator[tuple[SerialLink, Pty]]:
    pty = Pty()
    link = registry.link(dataclasses.replace(config.link, url=pty.path, retry_s=0.05))
    link.start(core)
    assert link.connected.wait(5)
    yield link, pty
    link.close()
    pty.close()


def _ask(pty: Pty, msg: dict | bytes) -> dict:
    line = msg if isinstance(msg, bytes) else json.dumps(msg, ensure_ascii=False).encode()
    pty.write(line + b"\n")
    return json.loads(pty.read_until(b"\n"))


def test_every_op_over_serial(core: Core, serial_link) -> None:
    _, pty = serial_link
    r = _ask(pty, {"op": "sign_in", "badge": "000002", "id": "a1"})
    assert r["ok"] and r["id"] == "a1" and core.state.officer == "000002"
    assert _ask(pty, {"op": "case_start", "case_no": "C-7", "service": "hukou.birth"})[
        "state"] == "serving"
    r = _ask(pty, {"op": "field", "key": "name", "label": "姓名", "value": "张三"})
    assert r == {"ok": True, "state": "serving"}
    assert [(m.key, m.value) for m in core.state.mirror] == [("name", "张三")]
    assert _ask(pty, {"op": "case_end", "case_no": "C-7"})["state"] == "rating"
    r = _ask(pty, {"op": "call_next"})
    assert r["ok"] is False and "rating" in r["error"]
    assert _ask(pty, {"op": "case_start", "case_no": "C-8", "service": "id_card.renew"})["ok"]
    assert _ask(pty, {"op": "case_end"})["ok"]
    core.submit(Press("basic"))  # the citizen rates on the pad
    assert _ask(pty, {"op": "call_next"})["state"] == "serving"
    assert _ask(pty, {"op": "case_end"})["ok"]
    core.submit(Press("satisfied"))
    r = _ask(pty, {"op": "away", "reason": "开会", "return_at": "10:30", "backup": "2号窗口"})
    assert r["state"] == "away" and core.state.away and core.state.away.reason == "开会"
    assert _ask(pty, {"op": "back"})["state"] == "idle"
    assert _ask(pty, {"op": "sign_out"})["ok"] and core.state.officer == ""


def test_serial_garbage_then_a_good_line(core: Core, serial_link) -> None:
    _, pty = serial_link
    head = core.store.head()
    pty.write(os.urandom(3000).replace(b"\n", b"") + b"\n")  # binary noise
    pty.write(b"z" * 10000 + b"\n")  # over link.max_line_bytes
    pty.write(b'{"op":"back"}\n')  # valid, but refused (not away)
    out = b""
    while out.count(b"\n") < 3:
        out += pty.read_until(b"\n")
    replies = _lines(out)
    assert [r["ok"] for r in replies] == [False, False, False]
    assert "longer than 4096" in replies[1]["error"]
    assert replies[2]["error"] == "the counter is not away"
    assert core.store.head() == head and core.state.mode is Mode.IDLE
    assert _ask(pty, {"op": "away", "reason": "r", "return_at": "10:00"})["ok"]


def test_serial_link_unplug_and_replug(core: Core, config: Config, tmp_path) -> None:
    watcher = Watcher(core)
    port = Replug(tmp_path)
    link = registry.link(dataclasses.replace(config.link, url=port.url, retry_s=0.05))
    link.start(core)
    try:
        assert link.connected.wait(5)
        assert _ask(port.pty, {"op": "away", "reason": "r", "return_at": "10:00"})["ok"]
        port.unplug()
        watcher.wait(lambda: core.faults.get("link") == "gone")
        pty = port.plug()
        watcher.wait(lambda: EventType.DEVICE_RECOVERED in watcher.event_types())
        assert link.connected.wait(5)
        assert _ask(pty, {"op": "back"})["state"] == "idle"
    finally:
        link.close()
        port.pty.close()


# ----------------------------------------------------------------- TCP


@pytest.fixture
def tcp_link(core: Core, config: Config) -> Iterator[TcpLink]:
    link = TcpLink(dataclasses.replace(config.link, url="tcp://127.0.0.1:0"))
    link.start(core)
    yield link
    link.close()


def _connect(link: TcpLink) -> socket.socket:
    s = socket.create_connection(link.address, timeout=5)
    return s


def _tcp_ask(f, msg: dict | bytes) -> dict:
    line = msg if isinstance(msg, bytes) else json.dumps(msg).encode()
    f.write(line + b"\n")
    f.flush()
    return json.loads(f.readline())


def test_tcp_lines_and_replies(core: Core, tcp_link: TcpLink) -> None:
    with _connect(tcp_link) as s, s.makefile("rwb") as f:
        assert _tcp_ask(f, {"op": "sign_in", "badge": "000002", "id": 1})["id"] == 1
        assert _tcp_ask(f, b"\x00\x01garbage")["ok"] is False
        r = _tcp_ask(f, {"op": "case_start", "case_no": "T-1", "service": "id_card.lost"})
        assert r["ok"] and core.state.case_no == "T-1"
        # Several lines in one segment: one reply each, in order.
        f.write(b'{"op":"field","key":"a","label":"A","value":"1","id":1}\n'
                b'{"op":"field","key":"b","label":"B","value":"2","id":2}\n')
        f.flush()
        assert [json.loads(f.readline())["id"] for _ in range(2)] == [1, 2]
        assert [m.key for m in core.state.mirror] == ["a", "b"]


def test_tcp_one_workstation_at_a_time(core: Core, tcp_link: TcpLink) -> None:
    first = _connect(tcp_link)
    f1 = first.makefile("rwb")
    assert _tcp_ask(f1, {"op": "away", "reason": "r", "return_at": "10:00"})["ok"]
    second = _connect(tcp_link)
    f2 = second.makefile("rwb")
    assert _tcp_ask(f2, {"op": "back"})["ok"]  # the new connection is served...
    assert f1.readline() == b""  # ...and the old one was closed
    assert tcp_link.connections == 2
    for f, s in ((f1, first), (f2, second)):
        f.close()
        s.close()


def test_tcp_line_too_long_is_answered_and_dropped(core: Core, config: Config) -> None:
    link = TcpLink(dataclasses.replace(config.link, url="tcp://127.0.0.1:0",
                                       max_line_bytes=256))
    link.start(core)
    try:
        with _connect(link) as s, s.makefile("rwb") as f:
            f.write(b"{" + b" " * 100_000 + b"}\n")
            f.flush()
            r = json.loads(f.readline())
            assert r["ok"] is False and "longer than 256" in r["error"]
            assert _tcp_ask(f, {"op": "sign_out"})["ok"]
    finally:
        link.close()


def test_tcp_url_is_checked() -> None:
    assert parse_tcp_url("tcp://0.0.0.0:7301") == ("0.0.0.0", 7301)
    assert parse_tcp_url("tcp://[::1]:7301") == ("::1", 7301)
    for bad in ("tcp://host", "tcp://:7301", "tcp://h:99999", "udp://h:1"):
        with pytest.raises(DriverError, match="tcp://HOST:PORT"):
            parse_tcp_url(bad)


def test_sample_client_runs_every_op(core: Core, tcp_link: TcpLink) -> None:
    host, port = tcp_link.address
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "workstation_client.py"),
         f"tcp://{host}:{port}", "--demo", '{"op":"nonsense"}'],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr  # the last line is refused on purpose
    replies = [json.loads(x[3:]) for x in done.stdout.splitlines() if x.startswith("<< ")]
    assert [r["ok"] for r in replies] == [True] * 13 + [False]
    assert "unknown op" in replies[-1]["error"]
    assert core.state.mode is Mode.RATING and core.state.case_no == "SZ-20261126-0002"


def test_sample_client_over_serial(core: Core) -> None:
    """The client's stdlib serial path on a real tty: the test plays the counter on the
    pty master with the same LinkSession the serial driver runs."""
    pty = Pty()
    fake = FakeDevice(pty, LinkSession(core, LinkSection()).process)
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "workstation_client.py"), pty.path,
             '{"op":"sign_in","badge":"000002"}'],
            capture_output=True, text=True, timeout=60)
    finally:
        fake.stop()
        pty.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert '<< {"ok": true, "state": "idle", "seq": [' in done.stdout
    assert core.state.officer == "000002"


def test_refused_lines_carry_their_id(core: Core) -> None:
    session = LinkSession(core, LinkSection())
    replies = _lines(session.process(
        b'{"op":"launch","id":15}\n{"op":"sign_in","badge":"","id":"b"}\n'
        b'{"op":"field","key":"","label":"l","value":"v","id":3}\n{"id":4}\n'
        b'{"op":"back","id":5}\n'))
    assert [(r["ok"], r.get("id")) for r in replies] == [
        (False, 15), (False, "b"), (False, 3), (False, 4), (False, 5)]
    assert "letters or digits" in replies[1]["error"]
    assert core.state.officer == "000001"


@pytest.mark.parametrize(("url", "kind"), [
    ("sim://", "SimLink"), ("tcp://127.0.0.1:7301", "TcpLink"), ("/dev/ttyACM0", "SerialLink"),
    ("socket://127.0.0.1:7302", "SerialLink")])
def test_registry_picks_the_link_backend(config: Config, url: str, kind: str) -> None:
    cfg = dataclasses.replace(config, link=dataclasses.replace(config.link, url=url))
    names = [type(d).__name__ for d in registry.build(cfg)]
    assert kind in names and "SignDriver" in names and "ScannerDriver" in names
    # Building opens nothing: no port, no socket (that happens in start()).
    assert not any(getattr(getattr(d, "port", None), "is_open", False)
                   for d in registry.build(cfg))


def test_bad_tcp_url_is_a_driver_fault_at_start(core: Core, config: Config) -> None:
    link = TcpLink(dataclasses.replace(config.link, url="tcp://nowhere"))
    with pytest.raises(DriverError, match="tcp://HOST:PORT"):
        link.start(core)
