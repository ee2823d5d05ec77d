"""The away sign: a DWIN DGUS serial display that shows the window's status to the queue.

Protocol (DGUS II "T5L" serial, docs/sign.md)::

    5A A5 | LEN | CMD | VP hi VP lo | DATA ... | [CRC lo CRC hi]

LEN counts the bytes from CMD to the end (the CRC included when it is on). CMD 0x82
writes DATA to the variable at VP (16-bit word address, big-endian), 0x83 reads
(DATA = number of words). The display answers every write with ``5A A5 03 82 4F 4B``
("OK"; with CRC ``5A A5 05 82 4F 4B lo hi``). CRC-16/MODBUS covers CMD..DATA and is sent
little-endian. Text variables hold GBK, ended by ``FF FF`` and padded with ``FF`` to the
field's size so no old characters remain. Pages are switched through the system
register VP 0x0084 with ``5A 01 00 PP``.

* :mod:`.codec` builds and decodes the frames and text fields (pure bytes);
* :mod:`.view` computes what the sign shows for a counter state (:func:`view_for`);
* :mod:`.emulator` is the display's side: :class:`SignEmulator` and the serial-like
  :class:`SimSign` behind ``sign.url = "sim://"`` (``kiosk sim sign`` shows it);
* :mod:`.driver` holds :class:`SignDriver`, the core observer whose own writer thread
  sends only the variables that differ and waits for each "OK".

Every public name of the four is re-exported here.
"""

from __future__ import annotations

from drivers.sign.codec import (
    CMD_READ,
    CMD_WRITE,
    HEADER,
    MAX_LEN,
    MAX_READ_WORDS,
    OK,
    PAGE_NAMES,
    TEXT_VARS,
    VARS_BY_NAME,
    VARS_BY_VP,
    VP_PAGE,
    Ack,
    Frame,
    FrameReader,
    Page,
    ReadReply,
    Reply,
    TextVar,
    crc16_modbus,
    decode_frame,
    decode_text,
    encode_text,
    ok_frame,
    page_data,
    page_frame,
    parse_reply,
    read_frame,
    write_frame,
)
from drivers.sign.driver import SignDriver, SignNoReply
from drivers.sign.emulator import HISTORY, SignEmulator, SimSign
from drivers.sign.view import SignView, view_for

__all__ = [
    "CMD_READ",
    "CMD_WRITE",
    "HEADER",
    "HISTORY",
    "MAX_LEN",
    "MAX_READ_WORDS",
    "OK",
    "PAGE_NAMES",
    "TEXT_VARS",
    "VARS_BY_NAME",
    "VARS_BY_VP",
    "VP_PAGE",
    "Ack",
    "Frame",
    "FrameReader",
    "Page",
    "ReadReply",
    "Reply",
    "SignDriver",
    "SignEmulator",
    "SignNoReply",
    "SignView",
    "SimSign",
    "TextVar",
    "crc16_modbus",
    "decode_frame",
    "decode_text",
    "encode_text",
    "ok_frame",
    "page_data",
    "page_frame",
    "parse_reply",
    "read_frame",
    "view_for",
    "write_frame",
]
