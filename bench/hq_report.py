"""Benchmark: the console's report (hq.reports.queries.indicators) over many events.

    .venv/bin/python bench/hq_report.py --events 1000000 --days 365            # SQLite
    .venv/bin/python bench/hq_report.py --events 5000000 --days 30 --postgresql

Events (case.ended / rating.given / rating.skipped over 1,000 windows of 50 stations,
verified) are written straight into hq_events (executemany on SQLite, COPY on
PostgreSQL, timed: that COPY is the baseline) and the report for the whole period is
timed by window, officer and service, each in a fresh process whose peak RSS is read
from getrusage. A bare ``count(*)`` over the same rows is the query baseline.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hq.facts import facts

LEVELS = ("very_satisfied", "satisfied", "satisfied", "basic", "unsatisfied")


def rows(n: int, start: date, days: int) -> Any:
    t0 = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    span = days * 86400
    for i in range(n):
        site, dev = f"s{i % 50:02d}", f"w{i % 1000:04d}"
        kind = ("case.ended", "rating.given", "rating.skipped")[i % 3 if i % 10 else 2]
        data: dict[str, Any] = {"case_no": f"C{i // 3}", "officer": f"{i % 3000:06d}",
                                "service": ("hukou", "id_card.renew", "id_card.first")[i % 3]}
        if kind == "rating.given":
            data["level"] = LEVELS[i % 5]
        if kind == "case.ended":
            data["mirror_flags"] = int(i % 7 == 0)
        ts = (t0 + timedelta(seconds=span * i / n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        body = json.dumps({"id": f"e{i}", "site": site, "device": dev, "seq": i + 1,
                           "ts": ts, "type": kind, "data": data}, separators=(",", ":"))
        ev = {"data": data}
        yield (f"e{i}", site, dev, i + 1, ts, kind, body, 0, ts, 1, 0, *facts(ev))


# The columns the collector writes, its fields copied out of the body (hq.facts) too.
COLS = ("id, site, device, seq, ts, type, body, replayed, received_at, verified, simulated, "
        "level, officer, service, mirror_flags, seconds")


def fill(url: str, n: int, start: date, days: int) -> float:
    from hq.db import HqDb

    db = HqDb.open(url)
    t = time.perf_counter()
    if db.kind == "postgresql":
        raw = db.conn.cursor().cursor  # psycopg's own cursor: COPY
        with raw.copy(f"COPY hq_events ({COLS}) FROM STDIN") as copy:
            for r in rows(n, start, days):
                copy.write_row(r)
    else:
        batch: list[tuple[Any, ...]] = []
        with db.tx():
            for r in rows(n, start, days):
                batch.append(r)
                if len(batch) == 10_000:
                    db.executemany(f"INSERT INTO hq_events ({COLS}) VALUES "
                                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
                    batch.clear()
            db.executemany(f"INSERT INTO hq_events ({COLS}) VALUES "
                           "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
    db.execute("ANALYZE")
    return time.perf_counter() - t


def _one(url: str, by: str, start: date, end: date, out: Any) -> None:
    from hq.db import HqDb
    from hq.reports.queries import By, indicators, utc_bound

    db = HqDb.open(url)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    if by == "count":
        n = db.one("SELECT count(*) FROM hq_events WHERE ts >= ? AND ts < ?",
                   (utc_bound(start), utc_bound(end)))
        groups = int(n[0]) if n else 0
    else:
        groups = len(indicators(db, start, end, by=By(by)))
    took = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((took, peak / 1024, (peak - base) / 1024, groups))


def measure(url: str, by: str, start: date, end: date) -> tuple[float, float, float, int]:
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_one, args=(url, by, start, end, q))
    p.start()
    res = q.get(timeout=600)
    p.join()
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--postgresql", action="store_true")
    a = ap.parse_args()
    start = date(2026, 1, 1)
    end = start + timedelta(days=a.days)
    cluster = None
    if a.postgresql:
        from tests.sync.pg import PgCluster, pg_bindir

        bindir = pg_bindir()
        assert bindir is not None, "PostgreSQL is not installed (apt install postgresql)"
        cluster = PgCluster(bindir)
        cluster.start(durable=True)
        url = cluster.create_database("bench")
    else:
        url = str(Path(tempfile.mkdtemp()) / "hq.db")
    try:
        load = fill(url, a.events, start, a.days)
        how = "COPY" if a.postgresql else "executemany"
        print(f"{'postgresql' if a.postgresql else 'sqlite'}: {a.events:,} events over "
              f"{a.days} days, loaded by {how} in {load:.1f} s")
        print(f"{'query':<10} {'s':>7} {'peak RSS MB':>12} {'+MB':>7} {'groups':>8}")
        for by in ("count", "window", "officer", "service", "station"):
            took, peak, grew, groups = measure(url, by, start, end)
            print(f"{by:<10} {took:7.2f} {peak:12.0f} {grew:7.0f} {groups:8}")
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    main()
