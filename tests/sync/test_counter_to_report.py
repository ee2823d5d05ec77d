"""From a real counter's journal to HQ's report: a case opened by calling a ticket counts
under that ticket's service, and a flagged mirror field under the case's officer and
service, not under "-" (issue 9, items 2 and 7)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from device.core import Core
from device.intents import CaseEnd, MirrorAnswer, MirrorField, Press
from device.store import Store
from hq.store import HqStore
from kiosk.sync_cli import main_hq


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_called_cases_and_flags_are_reported_where_they_belong(core: Core, desk, store: Store,
                                                               config, tmp_path: Path) -> None:
    desk.issue_ticket("id_card.renew")
    core.submit(Press("next"))  # calls A001: an ID card renewal, not a walk-in
    core.submit(MirrorField("name", "姓名", "张三丰"))
    core.submit(MirrorAnswer("name", False))  # the citizen flags it
    core.submit(CaseEnd())
    core.submit(Press("satisfied"))
    journal = [(json.loads(b), False) for (b,) in store.query(
        "SELECT body FROM events ORDER BY seq")]
    url = f"sqlite:///{tmp_path / 'hq.db'}"
    hq = HqStore.open(url)
    hq.ingest(journal)
    hq.close()
    today = datetime.now(UTC).date()
    out = tmp_path / "report"
    assert main_hq(["report", "--db", url, "--from", str(today - timedelta(days=1)),
                    "--to", str(today + timedelta(days=2)), "--out", str(out)]) == 0
    sat = {(r["dimension"], r["key"]): r for r in _read(out / "satisfaction.csv")}
    assert ("service", "walk_in") not in sat
    renew = sat[("service", "id_card.renew")]
    assert (renew["cases"], renew["mirror_flags"], renew["satisfied"]) == ("1", "1", "1")
    assert sat[("officer", "000001")]["mirror_flags"] == "1"
    assert all(r["mirror_flags"] in ("", "0") for k, r in sat.items() if k[1] == "-")
