"""atheris: the workstation link's line parser and its line framing.

    python fuzz/fuzz_link.py -runs=100000 -rss_limit_mb=512
"""

from __future__ import annotations

import atheris
from _harness import run

from device.documents import DocumentRequest
from device.errors import ParseError
from device.intents import (
    AwayClear,
    AwaySet,
    CallTicket,
    CaseEnd,
    CaseStart,
    MirrorField,
    NoShow,
    Press,
    PromiseChange,
    Recall,
    SignIn,
    SignOut,
    Transfer,
)

# Coverage feedback from our own parser only: instrumenting the core's dependencies
# (sqlite-utils, ...) costs start-up time and guides the fuzzer nowhere useful.
with atheris.instrument_imports(include=["drivers", "device.json_input", "device.fields"]):
    from drivers.framing import LineSplitter, TooLong
    from drivers.link import parse_line

# What a line may parse into, and nothing else (never a Tick or a citizen's answer).
INTENTS = (AwayClear, AwaySet, CaseEnd, CaseStart, MirrorField, Press, SignIn, SignOut,
           DocumentRequest, PromiseChange, Recall, NoShow, CallTicket, Transfer)
LIMIT = 256


def target(data: bytes) -> None:
    try:
        intent, corr = parse_line(data, LIMIT)
    except ParseError:
        pass
    else:
        assert isinstance(intent, INTENTS), intent
        assert corr is None or isinstance(corr, str | int), corr
        assert len(data) <= LIMIT
        # Whatever was accepted can be stored, logged and echoed: valid Unicode.
        for value in (*vars(intent).values(), corr):
            if isinstance(value, str):
                value.encode("utf-8")
    # Framing: never more than LIMIT bytes buffered, lines never longer than LIMIT.
    splitter = LineSplitter(LIMIT)
    half = len(data) // 2
    for chunk in (data[:half], data[half:], data):
        for line in splitter.feed(chunk):
            assert isinstance(line, TooLong) or (len(line) <= LIMIT and b"\n" not in line)
        assert len(splitter._buf) <= LIMIT


if __name__ == "__main__":
    run(target)
