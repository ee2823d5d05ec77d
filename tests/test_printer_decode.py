"""The ESC/POS decoder the tests (and the simulator) read jobs back with, checked on
byte sequences written out by hand, independent of the layout code."""

from __future__ import annotations

import pytest

from device.errors import ParseError
from drivers.printer.decode import Item, decode_text, parse, raster_image, to_text

ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"


def kinds(items: list[Item]) -> list[str]:
    return [i.kind for i in items]


def test_every_command_by_hand() -> None:
    stream = (ESC + b"@" + ESC + b"a\x01" + ESC + b"E\x01" + GS + b"!\x11"
              + FS + b"&" + "排队号".encode("gb18030") + FS + b"." + b"\n"
              + b"A023\n"
              + GS + b"v0\x00\x01\x00\x02\x00" + b"\x80\x01"
              + GS + b"(k\x03\x001C\x06" + GS + b"(k\x05\x001P0ab" + GS + b"(k\x03\x001Q0"
              + ESC + b"d\x02" + GS + b"VB\x03" + DLE + b"\x04\x04")
    items, used = parse(stream)
    assert used == len(stream)
    assert kinds(items) == ["init", "align", "bold", "size", "cn_on", "text", "cn_off", "lf",
                            "text", "lf", "raster", "qr", "feed", "cut", "status"]
    assert items[1].value == 1 and items[2].value is True and items[3].value == (2, 2)
    assert items[5].value == "排队号" and items[8].value == "A023"
    assert items[10].value == (1, 2, b"\x80\x01")
    img = raster_image(items[10])
    assert img.getpixel((0, 0)) == 255 and img.getpixel((7, 1)) == 255
    assert img.getpixel((1, 0)) == 0
    assert items[11].value == {"module": 6, "data": "ab"}
    assert items[13].value == (66, 3) and items[14].value == 4
    assert to_text(items).splitlines()[:2] == ["排队号", "A023"]


def test_four_byte_gb18030_in_chinese_mode() -> None:
    rare = "𠮷".encode("gb18030")
    assert len(rare) == 4
    items, _ = parse(FS + b"&" + "王".encode("gb18030") + rare + FS + b".")
    assert [i.value for i in items if i.kind == "text"] == ["王𠮷"]


@pytest.mark.parametrize("bad", [
    ESC + b"Z",                     # unknown ESC command
    GS + b"x\x00",                  # unknown GS command
    b"\x80\x81",                    # non-ASCII outside Chinese mode
    FS + b"&\xff\xff" + FS + b".",  # not GB18030
    b"\x07",                        # bare control byte
    GS + b"v0\x00\x02\x00\x02\x00\x00",  # image cut short
])
def test_bad_streams_raise(bad: bytes) -> None:
    with pytest.raises(ParseError):
        parse(bad)


def test_partial_stops_before_a_cut_off_command() -> None:
    head = ESC + b"@" + b"AB"
    image = GS + b"v0\x00\x01\x00\x02\x00\x10\x04"  # data that looks like DLE EOT
    items, used = parse(head + image[:9], partial=True)
    assert kinds(items) == ["init", "text"] and used == len(head)
    items, used = parse(image + DLE + b"\x04\x01", partial=True)
    # DLE EOT inside image data is data; the real query after it is found
    assert kinds(items) == ["raster", "status"] and items[1].at == len(image)
    assert used == len(image) + 3


def test_decode_text_never_raises() -> None:
    assert decode_text(ESC + b"Z").startswith("[undecodable")
