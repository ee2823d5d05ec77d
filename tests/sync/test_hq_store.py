"""HQ store: every event once, chain and gap checks per device, work orders, repair.

Each store test runs twice: on a SQLite file and on a throwaway PostgreSQL database
(tests/sync/pg.py), so the same code is proven on both backends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from device.errors import ParseError, SyncError
from device.events import GENESIS, Draft, EventType, seal
from sync.collector import BrokerOptions, Collector
from sync.hq_store import HqStore, parse_events_payload

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def chain(n: int, device: str = "w01", site: str = "s1", start: datetime = T0,
          make: Any = None) -> list[dict[str, Any]]:
    out, prev = [], GENESIS
    for i in range(1, n + 1):
        draft = make(i) if make else Draft(EventType.TICKET_ISSUED, {"number": f"A{i:03d}"})
        env = seal(draft, site=site, device=device, seq=i, prev=prev,
                   ts=start + timedelta(minutes=i))
        prev = env.hash
        out.append(env.to_dict())
    return out


@pytest.fixture
def hq(hq_url: str) -> Iterator[HqStore]:
    store = HqStore.open(hq_url)
    yield store
    store.close()


def status(hq: HqStore, device: str = "w01") -> dict[str, Any]:
    return next(d for d in hq.integrity() if d["device"] == device)


def test_duplicates_are_stored_once(hq: HqStore) -> None:
    evs = chain(50)
    r1 = hq.ingest([(e, False) for e in evs[:30]])
    r2 = hq.ingest([(e, True) for e in evs[20:]])  # a redelivery overlapping the first
    assert (r1.new, r1.duplicates, r2.new, r2.duplicates) == (30, 0, 20, 10)
    assert hq.count() == 50
    assert status(hq) == {"device": "w01", "site": "s1", "events": 50, "verified_seq": 50,
                          "max_seq": 50, "gaps": [], "problems": 0}


def test_out_of_order_and_gaps(hq: HqStore) -> None:
    evs = chain(20)
    hq.ingest([(e, False) for e in evs[10:]])  # seq 11..20 first (another collector)
    assert status(hq)["verified_seq"] == 0
    assert status(hq)["gaps"] == [(1, 10)]
    hq.ingest([(e, False) for e in evs[:5]])
    assert status(hq)["gaps"] == [(6, 10)]
    assert status(hq)["verified_seq"] == 5
    hq.ingest([(e, False) for e in evs[5:10]])
    assert status(hq)["gaps"] == [] and status(hq)["verified_seq"] == 20
    assert hq.problems() == []


def test_altered_deleted_and_forked_records_are_reported(hq: HqStore) -> None:
    evs = chain(10)
    evs[3]["data"] = {"number": "A999"}  # altered after sealing
    del evs[6]  # seq 7 deleted on the device
    hq.ingest([(e, False) for e in evs])
    assert status(hq)["gaps"] == [(7, 7)]
    # The counter "resends" a forged seq 7 that does not chain.
    forged = seal(Draft(EventType.TICKET_ISSUED, {}), site="s1", device="w01", seq=7,
                  prev="f" * 64).to_dict()
    hq.ingest([(forged, False)])
    kinds = [(seq, kind) for _d, seq, kind, _x in hq.problems()]
    # seq 4 altered; seq 7 does not follow 6, and 8 does not follow the forged 7.
    assert kinds == [(4, "altered"), (7, "chain"), (8, "chain")]
    assert status(hq)["verified_seq"] == 10 and status(hq)["problems"] == 3


def test_each_unsatisfied_rating_opens_one_work_order(hq: HqStore) -> None:
    def make(i: int) -> Draft:
        return Draft(EventType.RATING_GIVEN, {
            "case_no": f"C{i}", "officer": "000007", "service": "hukou",
            "level": "unsatisfied" if i % 2 else "satisfied", "unsatisfied": bool(i % 2)})

    evs = chain(6, make=make)
    res = hq.ingest([(e, False) for e in evs])
    hq.ingest([(e, True) for e in evs])  # replayed: no second work order
    assert len(res.work_orders) == 3
    orders = hq.work_orders()
    assert [(o[2], o[3], o[5], o[7]) for o in orders] == [
        ("000007", "C1", "unsatisfied", "open"), ("000007", "C3", "unsatisfied", "open"),
        ("000007", "C5", "unsatisfied", "open")]


def test_envelopes_must_come_from_the_topics_device() -> None:
    ev = chain(1)[0]
    assert parse_events_payload(json.dumps([ev, ev]).encode(), "s1", "w01") == [ev, ev]
    with pytest.raises(ParseError, match="published under s1/w02"):
        parse_events_payload(json.dumps(ev).encode(), "s1", "w02")
    for bad in (b"\xff", b"[1]", b'{"id": 1}', json.dumps({**ev, "seq": "1"}).encode()):
        with pytest.raises(ParseError):
            parse_events_payload(bad, "s1", "w01")


def test_repair_asks_for_a_gap_seen_twice_and_for_a_missing_tail(hq: HqStore) -> None:
    evs = chain(30)
    hq.ingest([(e, False) for e in evs[:10] + evs[15:20]])
    col = Collector(hq, BrokerOptions(port=1))  # never connected: publish is a no-op
    assert col.repair() == []  # first sighting: may be reordering
    assert col.repair() == [("w01", 11, 15)]
    hq.ingest([(e, False) for e in evs[10:15]])
    # The device says (health, outbox empty) it has seq 30; HQ holds 20.
    hq.set_status("w01", "s1", "health", {"head_seq": 30, "outbox_depth": 0})
    assert col.repair() == []
    assert col.repair() == [("w01", 21, 30)]
    hq.set_status("w01", "s1", "health", {"head_seq": 30, "outbox_depth": 12})
    col.repair()
    assert col.repair() == []  # still draining: the tail is on its way


def test_two_collectors_on_one_postgresql_database_advance_the_chain_once(
        pg_url: str) -> None:
    # A shared subscription hands one device's batches to several collectors: both insert,
    # then both walk the chain. Each walk must see the other's committed rows, or the head
    # stops short of events that are all there.
    evs = chain(41)
    a, b = HqStore.open(pg_url), HqStore.open(pg_url)
    a.ingest([(evs[0], False)])
    both_inserted = threading.Barrier(2, timeout=20)
    for store in (a, b):
        def lock(key: int, real: Any = store.db.lock) -> None:
            both_inserted.wait()  # neither batch is committed yet
            real(key)
        store.db.lock = lock  # type: ignore[method-assign]
    with ThreadPoolExecutor(2) as pool:
        done = [pool.submit(a.ingest, [(e, False) for e in evs[1:21]]),
                pool.submit(b.ingest, [(e, False) for e in evs[21:]])]
        assert [f.result(timeout=30).new for f in done] == [20, 20]
    assert status(a) == {"device": "w01", "site": "s1", "events": 41, "verified_seq": 41,
                         "max_seq": 41, "gaps": [], "problems": 0}
    a.close()
    b.close()


def test_an_unreachable_postgresql_database_says_how_to_fix_it(pg_url: str) -> None:
    url = pg_url.replace("postgresql://postgres@/", "postgresql://postgres:s3cret@/nosuchdb_")
    with pytest.raises(SyncError, match=r"cannot connect to the HQ database .*nosuchdb_.*"
                       r"does not exist.*createdb") as exc:
        HqStore.open(url)
    assert "s3cret" not in str(exc.value) and "postgres:***@" in str(exc.value)
