"""Benchmark: kiosk-sync's outbox drain rate vs raw paho QoS 1 publishing of the same
messages, to the same broker, in the same run (target: ratio >= 0.8).

    /tmp/dev/bin/python bench/sync_drain.py --events 20000 --rounds 3

raw:  paho publishes the stored envelopes (already in memory) at QoS 1, max_inflight 20,
      and waits for every PUBACK; nothing touches SQLite.
sync: the Syncer reads the outbox, publishes, and marks every row sent after its PUBACK
      (synchronous=FULL commits), until the outbox is empty.
Both include connecting. Rounds alternate; medians are reported. Batching (mqtt.batch)
is measured too, in events/s.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt

from bench._broker import Broker
from device.config import Config, MqttSection
from device.events import Draft, EventType
from device.store import Store
from sync.uplink import Syncer


def make_outbox(cfg: Config, n: int) -> list[bytes]:
    store = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    for start in range(0, n, 1000):
        store.append([Draft(EventType.RATING_GIVEN, {
            "case_no": f"C{i:08d}", "service": "id_card.renew", "officer": "000001",
            "level": "satisfied", "score": 4, "label": "满意", "unsatisfied": False,
            "source": "pad"}) for i in range(start, min(n, start + 1000))])
    bodies = [r[0].encode() for r in store.conn.execute("SELECT body FROM events ORDER BY seq")]
    store.close()
    return bodies


def raw(port: int, bodies: list[bytes], inflight: int) -> float:
    done = threading.Event()
    acked = 0

    def on_publish(*_a: object) -> None:
        nonlocal acked
        acked += 1
        if acked == len(bodies):
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="raw", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(inflight)
    c.on_publish = on_publish
    t0 = time.perf_counter()
    c.connect("127.0.0.1", port)
    c.loop_start()
    for b in bodies:
        c.publish("kiosk/v1/bench/raw/events", b, qos=1)
    assert done.wait(300)
    elapsed = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return elapsed


def sync(cfg: Config) -> float:
    conn = Store(cfg.db_path, site=cfg.device.site, device=cfg.device.id)
    conn.conn.execute("UPDATE events SET sent_at = NULL")
    conn.close()
    t0 = time.perf_counter()
    s = Syncer(cfg)
    stop = threading.Event()
    th = threading.Thread(target=s.run, args=(stop,))
    th.start()
    assert s.idle.wait(300)
    elapsed = time.perf_counter() - t0
    stop.set()
    th.join()
    s.close()
    return elapsed


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--inflight", type=int, default=20)
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    broker = Broker()
    tmp = Path(tempfile.mkdtemp())
    base = Config().with_state_dir(tmp)

    def cfg(batch: int) -> Config:
        return dataclasses.replace(base, mqtt=dataclasses.replace(
            MqttSection(), host="127.0.0.1", port=broker.port, tls=False,
            inflight=args.inflight, batch=batch, health_interval_s=3600.0))

    bodies = make_outbox(cfg(1), args.events)
    n = len(bodies)
    raws, syncs = [], []
    try:
        for _ in range(args.rounds):
            raws.append(n / raw(broker.port, bodies, args.inflight))
            syncs.append(n / sync(cfg(1)))
        batched = {b: n / sync(cfg(b)) for b in (10, 50)}
    finally:
        broker.stop()
    r, s = statistics.median(raws), statistics.median(syncs)
    # Each round runs raw then sync back to back: the per-round ratio cancels most of the
    # noise of a shared machine.
    pair = statistics.median(b / a for a, b in zip(raws, syncs, strict=True))
    print(json.dumps({
        "events": n, "inflight": args.inflight, "raw_paho_qos1_msg_per_s": round(r),
        "sync_drain_events_per_s": round(s), "ratio_of_medians": round(s / r, 2),
        "median_round_ratio": round(pair, 2),
        "rounds_raw": [round(x) for x in raws], "rounds_sync": [round(x) for x in syncs],
        "sync_batch10_events_per_s": round(batched[10]),
        "sync_batch50_events_per_s": round(batched[50]),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
