"""atheris: the control socket's request decoding (what `kiosk sim` and tools send).

    python fuzz/fuzz_control.py -runs=100000 -rss_limit_mb=512

Every request gets one reply that is a JSON object with ``ok`` and can be encoded as
UTF-8 (the connection writes it back): the handler here echoes the whole request, so any
bad text let through by the decoder (a lone surrogate, NaN) would fail the encoding.
"""

from __future__ import annotations

import json
from typing import Any

import atheris
from _harness import run

with atheris.instrument_imports(include=["kiosk.control", "device.json_input",
                                         "device.fields"]):
    from kiosk.control import dispatch


def _echo(req: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "echo": req}


HANDLERS = {"echo": _echo, "ping": lambda req: {"ok": True}}


def target(data: bytes) -> None:
    reply = dispatch(HANDLERS, data)
    assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool), reply
    json.dumps(reply, ensure_ascii=False, allow_nan=False).encode("utf-8")


if __name__ == "__main__":
    run(target)
