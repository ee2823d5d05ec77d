"""The event envelope: UUIDv7 ids, the hash chain and how verify_chain catches tampering."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from device.events import (
    GENESIS,
    Draft,
    Envelope,
    EventType,
    chain_hash,
    seal,
    uuid7,
    verify_chain,
)


def chain(n: int) -> list[dict]:
    prev, out = GENESIS, []
    for seq in range(1, n + 1):
        env = seal(Draft(EventType.RATING_GIVEN, {"case_no": f"C-{seq}", "level": "basic"}),
                   site="s1", device="w01", seq=seq, prev=prev)
        prev = env.hash
        out.append(json.loads(env.to_json()))
    return out


def test_uuid7_format_version_and_variant() -> None:
    before_ms = datetime.now(UTC).timestamp() * 1000
    u = uuid.UUID(uuid7())
    after_ms = datetime.now(UTC).timestamp() * 1000
    assert u.version == 7
    assert u.variant == uuid.RFC_4122
    ms = u.int >> 80
    assert before_ms - 1 <= ms <= after_ms + 1  # the first 48 bits are Unix milliseconds
    assert str(u) == str(u).lower() and len(str(u)) == 36


def test_uuid7_is_monotonic_and_unique_in_a_burst() -> None:
    ids = [uuid7() for _ in range(5000)]  # many per millisecond: the counter orders them
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 7 for i in ids)


def test_seal_fills_the_envelope() -> None:
    env = seal(Draft(EventType.CASE_STARTED, {"case_no": "C-1"}), site="s1", device="w01",
               seq=1, prev=GENESIS, ts=datetime(2026, 11, 26, 1, 2, 3, 456000, tzinfo=UTC))
    d = env.to_dict()
    assert d["v"] == 1 and d["ts"] == "2026-11-26T01:02:03.456Z"
    assert d["type"] == "case.started" and d["prev"] == GENESIS
    assert env.hash == chain_hash(GENESIS, d) and len(env.hash) == 64


def test_chain_verifies() -> None:
    assert verify_chain(chain(20)) == []
    assert verify_chain(chain(20)[5:]) == []  # a window needs no start_prev
    assert verify_chain(chain(3), start_prev=GENESIS) == []


def test_altered_field_is_detected() -> None:
    events = chain(5)
    events[2]["data"]["level"] = "very_satisfied"
    problems = verify_chain(events)
    assert problems == ["seq 3: hash does not match its content (altered)"]


def test_altered_hash_breaks_the_next_link() -> None:
    events = chain(5)
    events[2]["ts"] = "2020-01-01T00:00:00.000Z"
    events[2]["hash"] = chain_hash(events[2]["prev"], events[2])  # re-sealed by a forger
    problems = verify_chain(events)
    assert problems == ["seq 4: prev does not match the hash of seq 3"]


def test_deleted_event_is_a_seq_gap() -> None:
    events = chain(5)
    del events[2]
    problems = verify_chain(events)
    assert "seq gap: 2 -> 4" in problems
    assert "seq 4: prev does not match the hash of seq 3" in problems


def test_reordered_events_are_detected() -> None:
    events = chain(5)
    events[1], events[2] = events[2], events[1]
    problems = verify_chain(events)
    assert "seq gap: 1 -> 3" in problems and "seq gap: 3 -> 2" in problems
    assert any("prev does not match" in p for p in problems)


def test_wrong_start_is_detected() -> None:
    events = chain(4)
    assert verify_chain(events[1:], start_prev=GENESIS) == [
        "seq 2: prev does not match the hash of seq 1"]


JSON_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


@given(data=st.dictionaries(st.text(max_size=10), JSON, max_size=6),
       seq=st.integers(1, 2**40), etype=st.sampled_from(list(EventType)),
       site=st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True))
def test_envelope_round_trips(data: dict, seq: int, etype: EventType, site: str) -> None:
    env = seal(Draft(etype, data), site=site, device="w01", seq=seq, prev=GENESIS)
    back = Envelope.from_dict(json.loads(env.to_json()))
    assert back == env
    assert back.to_json() == env.to_json()
    assert verify_chain([back.to_dict()], start_prev=GENESIS) == []
    tampered = copy.deepcopy(back.to_dict())
    tampered["seq"] += 1
    assert verify_chain([tampered], start_prev=GENESIS)


def test_keys_outside_the_envelope_do_not_change_the_hash() -> None:
    # A store row carries sent_at, a collector may add received_at: not part of the event.
    events = chain(3)
    for ev in events:
        ev["sent_at"] = None
    assert verify_chain(events, start_prev=GENESIS) == []
    events[1]["device"] = "w02"  # but every envelope field is covered
    assert verify_chain(events) == ["seq 2: hash does not match its content (altered)"]
