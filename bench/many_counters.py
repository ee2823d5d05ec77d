"""Benchmark: N simulated counters connected to one Mosquitto, publishing chained events
at QoS 1, with one kiosk-hq collector storing them into SQLite.

    /tmp/dev/bin/python bench/many_counters.py --counters 1000 --seconds 30 --rate 0.5

Reports connect time, acked events/s, PUBACK latency, broker CPU and memory, and checks
that HQ holds every event once with verified chains.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._broker import Broker
from hq.collector import BrokerOptions, Collector
from hq.store import HqStore
from sync.loadsim import raise_nofile, run_loadsim


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--counters", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rate", type=float, default=0.5, help="events per counter per second")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)  # no per-work-order lines in the figures
    print("nofile limit:", raise_nofile(args.counters * 2 + 256), file=sys.stderr)
    broker = Broker()
    db = Path(tempfile.mkdtemp()) / "hq.db"
    store = HqStore.open(str(db))
    col = Collector(store, BrokerOptions(port=broker.port, client_id="bench-hq"))
    col.start()
    assert col.subscribed.wait(10)
    cpu0 = broker.cpu_seconds()
    try:
        res = run_loadsim("127.0.0.1", broker.port, args.counters, args.seconds,
                          rate=args.rate)
        last_seq = res.pop("last_seq")
        expected = sum(last_seq.values())
        col.wait_for(lambda c: c.stats.new >= expected, 60)
        res["broker_cpu_s"] = round(broker.cpu_seconds() - cpu0, 1)
        res["broker_rss_mb"] = round(broker.rss_mb(), 1)
        res["hq_stored"] = col.stats.new
        reader = HqStore.open(str(db))
        t0 = time.monotonic()
        rows = reader.integrity()
        res["hq_devices"] = len(rows)
        res["hq_devices_complete"] = sum(
            1 for r in rows if not r["gaps"]
            and r["verified_seq"] == last_seq[f"{r['site']}/{r['device']}"])
        res["hq_problems"] = len(reader.problems())
        res["integrity_check_s"] = round(time.monotonic() - t0, 2)
    finally:
        col.stop()
        broker.stop()
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
