"""The station's queue through kiosk-station on loopback (issue 14).

    python bench/station_queue.py [--n 200] [--windows 20] [--tickets 1600]

One run, one Mosquitto on 127.0.0.1, the real kiosk-station process:

Part 1, latency (counters built by the program's own build_counter, simulated drivers):

* take a ticket -> printed: the entrance's ``desk.issue_ticket`` until its slip's
  ``slip.printed`` commit (the station's ``issue`` round trip, the ticket's commit, the
  printer worker); baseline in the same run: the same on a standalone counter's own
  local queue;
* call next -> hall display: a window's next press until the hall's board shows the call
  (the station's ``call_next``, the retained board, the hall's view); baseline: the same
  press on a standalone counter until its commit.

Part 2, a day of a station of ``--windows`` windows and 2 entrances: ``--tickets``
tickets (a working day: 20 windows x 80 cases) taken at the two entrances while every
window calls, serves (``done``) and calls again, with window 1 away and back every 100
tickets; the station clients are drivers/station's own, without a screen. Reports the
wall time, each op's p50/p99 and checks that no number was issued or called twice.

Targets: ticket -> printed p99 <= 300 ms, call -> hall p99 <= 500 ms.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from _broker import Broker  # noqa: E402
from latency import ms, pct  # noqa: E402

from device.config import Config, StationSection  # noqa: E402
from device.intents import CaseEnd, Press  # noqa: E402
from drivers.station.client import StationClient  # noqa: E402
from kiosk.build import Counter, build_counter  # noqa: E402

SERVICES = ("id_card.renew", "hukou.birth")


def station_toml(db: Path, port: int, windows: int) -> str:
    out = [f'site = "s1"\ndb = "{db}"\naway_alert_min = 600\n'
           "[crowd]\nwaiting = 10000\nlongest_wait_min = 1440\n"]
    for n in range(1, windows + 1):
        backup = n + 1 if n < windows else 1
        out.append(f'[[windows]]\nnumber = {n}\nservices = ["id_card.renew", "hukou.birth"]\n'
                   f"backup = {backup}\n")
    out.append('[[groups]]\nprefix = "A"\nservices = ["id_card.renew"]\n'
               '[[groups]]\nprefix = "B"\nservices = ["hukou.birth"]\n'
               '[[fallback]]\ndevice = "e01"\nprefix = "E"\n'
               '[[fallback]]\ndevice = "e02"\nprefix = "F"\n'
               f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n')
    return "\n".join(out)


def device_config(state: Path, port: int, device: str, role: str, window: int = 1,
                  prefix: str = "", station: bool = True) -> Config:
    cfg = Config().with_state_dir(state / device).simulated()
    return dataclasses.replace(
        cfg, device=dataclasses.replace(cfg.device, site="s1", id=device),
        window=dataclasses.replace(cfg.window, number=window),
        station=StationSection(enabled=station, role=role,  # type: ignore[arg-type]
                               host="127.0.0.1", port=port, fallback_prefix=prefix,
                               timeout_s=5.0))


def started(cfg: Config) -> tuple[Counter, Any]:
    counter = build_counter(cfg)
    counter.start_drivers()
    counter.core.start()
    if counter.station is not None:
        counter.station.client.connected.wait(10)
    return counter, None


def printed_after(counter: Counter, act: Any) -> float:
    """Seconds from ``act()`` to the commit that marks its print job printed (a ticket's
    completion commits no event of its own: ticket.issued said it)."""
    done = threading.Event()
    at: list[float] = []

    def count() -> int:
        return int(counter.store.query(
            "SELECT count(*) FROM print_jobs WHERE printed_ts IS NOT NULL")[0][0])
    before = count()

    def watch(_change: Any) -> None:
        if not done.is_set() and count() > before:
            at.append(time.perf_counter())
            done.set()
    counter.core.subscribe(watch)
    try:
        t0 = time.perf_counter()
        act()
        if not done.wait(10):
            raise SystemExit("a ticket did not print within 10 s")
        return at[0] - t0
    finally:
        counter.core.unsubscribe(watch)


def serve(counter: Counter) -> None:
    counter.core.submit(CaseEnd())
    counter.core.submit(Press("satisfied"))


def part1(n: int, state: Path, port: int) -> dict[str, list[float]]:
    entrance, _ = started(device_config(state, port, "e01", "entrance", prefix="E"))
    window, _ = started(device_config(state, port, "w01", "window", window=1, prefix="W1"))
    hall, _ = started(device_config(state, port, "hall", "hall"))
    alone, _ = started(device_config(state, port, "solo", "window", station=False))
    assert hall.hall is not None
    if not hall.hall.wait_for(lambda v: bool(v.windows) and not v.offline, 30):
        raise SystemExit("the hall never saw the station's board")
    out: dict[str, list[float]] = {"ticket": [], "ticket_local": [], "call": [],
                                   "call_local": []}
    try:
        for i in range(n):
            service = SERVICES[i % 2]
            out["ticket"].append(printed_after(
                entrance, lambda s=service: entrance.desk.issue_ticket(s)))
            out["ticket_local"].append(printed_after(
                alone, lambda s=service: alone.desk.issue_ticket(s)))
        for _ in range(n):
            seen = threading.Event()
            t0 = time.perf_counter()
            window.core.submit(Press("next"))
            number = window.core.state.ticket
            text = f"请{number}号到1号窗口办理"
            if not hall.hall.wait_for(lambda v, t=text: v.latest == t, 10):
                raise SystemExit(f"the hall did not show {text}")
            out["call"].append(time.perf_counter() - t0)
            seen.set()
            serve(window)
            t0 = time.perf_counter()
            change = alone.core.submit(Press("next"))
            assert change.ok
            out["call_local"].append(time.perf_counter() - t0)
            serve(alone)
    finally:
        for c in (entrance, window, hall, alone):
            c.close()
    return out


def part2(windows: int, tickets: int, state: Path, port: int) -> dict[str, Any]:
    def client(device: str, role: str, window: int = 1, prefix: str = "") -> StationClient:
        c = StationClient(device_config(state, port, device, role, window, prefix))
        c.start()
        c.connected.wait(10)
        return c

    entrances = [client("e01", "entrance", prefix="E"), client("e02", "entrance", prefix="F")]
    calls = [client(f"w{n:02d}", "window", n) for n in range(1, windows + 1)]
    took: dict[str, list[float]] = {"issue": [], "call_next": [], "done": [], "away": [],
                                    "back": []}
    issued: list[str] = []
    called: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def ask(c: StationClient, op: str, **fields: Any) -> dict[str, Any]:
        t0 = time.perf_counter()
        resp = c.request(op, **fields)
        if resp is None:
            raise SystemExit(f"{op}: the station did not answer")
        with lock:
            took[op].append(time.perf_counter() - t0)
        return resp

    def entrance(c: StationClient, share: int) -> None:
        for i in range(share):
            resp = ask(c, "issue", service=SERVICES[i % 2], priority=0, appointment="")
            with lock:
                issued.append(resp["ticket"]["number"])

    def window(c: StationClient, n: int) -> None:
        while not stop.is_set():
            resp = ask(c, "call_next", window=n)
            t = resp.get("ticket")
            if not t:
                with lock:
                    if len(called) >= tickets:
                        return
                # Nobody waits for this window: an officer looks up again a moment later
                # (not a test's wait: the pace of the simulated hall).
                stop.wait(0.2)
                continue
            with lock:
                called.append(t["number"])
            ask(c, "done", window=n)
            if n == 1 and len(called) % 100 == 0:
                ask(c, "away", window=1, backup=2)
                ask(c, "back", window=1)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=entrance, args=(c, tickets // 2)) for c in entrances]
    threads += [threading.Thread(target=window, args=(c, n), daemon=True)
                for n, c in enumerate(calls, 1)]
    for t in threads:
        t.start()
    for t in threads[:2]:
        t.join()
    deadline = time.monotonic() + 300
    while len(called) < tickets and time.monotonic() < deadline:
        threading.Event().wait(0.2)  # the benchmark's own pacing, not a test's wait
    stop.set()
    wall = time.perf_counter() - t0
    for c in (*entrances, *calls):
        c.close()
    return {"wall": wall, "took": took, "issued": issued, "called": called}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--tickets", type=int, default=1600)
    args = ap.parse_args()
    # As the station broker is configured (provision/station): no Nagle delay on its
    # small request and response messages.
    broker = Broker("persistence false\nset_tcp_nodelay true\n")
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        toml = state / "station.toml"
        toml.write_text(station_toml(state / "station" / "kiosk.db", broker.port,
                                     args.windows), encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.station_cli", "--config",
                                 str(toml)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            r1 = part1(args.n, state, broker.port)
            r2 = part2(args.windows, args.tickets, state, broker.port)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
            broker.stop()
    print(f"Part 1: {args.n} of each, kiosk-station on loopback")
    print(f"take a ticket -> printed (station)      {ms(r1['ticket'])}")
    print(f"take a ticket -> printed (local queue)  {ms(r1['ticket_local'])}")
    print(f"call next -> hall display (station)     {ms(r1['call'])}")
    print(f"call next -> committed (local queue)    {ms(r1['call_local'])}")
    t99, c99 = pct(r1["ticket"], 99) * 1000, pct(r1["call"], 99) * 1000
    print(f"targets: ticket p99 {t99:.0f} ms <= 300: {'met' if t99 <= 300 else 'NOT met'}; "
          f"call -> hall p99 {c99:.0f} ms <= 500: {'met' if c99 <= 500 else 'NOT met'}")
    issued, called = r2["issued"], r2["called"]
    print(f"Part 2: {args.windows} windows, 2 entrances, {len(issued)} tickets in "
          f"{r2['wall']:.1f} s ({len(called)} called)")
    for op, values in r2["took"].items():
        if values:
            print(f"  {op:10} {ms(values)}")
    dup_i, dup_c = len(issued) - len(set(issued)), len(called) - len(set(called))
    print(f"  issued twice: {dup_i}, called twice: {dup_c}, never called: "
          f"{len(set(issued) - set(called))}")
    return 0 if not (dup_i or dup_c) else 1


if __name__ == "__main__":
    raise SystemExit(main())
