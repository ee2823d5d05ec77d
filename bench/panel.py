"""The officer panel: request latency and the memory of a headless counter serving it.

    python bench/panel.py [--requests 400]

Two `kiosk run --simulate --headless` subprocesses in one run, on their own state dirs:

* with the panel enabled on 127.0.0.1 (a roster PIN hash in the config): an officer
  signs in over HTTP (one keep-alive connection, as a browser holds it), then posts
  ``--requests`` forms alternating 暂离 (away) and 返回 (back), each one committed event,
  and reads the page (GET /) after each; the latency of each POST (to its 303) and each
  GET is recorded;
* the baseline: the same away/back requests as workstation-link lines over the control
  socket (`kiosk sim link`), on a counter whose panel is off: the core's own path, no
  HTTP; its RSS is the counter's without the panel.

VmRSS and VmHWM come from /proc/PID/status when ready and after the requests.
Target: the counter with the panel stays under 80 MB RSS.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from latency import _status as status  # noqa: E402  (bench/latency.py: the same figures)
from latency import ms, pct, start_headless  # noqa: E402

from device import pins  # noqa: E402
from kiosk.control import ControlClient  # noqa: E402

PIN = "246810"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


class Browser:
    """One keep-alive connection with the session cookie, as a desk PC's browser."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> str:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        text = r.read().decode()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                self.cookies[name] = rest.split(";")[0].strip('"')
        if r.status not in (200, 303):
            raise SystemExit(f"{method} {path}: HTTP {r.status}: {text[:300]}")
        return text


def csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


def bench_panel(n: int, state: Path) -> dict[str, object]:
    port = free_port()
    hashed = pins.make(PIN, iterations=pins.MIN_ITERATIONS)
    proc = start_headless(state, f'[panel]\nenabled = true\nlisten = "127.0.0.1:{port}"\n\n'
                        f'[[roster]]\nbadge = "000001"\nname = "李明"\npin_hash = "{hashed}"\n')
    try:
        ready = status(proc.pid)
        b = Browser(port)
        token = csrf(b.request("GET", "/"))
        b.request("POST", "/login", {"csrf": token, "badge": "000001", "pin": PIN})
        token = csrf(b.request("GET", "/"))
        post, get = [], []
        for i in range(n):
            form = ({"op": "away", "reason": "临时离开", "return_at": "23:59"} if i % 2 == 0
                    else {"op": "back"})
            t = time.perf_counter()
            b.request("POST", "/act", {"csrf": token, **form})
            post.append(time.perf_counter() - t)
            t = time.perf_counter()
            page = b.request("GET", "/")
            get.append(time.perf_counter() - t)
            if "未执行" in page:
                raise SystemExit(f"request {i} refused: {page[:400]}")
        after = status(proc.pid)
        return {"post": post, "get": get, "ready_kb": ready["VmRSS"],
                "after_kb": after["VmRSS"], "peak_kb": after["VmHWM"]}
    finally:
        stop(proc)


def bench_baseline(n: int, state: Path) -> dict[str, object]:
    # No rate limit on the baseline's lines (the panel's forms have none either).
    proc = start_headless(state, "[link]\nmax_lines_per_s = 10000\n")
    try:
        ready = status(proc.pid)
        lines = [json.dumps({"op": "away", "reason": "临时离开", "return_at": "23:59"}),
                 json.dumps({"op": "back"})]
        took = []
        with ControlClient(state / "control.sock") as c:
            for i in range(n):
                t = time.perf_counter()
                reply = c.request({"cmd": "link", "line": lines[i % 2]})
                took.append(time.perf_counter() - t)
                if not reply["reply"]["ok"]:
                    raise SystemExit(f"baseline line {i} refused: {reply}")
        after = status(proc.pid)
        return {"link": took, "ready_kb": ready["VmRSS"], "after_kb": after["VmRSS"],
                "peak_kb": after["VmHWM"]}
    finally:
        stop(proc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=400)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = bench_baseline(args.requests, Path(tmp) / "baseline")
        panel = bench_panel(args.requests, Path(tmp) / "panel")
    n = args.requests
    print(f"{n} requests each (away / back, one committed event each)")
    print(f"panel POST /act -> 303        {ms(panel['post'])}")  # type: ignore[arg-type]
    print(f"panel GET / (the page)        {ms(panel['get'])}")  # type: ignore[arg-type]
    print(f"baseline link line (socket)   {ms(base['link'])}")  # type: ignore[arg-type]
    for name, r in (("panel on", panel), ("baseline, panel off", base)):
        print(f"RSS {name:20} ready {r['ready_kb'] / 1024:.1f} MB, after "
              f"{r['after_kb'] / 1024:.1f} MB, peak {r['peak_kb'] / 1024:.1f} MB")
    peak = int(panel["peak_kb"]) / 1024  # type: ignore[call-overload]
    p99 = pct(panel["post"], 99) * 1000  # type: ignore[arg-type]
    print(f"target RSS < 80 MB with the panel: {'met' if peak < 80 else 'NOT met'} "
          f"({peak:.1f} MB peak); POST p99 {p99:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
