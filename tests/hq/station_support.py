"""A known day of two stations' shared queues, for the station report's tests.

The station's events are what kiosk-station records: a real StationService on a real
station.db, driven by a hand clock, each op's events taken from its journal and sealed
again at the hand clock's time (the journal stamps the wall clock). Beside them, what the
windows and the entrance record of the same tickets in station mode (their own
ticket.issued / ticket.called / ..., drivers/station/book.py), which the report must not
count again, and one ticket the entrance printed from its own block while the station
was away (``fallback``), which only the entrance tells of.

s1 (城关派出所), windows 1 (换领、出生登记) and 2 (出生登记), on 2026-11-02 from 09:00:
A001 换领 called at w1 after 300 s, done after 300 s; B001 出生 called at w2 after 240 s,
recalled, no-show requeued, called again after 1200 s, no-show dropped; B002 called at
w2 after 660 s, done after 420 s; A002 called at w1 after 720 s, transferred to window 2,
called there after 1200 s, transferred to 出生登记, called after 1380 s, done after
240 s. s2 (东城派出所), window 1: ten tickets waited 60, 120, ... 600 s, each done after
120 s. A ticket of s1 a week later counts in no period of the tests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device.events import GENESIS, Draft, EventType, seal
from hq.store import HqStore
from station.config import loads
from station.service import StationService
from station.store import StationStore

DAY1 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, a Monday
PERIOD = ("2026-11-01", "2026-11-07")
RENEW, BIRTH = "id_card.renew", "hukou.birth"
TOML = """\
site = "{site}"
db = "{db}"
[[windows]]
number = 1
services = {w1}
[[windows]]
number = 2
services = ["hukou.birth"]
[[groups]]
prefix = "A"
services = ["id_card.renew"]
[[groups]]
prefix = "B"
services = ["hukou.birth"]
[[fallback]]
device = "entrance"
prefix = "E"
"""

Journal = list[tuple[dict[str, Any], bool]]


class Chain:
    """Events sealed as one device's hash chain, at given times."""

    def __init__(self, site: str, device: str) -> None:
        self.site, self.device, self.seq, self.prev = site, device, 0, GENESIS
        self.out: Journal = []

    def add(self, etype: str, data: dict[str, Any], at: datetime) -> None:
        self.seq += 1
        env = seal(Draft(EventType(etype), data), site=self.site, device=self.device,
                   seq=self.seq, prev=self.prev, ts=at)
        self.prev = env.hash
        self.out.append((env.to_dict(), False))


class Station:
    """A real StationService whose events come out sealed at its hand clock's time; the
    devices' own events of the same tickets beside them (``mirror``)."""

    def __init__(self, root: Path, site: str, w1: list[str]) -> None:
        db = root / site / "kiosk.db"
        cfg = loads(TOML.format(site=site, db=db, w1=str(w1).replace("'", '"')))
        self.store = StationStore(cfg.db_path, site=site)
        self.now = DAY1.timestamp()
        self.service = StationService(self.store, cfg, clock=lambda: self.now)
        self.chain = Chain(site, "station")
        self.devices: dict[str, Chain] = {}
        self._read = 0
        self._rid = 0

    def at(self, seconds: float) -> Station:
        self.now = DAY1.timestamp() + seconds
        return self

    def op(self, op: str, device: str = "entrance", **fields: Any) -> dict[str, Any]:
        self._rid += 1
        out = self.service.handle({"v": 1, "rid": f"r{self._rid}", "device": device,
                                   "op": op, **fields})
        assert out["ok"], out
        at = datetime.fromtimestamp(self.now, UTC)
        for ev in self.store.journal.events(after_seq=self._read):
            self._read = int(ev["seq"])
            self.chain.add(ev["type"], ev["data"], at)
            self.mirror(device, ev["type"], ev["data"], at)
        return out

    def mirror(self, device: str, etype: str, data: dict[str, Any], at: datetime) -> None:
        """What the device that asked records of it itself (not ticket.done: its case)."""
        if etype == "ticket.done":
            return
        own = {k: v for k, v in data.items() if k != "by"}
        self.device_event(device, etype, own, at)

    def device_event(self, device: str, etype: str, data: dict[str, Any],
                     at: datetime) -> None:
        self.devices.setdefault(device, Chain(self.chain.site, device)).add(etype, data, at)

    def events(self) -> Journal:
        return self.chain.out + [e for c in self.devices.values() for e in c.out]

    def close(self) -> None:
        self.store.close()


def build(url: str, root: Path) -> None:
    s1 = Station(root, "s1", [RENEW, BIRTH])
    for t, number, service in ((0, "A001", RENEW), (60, "B001", BIRTH), (120, "B002", BIRTH),
                               (180, "A002", RENEW)):
        assert s1.at(t).op("issue", service=service)["ticket"]["number"] == number
    s1.at(300).op("call", "w01", window=1, number="A001")
    s1.at(300).op("call", "w02", window=2, number="B001")
    s1.at(600).op("done", "w01", window=1)
    s1.at(660).op("recall", "w02", window=2)
    assert s1.at(720).op("no_show", "w02", window=2)["requeued"] is True
    s1.at(780).op("call", "w02", window=2, number="B002")
    s1.at(900).op("call", "w01", window=1, number="A002")
    s1.at(960).op("transfer", "w01", window=1, number="A002", to_window=2)
    s1.at(1200).op("done", "w02", window=2)
    s1.at(1260).op("call", "w02", window=2, number="B001")
    assert s1.at(1320).op("no_show", "w02", window=2)["requeued"] is False
    s1.at(1380).op("call", "w02", window=2, number="A002")
    s1.at(1500).op("transfer", "w02", window=2, number="A002", service=BIRTH)
    s1.at(1560).op("call", "w02", window=2, number="A002")
    s1.at(1800).op("done", "w02", window=2)
    # The station away: the entrance prints E001 from its own block (device/queue.py);
    # reconcile takes it over and records nothing (station/reconcile.py).
    s1.at(1900).device_event("entrance", "ticket.issued", {
        "number": "E001", "service": BIRTH, "group": "", "priority": 0, "appointment": "",
        "people_ahead": 0, "est_wait_min": 0, "fallback": True},
        datetime.fromtimestamp(s1.now, UTC))
    s1.op("reconcile", "entrance", tickets=[{
        "number": "E001", "day": "2026-11-02", "service": BIRTH, "priority": 0,
        "appointment": "", "issued_ts": s1.now, "called_ts": None, "window": 0, "gone": ""}])
    s2 = Station(root, "s2", [RENEW])
    for i in range(10):
        s2.at(i * 1000).op("issue", service=RENEW)
        s2.at(i * 1000 + 60 * (i + 1)).op("call_next", "w01", window=1)
        s2.at(i * 1000 + 60 * (i + 1) + 120).op("done", "w01", window=1)
    late = Station(root / "late", "s1", [RENEW])  # a week later: in no period of the tests
    late.chain.seq, late.chain.prev = s1.chain.seq, s1.chain.prev
    late.at(9 * 86_400).op("issue", service=RENEW)
    hq = HqStore.open(url)
    try:
        hq.ingest(s1.events() + s2.events() + late.chain.out)
    finally:
        hq.close()
        for s in (s1, s2):
            s.close()
        late.close()

