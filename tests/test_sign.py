"""The DWIN DGUS away sign: frames byte for byte, the decoder, the view of every counter
state, and the driver against a fake DWIN on a real pty (with and without CRC), a
missing OK, and an unplug/replug of the USB adapter."""

from __future__ import annotations

import dataclasses
import itertools
import threading

import pytest

from device.config import Config
from device.core import Core
from device.counter import Mode
from device.errors import ParseError
from device.events import EventType
from device.intents import AwaySet, CaseEnd, CaseStart, Press, SignIn, SignOut
from drivers import registry
from drivers.sign import SignDriver
from drivers.sign.codec import (
    VARS_BY_NAME,
    Ack,
    Frame,
    FrameReader,
    Page,
    ReadReply,
    crc16_modbus,
    decode_frame,
    decode_text,
    encode_text,
    ok_frame,
    page_frame,
    parse_reply,
    read_frame,
    write_frame,
)
from drivers.sign.emulator import SignEmulator
from drivers.sign.view import view_for
from tests.serial_helpers import FakeDevice, Pty, Replug, Watcher

# ----------------------------------------------------------------- frames


def test_crc16_modbus_check_value() -> None:
    # The catalogue check value of CRC-16/MODBUS.
    assert crc16_modbus(b"123456789") == 0x4B37


def test_ok_reply_bytes_with_and_without_crc() -> None:
    assert ok_frame(False) == bytes.fromhex("5A A5 03 82 4F 4B")
    # The reply DWIN's manual shows for a CRC-enabled project.
    assert ok_frame(True) == bytes.fromhex("5A A5 05 82 4F 4B A5 EF")


def test_write_frame_bytes() -> None:
    assert write_frame(0x1000, b"\x00\x01") == bytes.fromhex("5A A5 05 82 10 00 00 01")
    body = bytes.fromhex("82 10 00 00 01")
    c = crc16_modbus(body)
    assert write_frame(0x1000, b"\x00\x01", crc=True) == (
        bytes.fromhex("5A A5 07") + body + bytes((c & 0xFF, c >> 8)))
    assert read_frame(0x1040, 2) == bytes.fromhex("5A A5 04 83 10 40 02")


def test_page_switch_goes_through_system_register_0084() -> None:
    assert page_frame(Page.AWAY) == bytes.fromhex("5A A5 07 82 00 84 5A 01 00 03")


def test_text_is_gbk_terminated_and_padded_with_ff() -> None:
    data = encode_text("暂时离开", 20)
    assert data == "暂时离开".encode("gbk") + b"\xff" * 12
    assert decode_text(data) == "暂时离开"
    # Cut on a character boundary, never half a character; FF FF always ends it.
    cut = encode_text("一二三四五六七八九十", 10)
    assert cut == "一二三四".encode("gbk") + b"\xff\xff"
    assert encode_text("", 4) == b"\xff" * 4
    # What GBK cannot carry becomes "?" rather than breaking the frame.
    assert decode_text(encode_text("A😀B", 8)) == "A?B"


@pytest.mark.parametrize("crc", [False, True])
def test_decode_frame_round_trip(crc: bool) -> None:
    data = encode_text("正在办理", 20)
    assert decode_frame(write_frame(0x1040, data, crc), crc) == Frame(0x82, 0x1040, data=data)
    assert decode_frame(read_frame(0x1040, 3, crc), crc) == Frame(0x83, 0x1040, words=3)


@pytest.mark.parametrize("crc", [False, True])
def test_parse_reply(crc: bool) -> None:
    assert parse_reply(ok_frame(crc), crc) == Ack()
    emu = SignEmulator(crc)
    emu.feed(write_frame(0x1040, b"\x12\x34\x56\x78", crc))
    reply = emu.feed(read_frame(0x1040, 2, crc))
    assert parse_reply(reply, crc) == ReadReply(0x1040, 2, b"\x12\x34\x56\x78")


@pytest.mark.parametrize(("raw", "crc", "words"), [
    (b"", False, "too short"),
    (bytes.fromhex("5A A6 03 82 4F 4B"), False, "5A A5"),
    (bytes.fromhex("5A A5 04 82 4F 4B"), False, "length"),
    (bytes.fromhex("5A A5 03 82 4E 4B"), False, "not OK"),
    (bytes.fromhex("5A A5 05 82 4F 4B A5 EE"), True, "CRC"),
    (bytes.fromhex("5A A5 03 84 4F 4B"), False, "neither"),
    (bytes.fromhex("5A A5 05 83 10 00 02 00"), False, "words"),
    (ok_frame(True), False, "not OK"),  # CRC bytes read as data when CRC is off
])
def test_parse_reply_rejects_garbage(raw: bytes, crc: bool, words: str) -> None:
    with pytest.raises(ParseError, match=words):
        parse_reply(raw, crc)


def test_decode_frame_rejects_garbage() -> None:
    with pytest.raises(ParseError, match="no data"):
        decode_frame(bytes.fromhex("5A A5 03 82 10 00"), False)
    with pytest.raises(ParseError, match="length byte"):
        decode_frame(bytes.fromhex("5A A5 05 83 10 00 00 00"), False)
    with pytest.raises(ParseError, match="no VP"):
        decode_frame(bytes.fromhex("5A A5 02 82 10"), False)
    # Found by atheris: a read whose reply cannot fit one frame (the emulator raised).
    with pytest.raises(ParseError, match="1-124 words"):
        decode_frame(read_frame(0x1040, 0x7D, True), True)
    emu = SignEmulator(True)
    assert parse_reply(emu.feed(read_frame(0x1040, 0x7C, True)), True) == ReadReply(
        0x1040, 0x7C, b"\x00" * 0xF8)


def test_frame_reader_skips_garbage_and_joins_split_frames() -> None:
    reader = FrameReader()
    stream = b"\x00\x5a\xff" + ok_frame() + b"junk" + write_frame(0x1000, b"\x01\x02")
    frames: list[bytes] = []
    for i in range(len(stream)):  # one byte at a time: the worst split
        frames += reader.feed(stream[i:i + 1])
    assert frames == [ok_frame(), write_frame(0x1000, b"\x01\x02")]
    assert reader.skipped == 3 + 4


# ----------------------------------------------------------------- what it shows


def test_view_of_every_counter_state(core: Core, config: Config, clock) -> None:
    s = core.state
    v = view_for(s, config, now=clock())
    assert v.page == Page.OPEN and v.text("status") == "欢迎办理"
    assert v.text("window") == "1号窗口 户籍业务窗口"
    assert v.text("officer") == "李明 警号000001"

    core.submit(CaseStart("C-1", "id_card.renew"))
    v = view_for(core.state, config, "A012", now=clock())
    assert (v.page, v.text("status"), v.text("ticket")) == (Page.SERVING, "正在办理", "A012")

    core.submit(CaseEnd())
    assert view_for(core.state, config, now=clock()).text("status") == "请评价"
    core.submit(Press("satisfied"))
    core.submit(AwaySet("开会", "10:30", "0755-8000 0009", "000002; window 2"))
    v = view_for(core.state, config, now=clock())
    assert v.page == Page.AWAY
    assert dict(v.texts) | {"window": "", "officer": ""} == {
        "window": "", "officer": "", "status": "暂时离开", "ticket": "", "reason": "开会",
        "return_at": "10:30", "phone": "0755-8000 0009", "backup": "王芳 警号000002，2号窗口"}

    core.submit(Press("away"))
    core.submit(SignOut())
    v = view_for(core.state, config, now=clock())
    assert (v.page, v.text("status"), v.text("officer")) == (Page.CLOSED, "暂停服务", "")


def test_every_field_fits_its_vp_slot() -> None:
    # Fields must not overlap in the display's VP memory (0x40 words apart).
    slots = sorted((v.vp, v.size) for v in VARS_BY_NAME.values())
    for (vp, size), (nxt, _) in itertools.pairwise(slots):
        assert vp + size // 2 <= nxt and size % 2 == 0


# ----------------------------------------------------------------- the driver


def _cfg(config: Config, url: str, crc: bool = False, **kw: object) -> Config:
    sign = dataclasses.replace(config.sign, url=url, crc=crc, reply_timeout_s=0.2,
                               retry_s=0.05, **kw)
    return dataclasses.replace(config, sign=sign)


@pytest.fixture
def drivers() -> list[SignDriver]:
    started: list[SignDriver] = []
    yield started
    for d in started:
        d.close()


def test_sim_sign_follows_the_counter(core: Core, desk, config: Config, drivers) -> None:
    driver = registry.sign(config)
    drivers.append(driver)
    driver.start(core)
    emu = driver.sim.emulator if driver.sim else None
    assert emu is not None and driver.wait_idle(5)
    assert (emu.page, emu.text("status")) == (Page.OPEN, "欢迎办理")

    # A called ticket shows on the serving page; the case end clears it.
    desk.issue_ticket("id_card.renew")
    core.submit(Press("next"))
    assert driver.wait_idle(5)
    assert (emu.page, emu.text("status"), emu.text("ticket")) == (Page.SERVING, "正在办理", "A001")

    core.submit(CaseEnd())
    core.submit(Press("satisfied"))
    core.submit(Press("away"))
    assert driver.wait_idle(5)
    assert emu.page == Page.AWAY
    assert emu.texts()["reason"] == "临时离开" and emu.texts()["ticket"] == ""
    assert emu.text("backup") == "王芳 警号000002"  # embedded default: no backup window

    reply = driver.control_commands()["sign"]({})
    assert reply["page_name"] == "away" and reply["text"]["status"] == "暂时离开"


@pytest.mark.parametrize("crc", [False, True])
def test_driver_over_a_pty_with_a_fake_dwin(core: Core, config: Config, drivers,
                                           crc: bool) -> None:
    pty = Pty()
    emu = SignEmulator(crc)
    fake = FakeDevice(pty, emu.feed)
    driver = registry.sign(_cfg(config, pty.path, crc))
    drivers.append(driver)
    driver.start(core)
    assert driver.wait_idle(5)
    assert emu.errors == []  # every frame decoded (CRC and length right)
    assert emu.page == Page.OPEN and emu.text("officer") == "李明 警号000001"
    sent = len(emu.frames)
    assert sent == len(VARS_BY_NAME) + 1  # every variable, then the page

    core.submit(SignIn("000002"))
    assert driver.wait_idle(5)
    assert emu.text("officer") == "王芳 警号000002"
    # Only what changed is sent again.
    assert [f.vp for f in emu.frames[sent:]] == [VARS_BY_NAME["officer"].vp]
    fake.stop()
    pty.close()


def test_missing_ok_is_retried(core: Core, config: Config, drivers) -> None:
    pty = Pty()
    emu = SignEmulator()
    emu.set_mute(1)  # the first write gets no answer
    fake = FakeDevice(pty, emu.feed)
    driver = registry.sign(_cfg(config, pty.path, retries=2))
    drivers.append(driver)
    driver.start(core)
    assert driver.wait_idle(5)
    # The first frame was sent twice (no OK, then OK); nothing else was repeated.
    vps = [f.vp for f in emu.frames]
    assert vps[0] == vps[1] == VARS_BY_NAME["window"].vp
    assert len(vps) == len(VARS_BY_NAME) + 2
    assert "sign" not in core.faults
    fake.stop()
    pty.close()


def test_silent_sign_raises_a_fault_and_recovers(core: Core, config: Config, drivers) -> None:
    watcher = Watcher(core)
    pty = Pty()
    emu = SignEmulator()
    emu.set_mute(10**9)
    fake = FakeDevice(pty, emu.feed)
    driver = registry.sign(_cfg(config, pty.path, retries=1))
    drivers.append(driver)
    driver.start(core)
    watcher.wait(lambda: core.faults.get("sign") == "no_reply")
    emu.set_mute(0)  # the sign answers again
    assert driver.wait_idle(5)
    watcher.wait(lambda: EventType.DEVICE_RECOVERED in watcher.event_types())
    types = watcher.event_types()
    assert types.count(EventType.DEVICE_FAULT) == 1  # once, not once per retry
    assert EventType.DEVICE_RECOVERED in types
    assert emu.page == Page.OPEN and emu.text("status") == "欢迎办理"
    fake.stop()
    pty.close()


def test_unplug_and_replug_resends_the_current_state(core: Core, config: Config, drivers,
                                                     tmp_path) -> None:
    watcher = Watcher(core)
    port = Replug(tmp_path)
    emu = SignEmulator()
    fake = FakeDevice(port.pty, emu.feed)
    driver = registry.sign(_cfg(config, port.url))
    drivers.append(driver)
    driver.start(core)
    assert driver.wait_idle(5) and emu.page == Page.OPEN

    fake.stop()
    port.unplug()  # the USB adapter is pulled out
    core.submit(Press("away"))  # the counter goes on; the sign cannot follow
    watcher.wait(lambda: core.faults.get("sign") == "gone")
    assert core.state.mode is Mode.AWAY

    pty = port.plug()  # back, re-enumerated as a new tty behind the same by-id link
    emu2 = SignEmulator()  # a sign that was power-cycled: blank
    fake2 = FakeDevice(pty, emu2.feed)
    assert driver.wait_idle(5)
    watcher.wait(lambda: EventType.DEVICE_RECOVERED in watcher.event_types())
    assert emu2.page == Page.AWAY
    assert emu2.texts()["status"] == "暂时离开" and emu2.text("window") == "1号窗口 户籍业务窗口"
    types = watcher.event_types()
    assert types.count(EventType.DEVICE_FAULT) == 1 and EventType.DEVICE_RECOVERED in types
    fake2.stop()
    pty.close()


def test_port_that_raises_then_reappears(core: Core, config: Config, drivers) -> None:
    """The opener itself fails (adapter absent at start), then works."""
    import serial

    watcher = Watcher(core)
    present = threading.Event()
    sim = SignEmulator()

    class Port:
        in_waiting = 0
        _out = b""

        def write(self, data: bytes) -> int:
            if not present.is_set():
                raise serial.SerialException("write failed: [Errno 5] Input/output error")
            self._out += sim.feed(data)
            self.in_waiting = len(self._out)
            return len(data)

        def flush(self) -> None: ...

        def read(self, n: int = 1) -> bytes:
            out, self._out = self._out[:n], self._out[n:]
            self.in_waiting = len(self._out)
            return out

        def reset_input_buffer(self) -> None: ...

        def close(self) -> None: ...

    def opener() -> Port:
        if not present.is_set():
            raise serial.SerialException("could not open port /dev/ttyUSB0: No such file")
        return Port()

    driver = SignDriver(_cfg(config, "/dev/ttyUSB0"), opener=opener)
    drivers.append(driver)
    driver.start(core)
    watcher.wait(lambda: core.faults.get("sign") == "gone")
    assert not driver.wait_idle(0.1)
    present.set()
    assert driver.wait_idle(5)
    watcher.wait(lambda: EventType.DEVICE_RECOVERED in watcher.event_types())
    assert sim.page == Page.OPEN and sim.text("status") == "欢迎办理"


def test_observer_never_blocks_the_core(core: Core, config: Config, drivers) -> None:
    """Serial I/O happens on the driver's thread: a sign that never answers does not
    slow down the counter (submit returns while the writer is still waiting)."""
    pty = Pty()  # nobody answers on the other side
    driver = registry.sign(_cfg(config, pty.path, retries=50))
    drivers.append(driver)
    driver.start(core)
    for _ in range(5):
        assert core.submit(Press("away")).ok
    assert not driver.wait_idle(0)
    pty.close()
