"""Hypothesis over the collector's message path (atheris runs the same contract for
100,000 inputs: fuzz/fuzz_hq.py, tests/test_fuzz_atheris.py): for any payload on any
leaf, ``sync.inbound`` returns a valid message or raises ParseError, and the collector
stores, quarantines or refuses it, never raising out, on a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.errors import ParseError
from device.events import GENESIS, Draft, EventType, seal
from hq.collector import BrokerOptions, Collector
from hq.store import HqStore
from sync import inbound

FAST = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])

GOOD = seal(Draft(EventType.RATING_GIVEN, {"case_no": "C1", "unsatisfied": True}),
            site="s1", device="w01", seq=1, prev=GENESIS).to_dict()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-2**70, max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10),
                                                                inner, max_size=5),
    max_leaves=20)


def mutated() -> st.SearchStrategy[bytes]:
    """A genuine envelope with one field replaced by anything, as JSON text."""
    def build(key: str, value: Any) -> bytes:
        text = json.dumps({**GOOD, key: value}, allow_nan=True)
        return text.encode("utf-8", "surrogatepass")
    return st.builds(build, st.sampled_from([*sorted(GOOD), "extra"]), json_values)


payloads = st.one_of(st.binary(max_size=400), mutated(),
                     st.builds(lambda v: json.dumps(v, allow_nan=True).encode(
                         "utf-8", "surrogatepass"), json_values))


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    store = HqStore.open(str(tmp_path_factory.mktemp("hqfuzz") / "hq.db"))
    yield Collector(store, BrokerOptions(port=1))
    store.close()


@FAST
@given(payloads)
def test_inbound_returns_valid_events_or_raises_parse_error(payload: bytes) -> None:
    try:
        evs = inbound.events_payload(payload, "s1", "w01")
    except ParseError:
        return
    for ev in evs:
        assert ev.keys() == inbound.ENVELOPE_KEYS and 1 <= ev["seq"] < 2**63
        json.dumps(ev, ensure_ascii=False).encode("utf-8")  # storable text


@FAST
@given(st.sampled_from(["events", "state", "health", "cmd/x", "events/extra"]), payloads)
def test_the_collector_stores_quarantines_or_refuses_and_never_raises(
        collector: Collector, leaf: str, payload: bytes) -> None:
    msg = mqtt.MQTTMessage(0, f"kiosk/v1/s1/w01/{leaf}".encode())
    msg.payload = payload
    s = collector.stats
    before = s.new + s.duplicates + s.rejected + s.statuses
    assert collector._process([(0, msg)]) is True
    if leaf not in ("state", "health") or payload:  # empty: a retained topic cleared
        assert s.new + s.duplicates + s.rejected + s.statuses > before


def test_a_huge_batch_is_refused_by_its_size_before_it_is_parsed(tmp_path: Path) -> None:
    import tracemalloc

    one = json.dumps(GOOD).encode()
    batch = b"[" + b",".join([one] * 200_000) + b"]"  # ~66 MB, as in the issue
    tracemalloc.start()
    with pytest.raises(ParseError, match="over the limit"):
        inbound.events_payload(batch, "s1", "w01")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # nothing was parsed
