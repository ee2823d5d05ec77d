"""Hypothesis over every parser of outside input: it returns a valid message or raises
ParseError, nothing else, and its buffers stay bounded. (atheris runs the same contract
for 100,000 inputs each: tests/test_fuzz_atheris.py, fuzz/run.py.)"""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.documents import DocumentRequest
from device.errors import ParseError
from device.intents import Intent
from drivers.framing import LineSplitter, TooLong
from drivers.link import parse_line
from drivers.printer.status import PrinterStatus, parse_status
from drivers.scanner import AppointmentScan, ScanError, make_payload, parse_scan
from drivers.sign.codec import (
    CMD_READ,
    MAX_READ_WORDS,
    Ack,
    Frame,
    FrameReader,
    ReadReply,
    decode_frame,
    ok_frame,
    parse_reply,
    read_frame,
    write_frame,
)
from drivers.sign.emulator import SignEmulator

FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

# ----------------------------------------------------------------- sign


@FAST
@given(st.binary(max_size=300), st.booleans())
def test_sign_parsers_raise_only_parse_error(data: bytes, crc: bool) -> None:
    for parse in (parse_reply, decode_frame):
        try:
            msg = parse(data, crc)
        except ParseError:
            continue
        assert isinstance(msg, Ack | ReadReply | Frame)
    SignEmulator(crc).feed(data)  # the fake display never raises either


@FAST
@given(st.integers(0, 0xFFFF), st.binary(min_size=1, max_size=240), st.booleans())
def test_sign_write_frames_round_trip(vp: int, data: bytes, crc: bool) -> None:
    assert decode_frame(write_frame(vp, data, crc), crc) == Frame(0x82, vp, data=data)


@FAST
@given(st.integers(0, 0xFFFF), st.integers(1, MAX_READ_WORDS), st.booleans())
def test_sign_reads_always_get_a_reply_that_fits(vp: int, words: int, crc: bool) -> None:
    assert decode_frame(read_frame(vp, words, crc), crc) == Frame(CMD_READ, vp, words=words)
    reply = parse_reply(SignEmulator(crc).feed(read_frame(vp, words, crc)), crc)
    assert isinstance(reply, ReadReply) and reply.words == words


@FAST
@given(st.lists(st.tuples(st.binary(max_size=8).filter(lambda b: b"\x5a" not in b),
                          st.integers(0, 0xFFFF), st.binary(min_size=1, max_size=60)),
                max_size=6),
       st.lists(st.integers(1, 40), max_size=20), st.booleans())
def test_frame_reader_finds_frames_in_any_split(parts, cuts, crc: bool) -> None:
    frames = [write_frame(vp, data, crc) for _, vp, data in parts]
    stream = b"".join(junk + f for (junk, _, _), f in zip(parts, frames, strict=True))
    reader, got, pos = FrameReader(), [], 0
    for cut in [*cuts, len(stream)]:
        got += reader.feed(stream[pos:pos + cut])
        pos += cut
        assert len(reader._buf) <= 3 + 255
    got += reader.feed(stream[pos:])
    assert got == frames
    assert all(decode_frame(f, crc) for f in got)
    assert parse_reply(ok_frame(crc), crc) == Ack()


# ----------------------------------------------------------------- link

_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                    st.lists(st.integers(), max_size=3),
                    st.lists(st.one_of(st.integers(-2, 30), st.text(max_size=12)), max_size=4),
                    st.dates().map(str))
_OPS = st.sampled_from(["sign_in", "sign_out", "case_start", "field", "case_end",
                        "call_next", "away", "back", "notice", "refusal", "receipt",
                        "referral", "promise_change", "intake", "home_visit", "recall",
                        "no_show", "call", "transfer", "nope", ""])
_KEYS = st.sampled_from(["badge", "case_no", "service", "key", "label", "value",
                         "sensitive", "reason", "return_at", "phone", "backup", "id", "x",
                         "materials", "remarks", "deadline", "refusal", "basis",
                         "promised_date", "pickup", "to", "matter", "new_date", "number",
                         "window", "date", "slot", "need", "address"])
# The queue controls' fields, near-valid often enough to reach the ticket book.
_QUEUE_FIELDS = st.fixed_dictionaries({}, optional={
    "number": st.one_of(st.sampled_from(["A001", "A002", "A003", "a1", "A0000", "A-1"]),
                        _VALUES),
    "service": st.one_of(st.sampled_from(["id_card.renew", "hukou.birth", "no.such"]),
                         _VALUES),
    "window": st.one_of(st.integers(-2, 101), _VALUES),
    "id": _VALUES})
_QUEUE_LINES = st.builds(lambda op, fields: json.dumps({"op": op, **fields}).encode(),
                         st.sampled_from(["recall", "no_show", "call", "transfer",
                                          "call_next", "case_end"]), _QUEUE_FIELDS)


@FAST
@given(st.one_of(
    st.binary(max_size=300),
    st.builds(lambda op, fields: json.dumps({"op": op, **fields}).encode(),
              _OPS, st.dictionaries(_KEYS, _VALUES, max_size=6)),
    _QUEUE_LINES))
def test_link_parse_line_returns_intent_or_parse_error(raw: bytes) -> None:
    try:
        intent, corr = parse_line(raw, 256)
    except ParseError as exc:
        assert str(exc)  # a message to send back
        return
    assert isinstance(intent, (*Intent.__args__, DocumentRequest))  # type: ignore[attr-defined]
    assert corr is None or isinstance(corr, str | int)


@FAST
@given(st.binary(max_size=2000), st.lists(st.integers(1, 300), max_size=20),
       st.integers(1, 64))
def test_line_splitter_is_bounded_and_split_independent(data: bytes, cuts: list[int],
                                                        limit: int) -> None:
    whole = LineSplitter(limit).feed(data)
    s, pieces, pos = LineSplitter(limit), [], 0
    for cut in [*cuts, len(data)]:
        pieces += s.feed(data[pos:pos + cut])
        pos += cut
        assert len(s._buf) <= limit
    pieces += s.feed(data[pos:])

    def norm(xs: list) -> list:
        return ["TOO LONG" if isinstance(x, TooLong) else x for x in xs]

    assert norm(pieces) == norm(whole)
    assert all(isinstance(x, TooLong) or len(x) <= limit for x in whole)


# ----------------------------------------------------------------- scanner

_SITES = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
_CODES = st.from_regex(r"[0-9A-Za-z]{4,32}", fullmatch=True)
_DATES = st.dates().map(lambda d: d.strftime("%Y%m%d")).filter(lambda s: len(s) == 8)


@FAST
@given(st.one_of(
    st.binary(max_size=700),
    st.lists(st.sampled_from(["CK1", "CK2", "|", "demo-site", "2026", "1126", "A", "0",
                              "http://", "\r\n", "]Q1", "é"]), max_size=12)
    .map(lambda xs: "".join(xs).encode())))
def test_scanner_raises_only_scan_error(raw: bytes) -> None:
    try:
        scan = parse_scan(raw)
    except ScanError as exc:
        assert exc.screen and isinstance(exc, ParseError)
        return
    assert isinstance(scan, AppointmentScan)


@FAST
@given(_SITES, _CODES, _DATES)
def test_scanner_payload_round_trip(site: str, code: str, date: str) -> None:
    text = make_payload(site, code, date)
    assert parse_scan(text.encode() + b"\r") == AppointmentScan(site, code, date)
    # One character changed anywhere is refused (and never crashes).
    for i in range(len(text)):
        broken = text[:i] + ("X" if text[i] != "X" else "Y") + text[i + 1:]
        try:
            got = parse_scan(broken.encode())
        except ScanError:
            continue
        assert got != AppointmentScan(site, code, date) or broken == text


# ----------------------------------------------------------------- printer status


@FAST
@given(st.integers(-5, 300), st.binary(max_size=4))
def test_printer_status_raises_only_parse_error(n: int, data: bytes) -> None:
    try:
        result = parse_status(n, data)
    except ParseError:
        return
    assert isinstance(result, PrinterStatus) and n in (1, 2, 3, 4)


# ----------------------------------------------------------------- strict JSON objects

_JSON_TEXT = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=12)


@FAST
@given(st.one_of(
    st.binary(max_size=300),
    # json.dumps writes NaN, Infinity and (ensure_ascii) lone surrogates as \\udXXX.
    st.builds(lambda d: json.dumps({"cmd": "x", "v": d}).encode(), _JSON_TEXT)))
def test_load_object_lets_through_only_text_we_can_encode(raw: bytes) -> None:
    from device.json_input import load_object

    try:
        msg = load_object(raw, max_bytes=256, where="request")
    except ParseError as exc:
        assert str(exc).startswith(("request", "field"))
        return
    assert isinstance(msg, dict) and len(raw) <= 256
    json.dumps(msg, ensure_ascii=False, allow_nan=False).encode("utf-8")


@pytest.fixture(scope="module")
def link_core(tmp_path_factory: pytest.TempPathFactory):
    from device.config import Config
    from device.core import Core
    from device.queue import QueueDesk
    from device.store import Store
    from device.tickets import TicketBook

    cfg = Config().with_state_dir(tmp_path_factory.mktemp("fuzz-link")).simulated()
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    # With a ticket book and a queue, so the queue controls reach device/ticket_ops.py.
    book = TicketBook(store, cfg, clock=time.time)
    core = Core(cfg, store, tickets=book)
    desk = QueueDesk(core, book)
    for _ in range(3):
        desk.issue_ticket("id_card.renew")
    yield core
    store.close()


@FAST
@given(st.one_of(
    st.builds(lambda op, fields: json.dumps({"op": op, **fields}).encode(),
              _OPS, st.dictionaries(_KEYS, st.one_of(_VALUES, _JSON_TEXT), max_size=6)),
    _QUEUE_LINES))
def test_link_reply_is_always_one_encodable_line(link_core, raw: bytes) -> None:
    # The whole path a workstation line takes, against a real core and store.
    from drivers.link import LinkSession

    out = LinkSession(link_core, link_core.config.link).process(raw + b"\n")
    assert out.count(b"\n") == 1
    reply = json.loads(out)
    assert isinstance(reply["ok"], bool) and ("error" in reply or reply["ok"])
    assert "internal error" not in reply.get("error", "")


@pytest.fixture(scope="module")
def serving_core(tmp_path_factory: pytest.TempPathFactory):
    from device.config import Config
    from device.core import Core
    from device.intents import CaseStart
    from device.store import Store

    cfg = Config().with_state_dir(tmp_path_factory.mktemp("fuzz-docs")).simulated()
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    core = Core(cfg, store)
    assert core.submit(CaseStart("F-1", "hukou.move_in")).ok
    yield core
    store.close()


_DOC_OPS = st.sampled_from(["notice", "refusal", "receipt", "referral", "promise_change",
                            "intake", "home_visit"])


@FAST
@given(st.builds(lambda op, fields: json.dumps({"op": op, **fields}).encode(),
                 _DOC_OPS, st.dictionaries(_KEYS, st.one_of(_VALUES, _JSON_TEXT),
                                           max_size=6)))
def test_document_ops_in_a_case_answer_once_and_refuse_without_a_trace(serving_core,
                                                                        raw: bytes) -> None:
    # The document ops against an open case, where they reach the catalogue and the
    # calendar: one reply line; a refused line writes nothing.
    from drivers.link import LinkSession

    before = serving_core.store.head()
    out = LinkSession(serving_core, serving_core.config.link).process(raw + b"\n")
    reply = json.loads(out)
    assert out.count(b"\n") == 1 and isinstance(reply["ok"], bool)
    assert "internal error" not in reply.get("error", "")
    if not reply["ok"]:
        assert serving_core.store.head() == before


@FAST
@given(_QUEUE_LINES)
def test_a_refused_queue_control_writes_nothing(link_core, raw: bytes) -> None:
    from drivers.link import LinkSession

    def held() -> tuple[list, list]:
        return (list(link_core.store.query("SELECT seq FROM events")),
                list(link_core.store.query("SELECT * FROM queue_tickets ORDER BY id")))

    before, state = held(), link_core.state
    reply = json.loads(LinkSession(link_core, link_core.config.link).process(raw + b"\n"))
    if not reply["ok"]:
        assert held() == before and link_core.state == state, reply


# The case kinds' fields, near-valid often enough to reach the calendar and the catalogue:
# a Saturday, a day past, slots backwards or out of range, a need that is not one.
_CASE_KIND_FIELDS = st.fixed_dictionaries({}, optional={
    "date": st.one_of(st.sampled_from(["2026-11-27", "2026-11-28", "2026-11-25", "2026-11-26",
                                       "2027-01-04", "2026-13-01"]), _VALUES),
    "slot": st.one_of(st.sampled_from(["09:00-11:00", "11:00-09:00", "9:00-11:00",
                                       "23:00-24:00", "08:30-08:30", "09:00-11:00 "]),
                      _VALUES),
    "need": st.one_of(st.sampled_from(["elderly", "disabled", "ELDERLY", "old"]), _VALUES),
    "materials": st.one_of(st.lists(st.one_of(st.integers(-1, 12), st.sampled_from(
        ["本人居民身份证（原件）", "户口本"])), max_size=4), _VALUES),
    "remarks": _VALUES, "address": _VALUES, "id": _VALUES})


@FAST
@given(st.builds(lambda op, fields: json.dumps({"op": op, **fields}).encode(),
                 st.sampled_from(["intake", "home_visit"]), _CASE_KIND_FIELDS))
def test_case_kind_ops_answer_once_and_refuse_without_a_trace(serving_core,
                                                              raw: bytes) -> None:
    from drivers.link import LinkSession

    before, document = serving_core.store.head(), serving_core.state.document
    out = LinkSession(serving_core, serving_core.config.link).process(raw + b"\n")
    reply = json.loads(out)
    assert out.count(b"\n") == 1 and isinstance(reply["ok"], bool)
    assert "internal error" not in reply.get("error", "")
    if not reply["ok"]:
        assert serving_core.store.head() == before
        assert serving_core.state.document == document
