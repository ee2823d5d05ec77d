"""[station]: off by default (a standalone counter), and each mistake named with its line,
key and fix (docs/station.md)."""

from __future__ import annotations

import pytest

from device.config import Config, loads
from device.errors import ConfigError

GOOD = '[station]\nenabled = true\nrole = "entrance"\nhost = "192.168.50.2"\n' \
       'fallback_prefix = "E"\ntimeout_s = 2.5\n'


def test_off_by_default_and_a_good_section_loads() -> None:
    assert Config().station.enabled is False
    st = loads(GOOD).station
    assert (st.enabled, st.role, st.host, st.port, st.fallback_prefix, st.timeout_s) == (
        True, "entrance", "192.168.50.2", 1883, "E", 2.5)
    # A hall issues nothing: it needs no block of its own.
    assert loads('[station]\nenabled = true\nrole = "hall"\nhost = "h"\n').station.role == "hall"


BAD = [
    ("role", GOOD.replace('"entrance"', '"door"'), 3, "station.role",
     ["'door' is not allowed", "'window' or 'entrance' or 'hall'"]),
    ("no-host", GOOD.replace('host = "192.168.50.2"\n', ""), 1, "station.host",
     ["station.host is empty", "enabled = false"]),
    ("no-block", GOOD.replace('fallback_prefix = "E"\n', ""), 1, "station.fallback_prefix",
     ["number block of its own", 'fallback_prefix = "E"']),
    ("bad-block", GOOD.replace('"E"', '"e-1"'), 5, "station.fallback_prefix",
     ["'e-1' is not 1-3 upper-case letters", '"W1"']),
    ("intake-block", GOOD.replace('"E"', '"DB"'), 5, "station.fallback_prefix",
     ["after-hours intakes"]),
    ("tls-no-ca", GOOD + "tls = true\n", 1, "station.ca_file", ["no CA file"]),
    ("timeout-range", GOOD.replace("2.5", "0"), 6, "station.timeout_s", ["0.2 to 60"]),
    ("port-type", GOOD + 'port = "1883"\n', 7, "station.port", ["without quotes"]),
]


@pytest.mark.parametrize(("name", "text", "line", "key", "words"), BAD,
                         ids=[b[0] for b in BAD])
def test_each_mistake_names_line_key_and_fix(name: str, text: str, line: int, key: str,
                                             words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        loads(text, source="c.toml")
    msg = str(info.value)
    assert (info.value.key, info.value.line) == (key, line), msg
    assert msg.startswith(f"c.toml:{line}: {key}: ") and "Fix: " in msg
    for w in words:
        assert w in msg, msg
