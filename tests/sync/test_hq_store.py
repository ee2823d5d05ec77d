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
from hq.collector import BrokerOptions, Collector
from hq.store import HqStore, parse_events_payload

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


def status(hq: HqStore, device: str = "w01", site: str = "s1") -> dict[str, Any]:
    return next(d for d in hq.integrity() if (d["site"], d["device"]) == (site, device))


def test_duplicates_are_stored_once(hq: HqStore) -> None:
    evs = chain(50)
    r1 = hq.ingest([(e, False) for e in evs[:30]])
    r2 = hq.ingest([(e, True) for e in evs[20:]])  # a redelivery overlapping the first
    assert (r1.new, r1.duplicates, r2.new, r2.duplicates) == (30, 0, 20, 10)
    assert hq.count() == 50
    assert status(hq) == {"site": "s1", "device": "w01", "events": 50, "verified_seq": 50,
                          "max_seq": 50, "gaps": [], "problems": 0}


def test_an_id_another_counter_holds_is_a_duplicate_and_the_batch_is_stored(
        hq: HqStore) -> None:
    """HQ reads what it holds from the chains (hq.store._held_by_chain); an id held under
    another counter is the one thing that misses: the insert fails and the batch is done
    again with every id looked up. The outcome is the same as if it had looked first."""
    theirs = chain(10)
    hq.ingest([(e, False) for e in theirs])
    out, prev = [], GENESIS
    for i in range(1, 6):
        env = seal(Draft(EventType.TICKET_ISSUED, {"number": f"B{i:03d}"}), site="s1",
                   device="w02", seq=i, prev=prev, ts=T0 + timedelta(minutes=i),
                   event_id=theirs[4]["id"] if i == 3 else None)
        prev = env.hash
        out.append(env.to_dict())
    res = hq.ingest([(e, False) for e in out])
    assert (res.new, res.duplicates) == (4, 1)
    assert status(hq, "w02")["verified_seq"] == 2  # seq 3 is w01's: w02 waits for its own
    assert status(hq)["verified_seq"] == 10 and hq.count("s1", "w01") == 10
    row = hq.db.one("SELECT device, seq FROM hq_events WHERE id = ?", (theirs[4]["id"],))
    assert row == ("w01", 5)


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


def test_altered_deleted_and_forged_records_are_problems_that_never_advance_the_chain(
        hq: HqStore) -> None:
    orig = chain(10)
    evs = list(orig)
    genuine4 = dict(evs[3])
    evs[3] = {**evs[3], "data": {"number": "A999"}}  # altered after sealing
    del evs[6]  # seq 7 lost on the way
    hq.ingest([(e, False) for e in evs])
    # seq 4 does not verify: the head stays at 3 and seq 4 is missing (a gap to repair).
    assert status(hq)["verified_seq"] == 3
    assert status(hq)["gaps"] == [(4, 4), (7, 7)]
    # A forged seq 7 that does not chain changes nothing either.
    forged = seal(Draft(EventType.TICKET_ISSUED, {}), site="s1", device="w01", seq=7,
                  prev="f" * 64).to_dict()
    hq.ingest([(genuine4, False)])
    assert status(hq)["verified_seq"] == 6
    hq.ingest([(forged, False)])
    assert status(hq)["verified_seq"] == 6
    # The genuine seq 7 still verifies, and everything after it.
    hq.ingest([(orig[6], False)])
    assert status(hq)["verified_seq"] == 10 and status(hq)["gaps"] == []
    kinds = [(seq, kind) for _s, _d, seq, kind, _x in hq.problems()]
    assert kinds == [(4, "altered"), (7, "chain")]
    assert status(hq)["problems"] == 2
    assert hq.count() == 10  # problems are kept in hq_problems, not among the events


def test_a_replayed_seq_under_a_new_id_opens_nothing_and_a_fork_is_refused(
        hq: HqStore) -> None:
    def make(i: int) -> Draft:
        return Draft(EventType.RATING_GIVEN, {"case_no": f"C{i}", "officer": "000007",
                                              "level": "unsatisfied", "unsatisfied": True})

    evs = chain(3, make=make)
    hq.ingest([(e, False) for e in evs])
    assert len(hq.work_orders()) == 3
    # The same seq 2, sealed again with a new id: its hash is right, its seq is taken.
    replay = seal(make(2), site="s1", device="w01", seq=2, prev=evs[0]["hash"]).to_dict()
    res = hq.ingest([(replay, False)])
    assert res.new == 1 and res.work_orders == [] and len(hq.work_orders()) == 3
    assert [(p[2], p[3]) for p in hq.problems()] == [(2, "replay")]
    # Two valid candidates for the next seq in one batch: the first verifies, the other
    # is a fork on record; the real seq 5 that follows still verifies.
    a = seal(make(4), site="s1", device="w01", seq=4, prev=evs[2]["hash"]).to_dict()
    b = seal(make(4), site="s1", device="w01", seq=4, prev=evs[2]["hash"]).to_dict()
    first, second = sorted([a, b], key=lambda e: e["id"])
    nxt = seal(make(5), site="s1", device="w01", seq=5, prev=first["hash"]).to_dict()
    hq.ingest([(b, False), (a, False), (nxt, False)])
    assert status(hq)["verified_seq"] == 5
    assert [(p[2], p[3]) for p in hq.problems()] == [(2, "replay"), (4, "fork")]
    assert len(hq.work_orders()) == 5 and second["id"] not in {w[0] for w in
                                                              hq.work_orders()}


def test_a_forged_jump_in_seq_leaves_no_gap_and_opens_nothing(hq: HqStore) -> None:
    evs = chain(5)
    hq.ingest([(e, False) for e in evs])
    jump = seal(Draft(EventType.RATING_GIVEN, {"unsatisfied": True, "officer": "1"}),
                site="s1", device="w01", seq=2**40, prev=evs[-1]["hash"]).to_dict()
    res = hq.ingest([(jump, False)])
    assert res.work_orders == [] and hq.work_orders() == []
    assert status(hq)["gaps"] == [] and status(hq)["max_seq"] == 5
    assert [(p[2], p[3]) for p in hq.problems()] == [(2**40, "jump")]


def test_work_orders_wait_for_the_chain_to_verify(hq: HqStore) -> None:
    def make(i: int) -> Draft:
        return Draft(EventType.RATING_GIVEN, {"case_no": f"C{i}", "unsatisfied": i == 3})

    evs = chain(3, make=make)
    hq.ingest([(evs[2], False)])  # seq 3 before 1 and 2: not verified yet
    assert hq.work_orders() == []
    res = hq.ingest([(e, False) for e in evs[:2]])
    assert [w["case_no"] for w in res.work_orders] == ["C3"]
    assert res.confirmed == {("s1", "w01"): 3}


def test_two_sites_with_the_same_device_id_are_two_counters(hq: HqStore) -> None:
    east, west = chain(5, site="east"), chain(3, site="west")
    hq.ingest([(e, False) for e in east + west])
    assert status(hq, site="east")["verified_seq"] == 5
    assert status(hq, site="west")["verified_seq"] == 3
    assert hq.problems() == []
    assert hq.count("east", "w01") == 5 and hq.count("west", "w01") == 3
    hq.set_status("west", "w01", "health", {"head_seq": 9, "outbox_depth": 0})
    assert hq.device_head_seq("west", "w01") == 9
    assert hq.device_head_seq("east", "w01") is None


def test_a_database_of_the_first_schema_is_migrated_and_its_chains_verified(
        hq_url: str) -> None:
    from hq.conf import alias_for
    from hq.db import HqDb
    from hq.legacy import SCHEMA_V1

    db = HqDb(alias_for(hq_url))  # a connection only: what kiosk-hq 0.1 first made
    with db.tx():
        for stmt in SCHEMA_V1:
            db.execute(stmt)
        for ev in chain(4):
            db.execute("INSERT INTO hq_events VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
                       (ev["id"], "s1", "w01", ev["seq"], ev["ts"], ev["type"],
                        json.dumps(ev), ev["ts"]))
        db.execute("INSERT INTO hq_devices (device, site, head_seq, head_hash, state) VALUES "
                   "('w01', 's1', 4, 'x', '{\"online\": true}')")
    db.close()
    hq = HqStore.open(hq_url)
    assert status(hq)["verified_seq"] == 4 and hq.problems() == []
    assert hq.db.one("SELECT state FROM hq_devices")[0] == '{"online": true}'
    # Django now owns the schema: the 0.1 tables were recorded, not made again.
    assert hq.db.one("SELECT count(*) FROM django_migrations WHERE app = 'fleet'")[0] >= 1
    hq.close()
    again = HqStore.open(hq_url)  # opening again migrates nothing
    assert again.count() == 4
    again.close()


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
    assert [(o[3], o[4], o[6], o[8]) for o in orders] == [
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
    assert col.repair() == [("s1", "w01", 11, 15)]
    assert col.repair() == []  # asked: not again while that resend is outstanding
    hq.ingest([(e, False) for e in evs[10:15]])
    # The device says (health, outbox empty) it has seq 30; HQ holds 20.
    hq.set_status("s1", "w01", "health", {"head_seq": 30, "outbox_depth": 0})
    assert col.repair() == []
    assert col.repair() == [("s1", "w01", 21, 30)]
    hq.set_status("s1", "w01", "health", {"head_seq": 40, "outbox_depth": 12})
    col.repair()
    assert col.repair() == []  # still draining: the tail is on its way


def test_one_resend_covers_a_whole_gap_and_is_asked_again_only_after_its_timeout(
        hq: HqStore) -> None:
    from hq.repair import RESEND_MAX

    now = [0.0]
    evs = chain(30)
    hq.ingest([(evs[0], False), (evs[-1], False)])
    col = Collector(hq, BrokerOptions(port=1), resend_timeout_s=30)
    col.repairer.clock = lambda: now[0]
    assert col.repair() == []
    assert col.repair() == [("s1", "w01", 2, 29)]  # one request, the whole range
    for t in (5.0, 10.0, 29.0):
        now[0] = t
        assert col.repair() == []
    hq.ingest([(e, False) for e in evs[1:10]])  # part of it came: still outstanding
    assert col.repair() == []
    now[0] = 31.0
    assert col.repair() == [("s1", "w01", 11, 29)]
    # A huge gap is asked for in bounded steps.
    big = Collector(hq, BrokerOptions(port=1))
    assert big.repairer.wanted({"gaps": [(1, 10**9)], "max_seq": 10**9 + 1}, None) == [
        (1, RESEND_MAX)]


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
    assert status(a) == {"site": "s1", "device": "w01", "events": 41, "verified_seq": 41,
                         "max_seq": 41, "gaps": [], "problems": 0}
    a.close()
    b.close()


def test_an_unreachable_postgresql_database_says_how_to_fix_it(pg_url: str) -> None:
    url = pg_url.replace("postgresql://postgres@/", "postgresql://postgres:s3cret@/nosuchdb_")
    with pytest.raises(SyncError, match=r"cannot connect to the HQ database .*nosuchdb_.*"
                       r"does not exist.*createdb") as exc:
        HqStore.open(url)
    assert "s3cret" not in str(exc.value) and "postgres:***@" in str(exc.value)
