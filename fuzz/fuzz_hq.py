"""atheris: the HQ collector's message path, from MQTT payload to the HQ database.

    python fuzz/fuzz_hq.py -runs=100000 -rss_limit_mb=512

The first byte picks the topic's leaf (events, state, health or another); the rest is
the payload. Each message must be stored, quarantined or refused, and ``_process`` must
return normally: nothing raises out of the collector for any input.
"""

from __future__ import annotations

import logging
import os
import tempfile

import atheris
from _harness import run

with atheris.instrument_imports(include=["sync", "hq"]):
    import paho.mqtt.client as mqtt

    from hq.collector import BrokerOptions, Collector
    from hq.store import HqStore

LEAVES = ("events", "events", "state", "health", "cmd")
logging.disable(logging.CRITICAL)  # one quarantine line per input would be the output
# A real file in a throwaway folder (each thread of the HQ store has its own connection,
# so an in-memory database would be a different one per thread).
store = HqStore.open(os.path.join(tempfile.mkdtemp(prefix="fuzz-hq-"), "hq.db"))
collector = Collector(store, BrokerOptions(port=1))  # never connected: nothing sent
done = 0


def outcomes() -> int:
    s = collector.stats
    return s.new + s.duplicates + s.rejected + s.statuses + len(store.problems())


def target(data: bytes) -> None:
    global done
    leaf = LEAVES[data[0] % len(LEAVES)] if data else "events"
    msg = mqtt.MQTTMessage(0, f"kiosk/v1/s1/w01/{leaf}".encode())
    msg.payload = data[1:]
    msg.qos = 0
    before = outcomes()
    assert collector._process([(0, msg)]) is True
    # Every message leaves a trace, but an empty state or health message (it clears a
    # retained topic and is simply acknowledged).
    if leaf not in ("state", "health") or msg.payload:
        assert outcomes() > before, "a message neither stored nor quarantined"
    done += 1
    if done % 1000 == 0:  # keep memory bounded over 100,000 inputs
        store.db.execute("DELETE FROM hq_quarantine")


if __name__ == "__main__":
    run(target)
