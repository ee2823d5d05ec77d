"""atheris: the DWIN sign's reply parser, frame decoder and stream framer.

    python fuzz/fuzz_sign.py -runs=100000 -rss_limit_mb=512
"""

from __future__ import annotations

import atheris
from _harness import run

from device.errors import ParseError

with atheris.instrument_imports(include=["drivers"]):
    from drivers.sign.codec import (
        CMD_READ,
        CMD_WRITE,
        Ack,
        Frame,
        FrameReader,
        ReadReply,
        decode_frame,
        parse_reply,
    )
    from drivers.sign.emulator import SignEmulator


def target(data: bytes) -> None:
    crc = bool(data[:1]) and data[0] & 1 == 1
    body = data[1:]
    try:
        reply = parse_reply(body, crc)
    except ParseError:
        pass
    else:
        assert isinstance(reply, Ack | ReadReply), reply
        if isinstance(reply, ReadReply):
            assert len(reply.data) == 2 * reply.words
    try:
        frame = decode_frame(body, crc)
    except ParseError:
        pass
    else:
        assert isinstance(frame, Frame) and frame.cmd in (CMD_WRITE, CMD_READ)
        assert 0 <= frame.vp <= 0xFFFF
    # The stream framer: whole frames only, at most one frame's bytes buffered.
    reader = FrameReader()
    for frame_bytes in reader.feed(body):
        assert frame_bytes[:2] == b"\x5a\xa5" and len(frame_bytes) == 3 + frame_bytes[2]
    assert len(reader._buf) <= 3 + 255
    # The simulator (the tests' fake DWIN) decodes anything without raising.
    SignEmulator(crc).feed(body)


if __name__ == "__main__":
    run(target)
