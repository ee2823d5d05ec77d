"""Benchmark: the live wall page (/live/) rendered server-side with N windows.

    .venv/bin/python bench/wall_render.py --windows 5000

A fresh SQLite HQ database: first the page of an empty wall (the baseline: login, session,
template, header), then N windows (10 per station, a state, a health with a fault now and
then, a rating each) and the page again: cold (the first request builds every tile) and
warm (tiles kept; only rows that moved are read). Django's test client calls the WSGI app
in this process, so the figures are the server's alone. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("KIOSK_HQ_FAST_HASH", "1")


def fill(store: object, alias: str, windows: int) -> None:
    from device.events import GENESIS
    from hq.fleet.models import Officer, Station, Window

    db = store.db  # type: ignore[attr-defined]
    stations = max(1, windows // 10)
    Station.objects.using(alias).bulk_create(
        [Station(site=f"s{i:04d}", name=f"第{i}派出所", district=f"第{i % 20}区")
         for i in range(stations)])
    Window.objects.using(alias).bulk_create(
        [Window(site=f"s{i // 10:04d}", device=f"w{i:05d}", name=f"{i % 10 + 1}号窗口")
         for i in range(windows)])
    Officer.objects.using(alias).bulk_create(
        [Officer(badge=f"{i:06d}", name=f"民警{i}") for i in range(windows)])
    modes = ["idle", "serving", "rating", "away"]
    rows, events = [], []
    for i in range(windows):
        site, device = f"s{i // 10:04d}", f"w{i:05d}"
        mode = modes[i % 4]
        state = {"online": i % 50 != 0, "mode": mode, "officer": f"{i:06d}",
                 "away": {"reason": "临时外出", "return_at": "2026-12-02T15:00:00+08:00",
                          "backup": "", "since": "2026-12-02T14:00:00+08:00"}
                 if mode == "away" else None}
        health = {"outbox_depth": i % 7, "oldest_unsent_age_s": 12.0, "people_waiting": i % 9,
                  "peripherals": {"printer": {"ok": i % 13 != 0, "fault": "paper_out"}}}
        rows.append((site, device, 1, GENESIS, json.dumps(state, ensure_ascii=False),
                     json.dumps(health), "2026-12-02T06:00:00.000Z"))
        body = {"id": f"e{i}", "site": site, "device": device, "seq": 1,
                "ts": "2026-12-02T05:59:00Z", "type": "rating.given",
                "data": {"level": "satisfied", "officer": f"{i:06d}"}}
        events.append((f"e{i}", site, device, 1, body["ts"], "rating.given",
                       json.dumps(body), "2026-12-02T06:00:00.000Z"))
    with db.tx():
        db.executemany("INSERT INTO hq_devices (site, device, head_seq, head_hash, state, "
                       "health, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                       "received_at, verified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)", events)


def timed(client: object, url: str, runs: int) -> tuple[list[float], int]:
    out, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        resp = client.get(url)  # type: ignore[attr-defined]
        out.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.status_code
        size = len(resp.content)
    return out, size


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--windows", type=int, default=5000)
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    os.environ.setdefault("KIOSK_HQ_NOW", "2026-12-02T14:30:00+08:00")
    db_path = Path(tempfile.mkdtemp()) / "hq.db"
    from hq.store import HqStore

    store = HqStore.open(str(db_path))
    alias = store.db.alias
    from django.test import Client

    from hq.accounts.users import add_user
    from hq.wall import state

    user = add_user(alias, "bench-sup", "supervisor", "bench-password-1")
    client = Client()
    client.force_login(user)
    empty, _ = timed(client, "/live/", args.runs)
    fill(store, alias, args.windows)
    state._walls.clear()  # a console that starts on the filled database
    cold, _ = timed(client, "/live/", 1)
    warm, size = timed(client, "/live/", args.runs)
    assert client.get("/live/").content.count(b'class="tile ') == args.windows
    ms = lambda xs: round(1000 * statistics.median(xs), 1)  # noqa: E731
    print(json.dumps({"windows": args.windows, "empty_page_ms": ms(empty),
                      "cold_page_ms": ms(cold), "warm_page_ms_median": ms(warm),
                      "warm_page_ms_max": round(1000 * max(warm), 1),
                      "page_kb": round(size / 1024)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
