"""The collector's record of content results, on SQLite and PostgreSQL: a refusal of a
later version keeps the version the counter still shows."""

from __future__ import annotations

import pytest

from device.errors import ParseError
from hq.publish import results
from hq.store import HqStore


def test_a_refusal_keeps_the_applied_version(hq_url: str) -> None:
    store = HqStore.open(hq_url)
    try:
        ok = results.parse_result(b'{"kind": "roster", "version": "20261202.1", "ok": true, '
                                  b'"applied": true, "ts": "2026-12-02T02:00:00.000Z"}', "roster")
        results.record(store.db, "s1", "w01", ok)
        bad = results.parse_result(b'{"kind": "roster", "version": "20261202.2", "ok": false, '
                                   b'"applied": false, "error": "roster: bad", '
                                   b'"ts": "2026-12-02T03:00:00.000Z"}', "roster")
        results.record(store.db, "s1", "w01", bad)
        rows = store.db.all("SELECT version, ok, error, applied_version FROM "
                              "hq_content_results WHERE site = ? AND device = ?", ("s1", "w01"))
        assert [tuple(r) for r in rows] == [("20261202.2", 0, "roster: bad", "20261202.1")]
    finally:
        store.close()


def test_a_result_on_the_wrong_kind_topic_is_refused() -> None:
    with pytest.raises(ParseError, match="kind 'notices' on the 'roster' topic"):
        results.parse_result(b'{"kind": "notices", "ok": true, "applied": true, '
                             b'"ts": "2026-12-02T02:00:00Z"}', "roster")
    assert results.result_topic("kiosk/v1", "kiosk/v1/s1/w01/content/roster/result") == \
        ("s1", "w01", "roster")
    assert results.result_topic("kiosk/v1", "kiosk/v1/s1/w01/state") is None
