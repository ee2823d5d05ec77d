"""Play N counters against a broker: each connects with its own id and Last Will,
publishes its retained state, then sealed, hash-chained events at a steady rate.

One thread drives every client through paho's external-loop API (``loop_read``,
``loop_write``, ``loop_misc``) on an epoll selector, so 1,000 counters cost 1,000
sockets, not 1,000 threads. Raise the file limit first (``raise_nofile``).
"""

from __future__ import annotations

import json
import random
import resource
import selectors
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from device.events import GENESIS, Draft, EventType, seal
from sync.topics import Topics


def raise_nofile(want: int = 65536) -> int:
    """Raise this process's open-file limit toward ``want`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass
class SimCounter:
    index: int
    topics: Topics
    client: mqtt.Client
    seq: int = 0
    prev: str = GENESIS
    next_at: float = 0.0
    connected: bool = False
    sent: dict[int, float] = field(default_factory=dict)

    def next_event(self) -> bytes:
        self.seq += 1
        level = random.choice(["very_satisfied", "satisfied", "basic", "unsatisfied"])
        env = seal(Draft(EventType.RATING_GIVEN, {
            "case_no": f"L{self.index:04d}-{self.seq:06d}", "officer": f"{self.index:06d}",
            "service": "id_card.renew", "level": level,
            "unsatisfied": level == "unsatisfied"}),
            site=self.topics.site, device=self.topics.device, seq=self.seq, prev=self.prev)
        self.prev = env.hash
        return env.to_json().encode("utf-8")


def run_loadsim(host: str, port: int, counters: int, seconds: float, *, rate: float = 0.2,
                prefix: str = "kiosk/v1", sites: int = 0,
                connect_timeout: float = 60.0) -> dict[str, Any]:
    """Connect ``counters`` clients, publish for ``seconds``, return the figures."""
    raise_nofile(counters * 2 + 256)
    sel = selectors.DefaultSelector()
    sims: list[SimCounter] = []
    latencies: list[float] = []
    acked = 0
    sites = sites or max(1, counters // 10)
    t_start = time.monotonic()

    for i in range(counters):
        topics = Topics(prefix, f"sim-site-{i % sites:03d}", f"sim-w{i:04d}")
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=topics.device,
                             protocol=mqtt.MQTTv5)
        client.will_set(topics.state, json.dumps({"online": False}), qos=1, retain=True)
        sim = SimCounter(i, topics, client)

        def on_connect(_c: Any, s: SimCounter, _f: Any, rc: Any, _p: Any) -> None:
            s.connected = not rc.is_failure
            if s.connected:
                s.client.publish(s.topics.state, json.dumps({"online": True, "mode": "idle"}),
                                 qos=1, retain=True)

        def on_publish(_c: Any, s: SimCounter, mid: int, rc: Any, _p: Any) -> None:
            nonlocal acked
            t = s.sent.pop(mid, None)
            if t is not None and not rc.is_failure:
                acked += 1
                latencies.append(time.monotonic() - t)

        client.user_data_set(sim)
        client.on_connect = on_connect
        client.on_publish = on_publish
        client.connect(host, port, keepalive=60)
        sock = client.socket()
        assert sock is not None
        sel.register(sock, selectors.EVENT_READ, sim)
        sims.append(sim)
        _pump(sel, 0)

    deadline = time.monotonic() + connect_timeout
    while sum(s.connected for s in sims) < counters and time.monotonic() < deadline:
        _pump(sel, 0.05)
    t_connected = time.monotonic() - t_start
    connected = sum(s.connected for s in sims)

    published = 0
    begin = time.monotonic()
    for s in sims:  # spread the first events over one period
        s.next_at = begin + random.random() / rate
    end = begin + seconds
    last_misc = begin
    while time.monotonic() < end:
        now = time.monotonic()
        for s in sims:
            if s.connected and now >= s.next_at:
                info = s.client.publish(s.topics.events, s.next_event(), qos=1)
                s.sent[info.mid] = now
                s.next_at += 1.0 / rate
                published += 1
                s.client.loop_write()
        if now - last_misc > 1.0:
            last_misc = now
            for s in sims:
                s.client.loop_misc()
        _pump(sel, 0.01)
    drain_until = time.monotonic() + 10
    while acked < published and time.monotonic() < drain_until:
        _pump(sel, 0.05)
    elapsed = time.monotonic() - begin
    for s in sims:
        s.client.disconnect()
    _pump(sel, 0.1)
    sel.close()
    latencies.sort()

    def pct(p: float) -> float | None:
        return round(1000 * latencies[int(p * (len(latencies) - 1))], 1) if latencies else None

    return {"counters": counters, "connected": connected,
            "connect_all_s": round(t_connected, 2), "published": published, "acked": acked,
            "seconds": round(elapsed, 1), "acked_per_s": round(acked / elapsed, 1),
            "ack_ms_p50": pct(0.5), "ack_ms_p99": pct(0.99),
            "last_seq": {s.topics.device: s.seq for s in sims}}


def _pump(sel: selectors.BaseSelector, timeout: float) -> None:
    for key, _ev in sel.select(timeout):
        sim: SimCounter = key.data
        sim.client.loop_read()
    for key in list(sel.get_map().values()):
        sim = key.data
        if sim.client.want_write():
            sim.client.loop_write()
