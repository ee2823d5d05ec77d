"""Benchmark: kiosk-hq ingest rate into SQLite (target >= 5,000 events/s) and
PostgreSQL (target >= 20,000 events/s).

    .venv/bin/python bench/hq_ingest.py --events 50000 --devices 20 --postgresql

store:  HqStore.ingest in batches of 1,000 (dedupe, chain verification, work orders,
        one insert, one synchronous=FULL commit per batch), no MQTT.
mqtt:   the same events published through Mosquitto at QoS 1 by one publisher per
        device (single events, then JSON-array batches of 10 and 50) and stored by one
        collector with manual acks after commit; timed until HQ holds all of them.

--postgresql also runs the store (batches of 1,000 and of 5,000, what a collector takes
from 500 messages of 10) and the batch-10 path into PostgreSQL, next to the floor: the
same rows COPYed straight into hq_events. A throwaway cluster (tests/sync/pg.py,
Debian's postgresql package) with fsync and synchronous commit on, a fresh database per
run, over its unix socket.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt

from bench._broker import Broker
from device.events import GENESIS, Draft, EventType, seal
from hq.collector import BrokerOptions, Collector
from hq.store import HqStore


def make_events(devices: int, per_device: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for d in range(devices):
        dev, prev, evs = f"w{d:03d}", GENESIS, []
        for i in range(1, per_device + 1):
            unsat = i % 50 == 0
            env = seal(Draft(EventType.RATING_GIVEN, {
                "case_no": f"C{d}-{i}", "officer": f"{d:06d}", "service": "hukou",
                "level": "unsatisfied" if unsat else "satisfied", "unsatisfied": unsat}),
                site="s1", device=dev, seq=i, prev=prev)
            prev = env.hash
            evs.append(env.to_dict())
        out[dev] = evs
    return out


def sqlite_db() -> str:
    return str(Path(tempfile.mkdtemp()) / "hq.db")


def bench_store(events: dict[str, list[dict[str, Any]]], new_db: Any = sqlite_db,
                batch: int = 1000) -> float:
    hq = HqStore.open(new_db())
    flat = [e for i in range(len(next(iter(events.values()))))
            for evs in events.values() for e in evs[i:i + 1]]  # interleaved, as on a broker
    t0 = time.perf_counter()
    for i in range(0, len(flat), batch):
        hq.ingest([(e, False) for e in flat[i:i + batch]])
    elapsed = time.perf_counter() - t0
    assert hq.count() == len(flat) and not hq.problems()
    hq.close()
    return len(flat) / elapsed


def bench_copy(events: dict[str, list[dict[str, Any]]], new_db: Any) -> float:
    """The floor: the same rows COPYed straight into hq_events (no dedupe, no walk, no
    work orders), in transactions of 5,000 like the store's batches."""
    from hq.store import EVENT_COLUMNS, prepare

    hq = HqStore.open(new_db())
    ready = prepare([(e, False) for evs in events.values() for e in evs])
    rows = [(*row, 1) for row in ready.rows.values()]
    t0 = time.perf_counter()
    for i in range(0, len(rows), 5000):
        with hq.db.tx():
            hq.db.insert("hq_events", EVENT_COLUMNS, rows[i:i + 5000])
    elapsed = time.perf_counter() - t0
    assert hq.count() == len(rows)
    hq.close()
    return len(rows) / elapsed


def _publishers(port: int, events: dict[str, list[dict[str, Any]]], batch: int,
                go: Any) -> None:
    pubs = []
    for dev in events:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=dev, protocol=mqtt.MQTTv5)
        c.max_inflight_messages_set(100)
        c.connect("127.0.0.1", port)
        c.loop_start()
        pubs.append((dev, c))
    payloads = {dev: [json.dumps(evs[i:i + batch] if batch > 1 else evs[i],
                                 separators=(",", ":"), ensure_ascii=False).encode()
                      for i in range(0, len(evs), batch)] for dev, evs in events.items()}
    go.wait()
    infos = [c.publish(f"kiosk/v1/s1/{dev}/events", p, qos=1)
             for dev, c in pubs for p in payloads[dev]]
    for info in infos:
        info.wait_for_publish(120)
    for _dev, c in pubs:
        c.disconnect()
        c.loop_stop()


def bench_mqtt(events: dict[str, list[dict[str, Any]]], batch: int,
               new_db: Any = sqlite_db) -> float:
    broker = Broker()
    hq = HqStore.open(new_db())
    col = Collector(hq, BrokerOptions(port=broker.port, client_id="bench-hq"))
    col.start()
    assert col.subscribed.wait(10)
    total = sum(len(v) for v in events.values())
    # The publishers run in another process: in this one they would take the GIL from
    # the collector and measure Python, not the collector.
    ctx = multiprocessing.get_context("fork")
    go = ctx.Event()
    proc = ctx.Process(target=_publishers, args=(broker.port, events, batch, go))
    proc.start()
    t0 = time.perf_counter()
    go.set()
    assert col.wait_for(lambda c: c.stats.new >= total, 300), col.stats
    elapsed = time.perf_counter() - t0
    proc.join(60)
    col.stop()
    assert hq.count() == total and not hq.problems()
    broker.stop()
    return total / elapsed


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=50000)
    p.add_argument("--devices", type=int, default=20)
    p.add_argument("--postgresql", action="store_true",
                   help="also the store and batch-10 paths into a throwaway PostgreSQL")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    events = make_events(args.devices, args.events // args.devices)
    res: dict[str, Any] = {
        "events": sum(len(v) for v in events.values()), "devices": args.devices,
        "store_events_per_s": round(bench_store(events)),
        "mqtt_single_events_per_s": round(bench_mqtt(events, 1)),
        "mqtt_batch10_events_per_s": round(bench_mqtt(events, 10)),
        "mqtt_batch50_events_per_s": round(bench_mqtt(events, 50)),
    }
    if args.postgresql:
        from tests.sync.pg import PgCluster, pg_bindir

        bindir = pg_bindir()
        if bindir is None:
            raise SystemExit("--postgresql: no /usr/lib/postgresql/*/bin (apt-get install "
                             "postgresql)")
        cluster, n = PgCluster(bindir), iter(range(1, 100))
        try:
            cluster.start(durable=True)

            def pg_db() -> str:
                return cluster.create_database(f"bench{next(n)}")

            res["pg_bare_copy_rows_per_s"] = round(bench_copy(events, pg_db))
            res["pg_store_events_per_s"] = round(bench_store(events, pg_db))
            res["pg_store_batch5000_events_per_s"] = round(bench_store(events, pg_db, 5000))
            res["pg_mqtt_batch10_events_per_s"] = round(bench_mqtt(events, 10, pg_db))
        finally:
            cluster.stop()
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
