#!/usr/bin/env python3
"""Run every atheris harness (each parser of outside input) for N inputs each.

    python fuzz/run.py                      # 100,000 inputs per parser, 2 at a time
    python fuzz/run.py --runs 10000 link    # fewer, one harness

Each harness runs in its own process with libFuzzer's ``-runs``, ``-rss_limit_mb``
(memory bounded: going over is a failure) and ``-timeout`` (one input taking longer is a
failure), starting from a seed corpus of valid messages written to a temporary
directory (so the repository is never written to), with a fixed ``--seed`` unless told
otherwise (reproducible in CI). A crash input is kept under
``--artifacts`` (default: a temporary directory, printed). Exit code 0 when every harness
finished its runs, 1 when one crashed, went over memory or time, 2 on bad usage, 3 when
atheris is not installed (it has wheels for x86_64 only; see docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


def _link_seeds() -> list[bytes]:
    ops = [
        {"op": "sign_in", "badge": "000001", "id": 1},
        {"op": "sign_out"},
        {"op": "case_start", "case_no": "SZ-20261126-0001", "service": "id_card.renew"},
        {"op": "field", "key": "name", "label": "姓名", "value": "张三", "sensitive": False},
        {"op": "case_end", "case_no": "SZ-20261126-0001"},
        {"op": "call_next", "id": "x"},
        {"op": "away", "reason": "开会", "return_at": "15:30", "phone": "1", "backup": "2"},
        {"op": "back"},
        {"op": "recall", "id": 2},
        {"op": "no_show"},
        {"op": "call", "number": "A007"},
        {"op": "transfer", "number": "A003", "service": "hukou.birth"},
        {"op": "transfer", "number": "A004", "window": 3},
        {"op": "receipt"},
        {"op": "notice", "materials": [1, 3]},
    ]
    seeds = [json.dumps(m, ensure_ascii=False).encode() for m in ops]
    return [*seeds, b"\n".join(seeds) + b"\n", b"[]", b'{"op":null}', b"\xff"]


def _sign_seeds() -> list[bytes]:
    from drivers.sign.codec import encode_text, ok_frame, page_frame, read_frame, write_frame
    from drivers.sign.emulator import SignEmulator

    seeds = []
    for crc in (False, True):
        sel = b"\x01" if crc else b"\x00"
        emu = SignEmulator(crc)
        w = write_frame(0x1040, encode_text("暂时离开", 20), crc)
        seeds += [sel + ok_frame(crc), sel + w, sel + page_frame(3, crc),
                  sel + read_frame(0x1040, 2, crc),
                  sel + emu.feed(w) + emu.feed(read_frame(0x1040, 4, crc))]
    return seeds


def _scanner_seeds() -> list[bytes]:
    from drivers.scanner import make_payload

    good = make_payload("demo-site", "20261001", "20261126").encode()
    return [good, good + b"\r\n", b"]Q1" + good, b"https://example.com/x",
            b"CK2|demo-site|1234|20261126|0", good[:-1] + b"0"]


def _control_seeds() -> list[bytes]:
    return [b'{"cmd": "ping"}',
            b'{"cmd": "echo", "a": [1, 2.5, null, true], "b": {"c": "\\u4e2d"}}',
            b'{"cmd": "echo", "s": "\\udcff"}', b'{"cmd": "echo", "n": NaN}', b"[]", b"\xff"]


def _hq_seeds() -> list[bytes]:
    from device.events import GENESIS, Draft, EventType, seal

    prev, envs = GENESIS, []
    for i in range(1, 4):
        env = seal(Draft(EventType.RATING_GIVEN, {"case_no": f"C{i}", "level": "unsatisfied",
                                                  "unsatisfied": True, "waited_s": 1.5}),
                   site="s1", device="w01", seq=i, prev=prev)
        prev = env.hash
        envs.append(env.to_json().encode())
    batch = b"[" + b",".join(envs) + b"]"
    return [b"\x00" + envs[0], b"\x01" + batch, b"\x02" + b'{"online": true, "mode": "idle"}',
            b"\x03" + b'{"head_seq": 3, "outbox_depth": 0, "disk": {"free_mb": 1.5}}',
            b"\x04{}", b"\x00[]", b"\x00" + envs[1]]


def _printer_seeds() -> list[bytes]:
    return [bytes((64 + n, b)) for n in (1, 2, 3, 4) for b in (0x12, 0x16, 0x1E, 0x72, 0x7E)]


@dataclass(frozen=True)
class Harness:
    name: str
    script: str
    max_len: int
    seeds: object  # Callable[[], list[bytes]]
    needs: str = ""  # a module that must exist, else the harness is skipped


HARNESSES = (
    Harness("sign", "fuzz_sign.py", 600, _sign_seeds),
    Harness("link", "fuzz_link.py", 1024, _link_seeds),
    Harness("scanner", "fuzz_scanner.py", 1024, _scanner_seeds),
    Harness("control", "fuzz_control.py", 1024, _control_seeds),
    Harness("hq", "fuzz_hq.py", 4096, _hq_seeds),
    Harness("printer_status", "fuzz_printer_status.py", 16, _printer_seeds,
            needs="drivers.printer.status"),
)


@dataclass
class Result:
    name: str
    status: str  # ok, FAILED, skipped
    runs: int = 0
    seconds: float = 0.0
    detail: str = ""


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def run_one(h: Harness, runs: int, rss_mb: int, timeout_s: int, artifacts: Path,
            seed: int = 1) -> Result:
    if h.needs and not _module_exists(h.needs):
        return Result(h.name, "skipped", detail=f"{h.needs} is not there yet")
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{h.name}-") as corpus:
        for i, example in enumerate(h.seeds()):  # type: ignore[operator]
            (Path(corpus) / f"seed{i:03d}").write_bytes(example)
        out = artifacts / h.name
        out.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(HERE / h.script), corpus, f"-runs={runs}",
               f"-rss_limit_mb={rss_mb}", f"-malloc_limit_mb={rss_mb}",
               f"-timeout={timeout_s}", f"-max_len={h.max_len}", "-print_final_stats=1",
               f"-artifact_prefix={out}/", f"-seed={seed}"]
        t0 = time.monotonic()
        done = subprocess.run(cmd, capture_output=True, text=True, errors="replace",
                              cwd=str(ROOT))
        seconds = time.monotonic() - t0
    log = done.stderr + done.stdout
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", log)
    executed = int(m.group(1)) if m else 0
    if done.returncode != 0 or executed < runs:
        tail = "\n".join(log.strip().splitlines()[-25:])
        return Result(h.name, "FAILED", executed, seconds,
                      f"exit {done.returncode}, {executed} inputs run; crash inputs in "
                      f"{out}\n{tail}")
    return Result(h.name, "ok", executed, seconds)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="harnesses to run (default: all): "
                   + ", ".join(h.name for h in HARNESSES))
    p.add_argument("--runs", type=int, default=100_000, help="inputs per harness")
    p.add_argument("--rss-limit-mb", type=int, default=512)
    p.add_argument("--timeout-s", type=int, default=10, help="per input")
    p.add_argument("--jobs", type=int, default=2, help="harnesses run at once")
    p.add_argument("--seed", type=int, default=1,
                   help="libFuzzer's random seed: fixed by default so a CI run is "
                   "reproducible; 0 picks a new one each run (for long local runs)")
    p.add_argument("--artifacts", type=Path, default=None,
                   help="where crash inputs go (default: a temporary directory)")
    args = p.parse_args(argv)
    known = {h.name: h for h in HARNESSES}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        print(f"fuzz/run.py: unknown harness {unknown}; harnesses are {list(known)}",
              file=sys.stderr)
        return 2
    if not _module_exists("atheris"):
        print("fuzz/run.py: atheris is not installed (pip install atheris; x86_64 wheels "
              "only): nothing fuzzed", file=sys.stderr)
        return 3
    chosen = [known[n] for n in args.names] or list(HARNESSES)
    artifacts = args.artifacts or Path(tempfile.mkdtemp(prefix="fuzz-artifacts-"))
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(
            lambda h: run_one(h, args.runs, args.rss_limit_mb, args.timeout_s, artifacts,
                              args.seed),
            chosen))
    failed = 0
    for r in results:
        rate = f"{r.runs / r.seconds:,.0f}/s" if r.seconds else "-"
        print(f"{r.name:<16} {r.status:<8} {r.runs:>9,} inputs {r.seconds:7.1f} s {rate:>10}")
        if r.status == "FAILED":
            failed += 1
            print(r.detail)
    print(f"total {time.monotonic() - t0:.1f} s wall, {len(results)} harnesses, "
          f"{failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
