"""Every SQL statement on kiosk.db sits behind a named method of device.store.Store.

Checked on the source: a string that starts like SQL, or a call of ``execute`` /
``sqlite3.connect``, may stand only in the store's modules (and the HQ side, whose
database is hq.db). A query planted anywhere else fails here with its file and line.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ("device", "drivers", "ui", "sync", "kiosk", "station")
STORE = {
    "device/store.py", "device/store_types.py", "device/store_queue.py",
    "device/store_content.py", "device/store_journal.py", "device/store_sync.py",
    "device/printjobs.py", "device/shedding.py", "device/migrations.py",
    # station.db's queue tables (station/): the station store's, beside device.store's.
    "station/store.py", "station/migrations.py",
}
# HQ's database (hq.db on SQLite or PostgreSQL), not the counter's.
HQ = {"sync/hq_db.py", "sync/hq_store.py", "sync/report.py"}
# Upper case, as the project writes SQL: prose that starts "Commit ..." is not a query.
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|PRAGMA|BEGIN|COMMIT|ROLLBACK|"
                 r"CREATE|DROP|ALTER)\b")
CALLS = {"execute", "executemany", "executescript"}


def sql_sites(path: Path) -> list[str]:
    """``line: what`` for each SQL string or database call in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and SQL.match(node.value):
            found.append(f"{node.lineno}: {node.value.strip()[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            f = node.func
            owner = f.value.id if isinstance(f.value, ast.Name) else ""
            if f.attr in CALLS or (owner == "sqlite3" and f.attr == "connect"):
                found.append(f"{node.lineno}: {ast.unparse(f)}()")
    return found


def offenders(root: Path) -> dict[str, list[str]]:
    out = {}
    for package in PROGRAM:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            if rel in STORE or rel in HQ:
                continue
            if sites := sql_sites(path):
                out[rel] = sorted(sites)
    return out


def test_no_sql_on_kiosk_db_outside_the_store() -> None:
    assert offenders(ROOT) == {}, "move the statement into a named Store method"


def test_a_planted_query_is_found(tmp_path: Path) -> None:
    planted = tmp_path / "device" / "tickets.py"
    planted.parent.mkdir()
    planted.write_text('def f(conn):\n    return conn.execute("SELECT 1 FROM events")\n',
                       encoding="utf-8")
    assert offenders(tmp_path) == {"device/tickets.py": [
        "2: 'SELECT 1 FROM events'", "2: conn.execute()"]}
