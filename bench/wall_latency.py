"""Benchmark: MQTT state message -> visible on the live wall in chromium, with N simulated
counters (sync/loadsim.py) on a real Mosquitto, `kiosk-hq collect` and `kiosk-hq serve`
(both as their own processes, on one SQLite database) and Debian's chromium.

    .venv/bin/python bench/wall_latency.py --counters 1000 --samples 200

Every counter publishes its retained state, rating events (``--rate`` per second each) and
health every 10 s. Every ``--every`` seconds one counter picked at random goes away with a
reason that names the sample (探针-N); a MutationObserver in the page records when that
text first shows. Latency = shown (Date.now() in chromium) - published (time.time() here),
one machine, one clock. Prints JSON (p50, p95, max, and how many never showed).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._broker import Broker
from sync.loadsim import SIM_DEVICE, SIM_SITE, LoadSim, raise_nofile

BIN = Path(sys.executable).parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
OBSERVE = """() => {
  window.__seen = {};
  new MutationObserver(() => {
    for (const t of document.querySelectorAll('.tile.away')) {
      const m = /探针-(\\d+)/.exec(t.textContent);
      if (m && !(m[1] in window.__seen)) { window.__seen[m[1]] = Date.now(); }
    }
  }).observe(document.getElementById('wall'), {childList: true, subtree: true});
}"""


def names(db: Path, counters: int, sites: int) -> None:
    from hq.store import HqStore

    store = HqStore.open(str(db))  # sets Django up on this database
    from hq.fleet.models import Station, Window

    alias = store.db.alias
    Station.objects.using(alias).bulk_create(
        [Station(site=SIM_SITE.format(i), name=f"模拟{i}派出所", district=f"模拟{i % 10}区")
         for i in range(sites)])
    Window.objects.using(alias).bulk_create(
        [Window(site=SIM_SITE.format(i % sites), device=SIM_DEVICE.format(i),
                name=f"{i // sites + 1}号窗口") for i in range(counters)])
    store.close()


def serve(db: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([str(BIN / "kiosk-hq"), "serve", "--db", str(db), "--host",
                             "127.0.0.1", "--port", "0", "--threads", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("serving on "):
            return proc, line.split()[2].rstrip("/")
    raise RuntimeError("kiosk-hq serve exited")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--counters", type=int, default=1000)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--every", type=float, default=0.3, help="seconds between samples")
    p.add_argument("--rate", type=float, default=0.2, help="events per counter per second")
    args = p.parse_args()
    raise_nofile(args.counters * 2 + 256)
    broker = Broker()
    work = Path(tempfile.mkdtemp(prefix="wall-latency-"))
    db = work / "hq.db"
    sites = max(1, args.counters // 10)
    names(db, args.counters, sites)
    env = {**os.environ, "KIOSK_HQ_FAST_HASH": "1"}
    pw_file = work / "pw"
    password = "bench-" + secrets.token_hex(8)
    pw_file.write_text(password)
    subprocess.run([str(BIN / "kiosk-hq"), "user", "add", "bench", "--role", "supervisor",
                    "--db", str(db), "--password-file", str(pw_file)], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    collector = subprocess.Popen([str(BIN / "kiosk-hq"), "collect", "--port",
                                  str(broker.port), "--db", str(db)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    console, url = serve(db, env)
    sim = LoadSim("127.0.0.1", broker.port, args.counters, sites=sites, batch=1,
                  health_s=10.0)
    from playwright.sync_api import sync_playwright

    try:
        connected = sim.connect_all(60)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(url + "/accounts/login/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", password)
            page.click("button[type=submit]")
            page.wait_for_url(url + "/")
            page.goto(url + "/live/")
            page.wait_for_function(f"document.querySelectorAll('.tile.idle').length >= "
                                   f"{connected}", timeout=60_000)
            page.evaluate(OBSERVE)
            sent: dict[int, float] = {}
            state = {"next": time.monotonic(), "n": 0, "event_at": {}}
            begin = time.monotonic()
            for s in sim.sims:
                state["event_at"][s.index] = begin + random.random() / args.rate

            def every(now: float) -> None:
                for s in sim.sims:  # the background: ratings at --rate per counter
                    if s.connected and now >= state["event_at"][s.index]:
                        s.seal_next()
                        state["event_at"][s.index] += 1.0 / args.rate
                if now < state["next"] or state["n"] >= args.samples:
                    return
                state["next"] = now + args.every
                s = random.choice([s for s in sim.sims if s.connected])
                n = state["n"] = state["n"] + 1
                doc = {"online": True, "mode": "away", "officer": "",
                       "away": {"reason": f"探针-{n}", "return_at": "", "backup": "",
                                "since": ""}}
                assert s.client is not None
                s.client.publish(s.topics.state, json.dumps(doc, ensure_ascii=False), qos=1,
                                 retain=True)
                s.client.loop_write()
                sent[n] = time.time()

            sim.run_until(lambda: state["n"] >= args.samples, args.samples * args.every + 60,
                          every=every)
            sim.run_until(lambda: False, 5.0)  # the last samples' time to show
            seen = page.evaluate("window.__seen")
            tiles = page.evaluate("document.querySelectorAll('.tile').length")
            browser.close()
        lat = sorted(seen[str(n)] / 1000 - t for n, t in sent.items() if str(n) in seen)

        def pct(q: float) -> float | None:
            return round(1000 * lat[int(q * (len(lat) - 1))], 1) if lat else None

        print(json.dumps({"counters": args.counters, "connected": connected,
                          "tiles_on_page": tiles, "samples": len(sent), "shown": len(lat),
                          "never_shown": len(sent) - len(lat),
                          "events_published": sim.stats.published,
                          "latency_ms_p50": pct(0.5), "latency_ms_p95": pct(0.95),
                          "latency_ms_max": pct(1.0)}, indent=1))
    finally:
        sim.close()
        console.terminate()
        collector.terminate()
        console.wait(30)
        collector.wait(30)
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
