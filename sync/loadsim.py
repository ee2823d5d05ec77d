"""Play N counters against a broker: each connects with its own id and Last Will,
publishes its retained state, then sealed, hash-chained events, and behaves toward HQ as
kiosk-sync does: it keeps every event until HQ confirms it (``confirmed`` topic),
re-publishes what is still unconfirmed when confirmations stop coming for
``confirm_timeout_s`` (first the oldest event alone as a probe, doubling the wait each
time; the rest once the probe's confirmation shows HQ lost it), answers ``cmd/resend``
from its journal and reports its head in ``health``.

Simulated data never passes for real data: the counters live on their own sites
(``loadsim-NNN``), their officers have badges that no roster uses (``SIM00001``), and
every event carries ``"simulated": true`` (HQ stores the flag; reports leave such data
out unless ``--include-simulated``).

One thread drives every client through paho's external-loop API (``loop_read``,
``loop_write``, ``loop_misc``) on an epoll selector, so 1,000 counters cost 1,000
sockets, not 1,000 threads. Raise the file limit first (``raise_nofile``).
"""

from __future__ import annotations

import contextlib
import json
import random
import resource
import selectors
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from device.events import GENESIS, Draft, EventType, seal
from sync.topics import Topics

SIM_SITE = "loadsim-{:03d}"
SIM_DEVICE = "sim-w{:04d}"
SIM_BADGE = "SIM{:05d}"  # letters: never a badge of a real roster (six digits)


def raise_nofile(want: int = 65536) -> int:
    """Raise this process's open-file limit toward ``want`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _replayed() -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("replayed", "true")
    return props


@dataclass
class SimCounter:
    index: int
    topics: Topics
    client: mqtt.Client | None = None
    fd: int = -1
    seq: int = 0
    prev: str = GENESIS
    next_at: float = 0.0
    retry_at: float = 0.0
    connected: bool = False
    confirmed: int = 0
    progress_at: float = 0.0  # last publish of unconfirmed events or confirmation advance
    patience: float = 0.0  # how long to wait for a confirmation before re-publishing
    probe_below: int = 0  # a probe is out: events up to here were sent before it
    probe: int = 0
    journal: dict[int, bytes] = field(default_factory=dict)
    unsent: set[int] = field(default_factory=set)  # not handed to the current connection
    sent: dict[int, tuple[float, list[int]]] = field(default_factory=dict)

    def seal_next(self) -> int:
        self.seq += 1
        level = random.choice(["very_satisfied", "satisfied", "basic", "unsatisfied"])
        env = seal(Draft(EventType.RATING_GIVEN, {
            "case_no": f"L{self.index:04d}-{self.seq:06d}",
            "officer": SIM_BADGE.format(self.index), "service": "id_card.renew",
            "level": level, "unsatisfied": level == "unsatisfied", "simulated": True}),
            site=self.topics.site, device=self.topics.device, seq=self.seq, prev=self.prev)
        self.prev = env.hash
        self.journal[self.seq] = env.to_json().encode("utf-8")
        self.unsent.add(self.seq)
        return self.seq


@dataclass
class SimStats:
    published: int = 0  # events handed to the broker (a batch counts its events)
    acked: int = 0
    republished: int = 0  # events sent again for want of a confirmation
    resent: int = 0  # events sent again because HQ asked (cmd/resend)
    connects: int = 0
    latencies: list[float] = field(default_factory=list)


class LoadSim:
    def __init__(self, host: str, port: int, counters: int, *, prefix: str = "kiosk/v1",
                 sites: int = 0, batch: int = 10, confirm_timeout_s: float = 5.0,
                 honour_confirmations: bool = True, health_s: float = 60.0) -> None:
        raise_nofile(counters * 2 + 256)
        self.host, self.port = host, port
        self.batch = batch
        self.confirm_timeout_s = confirm_timeout_s
        self.honour = honour_confirmations
        self.health_s = health_s
        self.stats = SimStats()
        self.sel = selectors.DefaultSelector()
        sites = sites or max(1, counters // 10)
        self.sims = [SimCounter(i, Topics(prefix, SIM_SITE.format(i % sites),
                                          SIM_DEVICE.format(i))) for i in range(counters)]
        self._next_health = time.monotonic() + health_s

    # ------------------------------------------------------------------ connections

    def _connect(self, s: SimCounter) -> None:
        # A new client per connection, as kiosk-sync does: nothing in flight carries over.
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=s.topics.device,
                             protocol=mqtt.MQTTv5)
        client.will_set(s.topics.state, json.dumps({"online": False}), qos=1, retain=True)
        client.user_data_set(s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        try:
            client.connect(self.host, self.port, keepalive=60, clean_start=True)
        except OSError:
            s.retry_at = time.monotonic() + random.uniform(0.3, 1.0)
            return
        sock = client.socket()
        assert sock is not None
        s.client, s.fd = client, sock.fileno()
        try:
            self.sel.register(s.fd, selectors.EVENT_READ, s)
        except KeyError:  # a closed socket's number, reused
            self.sel.unregister(s.fd)
            self.sel.register(s.fd, selectors.EVENT_READ, s)

    def _on_connect(self, client: mqtt.Client, s: SimCounter, _f: Any, rc: Any,
                    _p: Any) -> None:
        if rc.is_failure:
            return
        s.connected = True
        self.stats.connects += 1
        client.subscribe([(s.topics.confirmed, 1), (s.topics.command("resend"), 1)])
        client.publish(s.topics.state, json.dumps({"online": True, "mode": "idle"}),
                       qos=1, retain=True)
        # What is not confirmed goes out again on every connection (without
        # confirmations, the old protocol: what was not acknowledged).
        inflight = [q for _t, chunk in s.sent.values() for q in chunk]
        s.sent.clear()
        if self.honour:
            s.unsent = {q for q in s.journal if q > s.confirmed}
        else:
            s.unsent.update(inflight)
        s.progress_at = time.monotonic()
        self._publish(s, sorted(s.unsent))

    def _on_disconnect(self, _c: Any, s: SimCounter, _f: Any, _rc: Any, _p: Any) -> None:
        s.connected = False
        if s.fd >= 0:
            with contextlib.suppress(KeyError):
                self.sel.unregister(s.fd)
            s.fd = -1
        s.client = None
        s.retry_at = time.monotonic() + random.uniform(0.3, 1.0)

    def _on_publish(self, _c: Any, s: SimCounter, mid: int, rc: Any, _p: Any) -> None:
        entry = s.sent.pop(mid, None)
        if entry is None:
            return
        if rc.is_failure:
            s.unsent.update(entry[1])
            return
        self.stats.acked += len(entry[1])
        self.stats.latencies.append(time.monotonic() - entry[0])

    def _on_message(self, _c: Any, s: SimCounter, msg: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(msg.payload)
        except ValueError:
            return
        if msg.topic == s.topics.confirmed:
            upto = doc.get("upto") if isinstance(doc, dict) else None
            if isinstance(upto, int) and upto > s.confirmed:
                s.confirmed = upto
                s.progress_at = time.monotonic()
                s.patience = self.confirm_timeout_s
                for q in [q for q in s.journal if q <= upto]:
                    del s.journal[q]
                s.unsent = {q for q in s.unsent if q > upto}
                if s.probe_below and upto == s.probe:
                    # Exactly the probe came back: what was sent with it was lost.
                    again = sorted(q for q in s.journal if q <= s.probe_below)
                    self.stats.republished += len(again)
                    s.unsent.update(again)
                s.probe_below = 0
            return
        lo, hi = doc.get("from_seq"), doc.get("to_seq")  # cmd/resend
        if isinstance(lo, int) and isinstance(hi, int):
            again = [q for q in range(max(lo, s.confirmed + 1), min(hi, s.seq) + 1)
                     if q in s.journal]
            self.stats.resent += len(again)
            self._publish(s, again, replayed=True)

    # ------------------------------------------------------------------ publishing

    def _publish(self, s: SimCounter, seqs: list[int], replayed: bool = False) -> None:
        if s.client is None or not s.connected:
            return
        for i in range(0, len(seqs), self.batch):
            chunk = seqs[i:i + self.batch]
            payload = b"[" + b",".join(s.journal[q] for q in chunk) + b"]"
            info = s.client.publish(s.topics.events, payload, qos=1,
                                    properties=_replayed() if replayed else None)
            s.sent[info.mid] = (time.monotonic(), chunk)
            s.unsent.difference_update(chunk)
            self.stats.published += len(chunk)
        s.client.loop_write()

    def _tick(self, now: float) -> None:
        for s in self.sims:
            if s.client is None:
                if now >= s.retry_at:
                    self._connect(s)
                continue
            if not s.connected:
                continue
            if s.unsent:
                self._publish(s, sorted(s.unsent))
            elif (self.honour and s.journal and not s.sent
                  and now - s.progress_at > (s.patience or self.confirm_timeout_s)):
                # No confirmation for a while: probe with the oldest unconfirmed event
                # only. HQ working through a long queue confirms the probe together with
                # everything before it (nothing else sent twice); an HQ that lost the
                # events confirms just the probe, and then the rest goes at once.
                s.probe_below = max(s.journal)
                s.probe = probe = min(q for q in s.journal if q > s.confirmed)
                self.stats.republished += 1
                s.progress_at = now
                s.patience = 2 * (s.patience or self.confirm_timeout_s)
                self._publish(s, [probe], replayed=True)
            s.client.loop_misc()
        if now >= self._next_health:
            self._next_health = now + self.health_s
            for s in self.sims:
                if s.connected and s.client is not None:
                    depth = len(s.unsent) + sum(len(c) for _t, c in s.sent.values())
                    s.client.publish(s.topics.health, json.dumps(
                        {"head_seq": s.seq, "outbox_depth": depth}), qos=0)

    def pump(self, timeout: float) -> None:
        for key, _ev in self.sel.select(timeout):
            sim: SimCounter = key.data
            if sim.client is not None:
                sim.client.loop_read()
        for s in self.sims:
            if s.client is not None and s.client.want_write():
                s.client.loop_write()

    def run_until(self, done: Callable[[], bool], timeout: float,
                  every: Callable[[float], None] | None = None) -> bool:
        """Drive every counter until ``done()`` or ``timeout``; ``every(now)`` each round."""
        deadline = time.monotonic() + timeout
        last_tick = 0.0
        while time.monotonic() < deadline:
            if done():
                return True
            now = time.monotonic()
            if every is not None:
                every(now)
            if now - last_tick > 0.2:
                last_tick = now
                self._tick(now)
            self.pump(0.01)
        return done()

    def connect_all(self, timeout: float = 60.0) -> int:
        for s in self.sims:
            self._connect(s)
            self.pump(0)
        self.run_until(lambda: all(s.connected for s in self.sims), timeout)
        return sum(s.connected for s in self.sims)

    def backlog(self, n: int) -> None:
        """Each counter seals ``n`` events now (they go out on its next chance)."""
        for s in self.sims:
            for _ in range(n):
                s.seal_next()

    def last_seq(self) -> dict[tuple[str, str], int]:
        return {(s.topics.site, s.topics.device): s.seq for s in self.sims}

    def close(self) -> None:
        for s in self.sims:
            if s.client is not None:
                s.client.disconnect()
        self.pump(0.1)
        self.sel.close()


def run_loadsim(host: str, port: int, counters: int, seconds: float, *, rate: float = 0.2,
                prefix: str = "kiosk/v1", sites: int = 0,
                connect_timeout: float = 60.0) -> dict[str, Any]:
    """Connect ``counters`` clients, publish for ``seconds``, return the figures."""
    sim = LoadSim(host, port, counters, prefix=prefix, sites=sites, batch=1)
    t_start = time.monotonic()
    connected = sim.connect_all(connect_timeout)
    t_connected = time.monotonic() - t_start
    begin = time.monotonic()
    for s in sim.sims:  # spread the first events over one period
        s.next_at = begin + random.random() / rate

    def live(now: float) -> None:
        for s in sim.sims:
            if s.connected and now >= s.next_at:
                s.seal_next()
                s.next_at += 1.0 / rate

    sim.run_until(lambda: False, seconds, every=live)
    sim.run_until(lambda: sim.stats.acked >= sim.stats.published, 10)
    elapsed = time.monotonic() - begin
    sim.close()
    lat = sorted(sim.stats.latencies)

    def pct(p: float) -> float | None:
        return round(1000 * lat[int(p * (len(lat) - 1))], 1) if lat else None

    st = sim.stats
    return {"counters": counters, "connected": connected,
            "connect_all_s": round(t_connected, 2), "published": st.published,
            "acked": st.acked, "seconds": round(elapsed, 1),
            "acked_per_s": round(st.acked / elapsed, 1),
            "ack_ms_p50": pct(0.5), "ack_ms_p99": pct(0.99),
            "last_seq": {f"{k[0]}/{k[1]}": v for k, v in sim.last_seq().items()}}
