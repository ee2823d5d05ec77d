"""The simulated link and scanner are the real drivers on an in-memory wire: what `kiosk
sim link` and `kiosk sim scan` send goes through the serial reader thread, the line
framing, the limits and the parser a real counter runs (bytes in, replies and recorded
events out)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from device.config import Config
from device.core import Core
from device.events import EventType
from drivers import registry
from drivers.base import ControlHandler
from drivers.link import SimLink
from drivers.scanner import MSG_UNKNOWN, ScannerDriver, make_payload
from drivers.simport import SimPort
from kiosk import cli
from tests.kiosk_support import db_rows, running_kiosk
from tests.serial_helpers import Watcher

AWAY = json.dumps({"op": "away", "reason": "开会", "return_at": "10:00"}, ensure_ascii=False)
BACK = '{"op": "back"}'


def _events(core: Core) -> list[str]:
    return [json.loads(b)["type"] for (b,) in core.store.query(
        "SELECT body FROM events ORDER BY seq")]


@pytest.fixture
def sim_link(core: Core, config: Config, request: pytest.FixtureRequest
             ) -> Iterator[ControlHandler]:
    """The registry's simulated link, started; yields its `kiosk sim link` handler."""
    limits = getattr(request, "param", {})
    link = registry.link(dataclasses.replace(config.link, **limits))
    assert isinstance(link, SimLink)
    link.start(core)
    yield link.control_commands()["link"]
    link.close()


# ------------------------------------------------------------------ the link


@pytest.mark.parametrize("sim_link", [{"max_line_bytes": 256}], indirect=True)
def test_a_too_long_sim_line_meets_the_links_line_limit(core: Core, sim_link) -> None:
    before = _events(core)
    long = json.dumps({"op": "away", "reason": "x" * 300, "return_at": "10:00"})
    reply = sim_link({"line": long})
    assert reply["ok"] is True and reply["reply"]["ok"] is False
    # The framing's answer (LineSplitter/TooLong), not the JSON parser's.
    assert reply["reply"]["error"].startswith("line longer than 256 bytes: discarded up to "
                                              "the next newline")
    assert _events(core) == before
    # Discarding ended at the newline: the next line is read whole and applied.
    assert sim_link({"line": AWAY})["reply"]["ok"] is True
    assert _events(core) == [*before, EventType.AWAY_STARTED]


@pytest.mark.parametrize("sim_link", [{"max_lines_per_s": 1}], indirect=True)
def test_a_sim_flood_meets_the_links_rate_limit(core: Core, sim_link) -> None:
    before = _events(core)
    # Three lines in one request, then one more: one line a second gets through.
    reply = sim_link({"line": f"{AWAY}\n{BACK}\n{BACK}"})["reply"]
    assert reply["ok"] is False
    assert [r["ok"] for r in reply["replies"]] == [True, False, False]
    assert all("too many lines: more than 1 per second" in r["error"]
               for r in reply["replies"][1:])
    again = sim_link({"line": BACK})["reply"]
    assert again["ok"] is False and "link.max_lines_per_s" in again["error"]
    assert _events(core) == [*before, EventType.AWAY_STARTED]  # only the first applied
    assert core.state.away is not None


def test_a_blank_sim_line_is_a_keep_alive(core: Core, sim_link) -> None:
    before = _events(core)
    reply = sim_link({"line": "  "})["reply"]
    assert reply["ok"] is False and "keep-alive" in reply["error"]
    assert _events(core) == before


def test_sim_lines_split_where_the_wire_would(core: Core, sim_link) -> None:
    # One request holding two lines (CR LF, as a Windows workstation ends them): the
    # splitter makes two lines of it, each answered, as off a serial port.
    reply = sim_link({"line": AWAY + "\r\n" + BACK})["reply"]
    assert [r["ok"] for r in reply["replies"]] == [True, True]
    assert _events(core)[-2:] == [EventType.AWAY_STARTED, EventType.AWAY_ENDED]


def test_kiosk_sim_link_flood_is_refused_by_the_running_counter(
        config: Config, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    cfg = dataclasses.replace(config, link=dataclasses.replace(config.link,
                                                               max_lines_per_s=1))
    with running_kiosk(cfg) as app:
        state = str(app.config.state_dir)
        assert cli.main(["sim", "--state-dir", state, "link", AWAY]) == 0
        before = db_rows(app.config.db_path)
        assert cli.main(["sim", "--state-dir", state, "link", BACK]) == 1
        out = capsys.readouterr().out.splitlines()
        assert "too many lines" in json.loads(out[-1])["reply"]["error"]
        assert db_rows(app.config.db_path) == before


# ------------------------------------------------------------------ the scanner


@pytest.fixture
def sim_scanner(core: Core, config: Config, clock) -> Iterator[tuple[ScannerDriver, list[str]]]:
    codes: list[str] = []

    def check_in(code: str) -> object:
        codes.append(code)
        return type("R", (), {"ok": True, "message": "签到成功", "ticket": None})()

    scanner = registry.scanner(config, check_in=check_in, clock=clock)
    assert isinstance(scanner.sim, SimPort)
    scanner.start(core)
    yield scanner, codes
    scanner.close()


def _today(config: Config, clock) -> str:
    return datetime.fromtimestamp(clock(), ZoneInfo(config.device.timezone)).strftime("%Y%m%d")


def test_a_too_long_sim_scan_meets_the_scanners_line_limit(core: Core, config: Config,
                                                           clock, sim_scanner) -> None:
    scanner, codes = sim_scanner
    watcher = Watcher(core)
    scan = scanner.control_commands()["scan"]
    reply = scan({"code": "A" * (config.scanner.max_line_bytes + 1)})["reply"]
    # The framing's refusal (TooLong at scanner.max_line_bytes), said on screen.
    assert reply == {"ok": False, "error": f"scan longer than {config.scanner.max_line_bytes} "
                     "bytes", "screen": MSG_UNKNOWN}
    assert watcher.notices() == [(MSG_UNKNOWN, "error")]
    good = make_payload(config.device.site, "1001", _today(config, clock))
    assert scan({"code": good})["reply"]["code"] == "1001" and codes == ["1001"]


def test_sim_scans_split_at_cr_and_lf_like_the_serial_scanner(config: Config, clock,
                                                              sim_scanner) -> None:
    scanner, codes = sim_scanner
    day = _today(config, clock)
    two = make_payload(config.device.site, "1002", day) + "\r\n" + make_payload(
        config.device.site, "1003", day)
    reply = scanner.control_commands()["scan"]({"code": two})["reply"]
    assert [r["code"] for r in reply["replies"]] == ["1002", "1003"] and reply["ok"] is True
    assert codes == ["1002", "1003"]
    empty = scanner.control_commands()["scan"]({"code": ""})["reply"]
    assert empty["ok"] is False and codes == ["1002", "1003"]


def test_a_closed_sim_port_refuses_like_a_pulled_one() -> None:
    line = SimPort()
    end = line.opener()
    end.close()
    with pytest.raises(OSError):
        end.read(1)
