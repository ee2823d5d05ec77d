"""DLE EOT status parsing: every reply byte of every n, garbage, and no answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.errors import ParseError
from drivers.printer.status import UNKNOWN, Paper, PrinterStatus, parse_status, status_byte


@pytest.mark.parametrize(("n", "byte", "expected", "fault"), [
    (1, 0x12, PrinterStatus(online=True), ""),
    (1, 0x1A, PrinterStatus(online=False), "offline"),
    (2, 0x12, PrinterStatus(cover_open=False, error=False), ""),
    (2, 0x16, PrinterStatus(cover_open=True, error=False), "cover_open"),
    (2, 0x32, PrinterStatus(cover_open=False, paper=Paper.OUT, error=False), "paper_out"),
    (2, 0x52, PrinterStatus(cover_open=False, error=True), "error"),
    (3, 0x12, PrinterStatus(error=False), ""),
    (3, 0x1A, PrinterStatus(error=True), "error"),
    (4, 0x12, PrinterStatus(paper=Paper.OK), ""),
    (4, 0x1E, PrinterStatus(paper=Paper.NEAR_END), ""),
    (4, 0x72, PrinterStatus(paper=Paper.OUT), "paper_out"),
    (4, 0x7E, PrinterStatus(paper=Paper.OUT), "paper_out"),
    (4, 0x32, PrinterStatus(paper=Paper.OUT), "paper_out"),  # clones set one bit of two
])
def test_reply_bytes(n: int, byte: int, expected: PrinterStatus, fault: str) -> None:
    status = parse_status(n, bytes([byte]))
    assert status == PrinterStatus(expected.online, expected.cover_open, expected.paper,
                                   expected.error, ((n, byte),))
    assert status.fault == fault
    assert status.answered


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_no_answer_is_unknown_never_paper_adequate(n: int) -> None:
    # python-escpos's paper_status() returns 2 ("adequate") here; we must not.
    status = parse_status(n, b"")
    assert status is UNKNOWN
    assert status.paper is Paper.UNKNOWN and status.online is None
    assert not status.answered
    assert status.as_dict()["fault"] == "unknown"


@pytest.mark.parametrize(("n", "data"), [
    (0, b"\x12"), (5, b"\x12"), (-1, b"\x12"), (True, b"\x12"),
    (1, b"\x12\x12"), (4, b"\x00"), (4, b"\xff"), (1, b"\x13"), (1, b"\x92"),
])
def test_garbage_is_a_parse_error(n: int, data: bytes) -> None:
    with pytest.raises(ParseError, match="printer status"):
        parse_status(n, data)


def test_merge_keeps_what_each_query_knew() -> None:
    s = UNKNOWN
    for n, b in ((1, 0x1A), (2, 0x32), (3, 0x12), (4, 0x1E)):
        s = s.merge(parse_status(n, bytes([b])))
    # n=2 said "stopped by paper end"; a near-end read from n=4 must not hide it.
    assert s.paper is Paper.OUT and s.online is False and s.fault == "paper_out"
    assert [n for n, _ in s.replies] == [1, 2, 3, 4]


@pytest.mark.parametrize("paper", list(Paper)[:3])
@pytest.mark.parametrize("cover", [False, True])
def test_simulator_bytes_parse_back(paper: Paper, cover: bool) -> None:
    s = UNKNOWN
    for n in (1, 2, 3, 4):
        s = s.merge(parse_status(n, bytes([status_byte(
            n, offline=cover or paper is Paper.OUT, cover_open=cover, paper=paper)])))
    assert s.paper is paper and s.cover_open is cover
    assert s.fault == ("paper_out" if paper is Paper.OUT else "cover_open" if cover else "")


@given(st.integers(min_value=-3, max_value=8), st.binary(max_size=8))
def test_fuzz_returns_status_or_parse_error(n: int, data: bytes) -> None:
    try:
        status = parse_status(n, data)
    except ParseError:
        return
    assert isinstance(status, PrinterStatus)
    assert status.fault in ("", "paper_out", "cover_open", "error", "offline")
    assert len(data) <= 1 and 1 <= n <= 4
