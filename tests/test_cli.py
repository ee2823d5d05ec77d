"""`kiosk sim` and `kiosk events` against a real counter (its control socket and database)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.config import Config
from kiosk import cli
from kiosk.app import KioskApp
from kiosk.control import ControlClient
from tests.kiosk_support import db_rows, running_kiosk

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def app(config: Config, monkeypatch: pytest.MonkeyPatch) -> Iterator[KioskApp]:
    monkeypatch.delenv("KIOSK_CONFIG", raising=False)
    with running_kiosk(config) as a:
        yield a


def kiosk(capsys: pytest.CaptureFixture[str], state: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main([args[0], "--state-dir", str(state), *args[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def replies(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_sim_drives_a_whole_case(app: KioskApp, capsys: pytest.CaptureFixture[str]) -> None:
    d = app.config.state_dir
    code, out, _ = kiosk(capsys, d, "sim", "press", "next")
    assert code == 0 and replies(out)[0]["events"][0]["type"] == "case.started"
    field = json.dumps({"op": "field", "key": "name", "label": "姓名", "value": "张三丰"},
                       ensure_ascii=False)
    code, out, _ = kiosk(capsys, d, "sim", "link", field)
    assert code == 0 and replies(out)[0]["reply"]["ok"] is True
    # The link ends the case: a second `press next` this soon would be contact bounce.
    assert kiosk(capsys, d, "sim", "link", '{"op": "case_end"}')[0] == 0
    code, out, _ = kiosk(capsys, d, "sim", "press", "very_satisfied", "--times", "3")
    taken = [r["taken"] for r in replies(out)]
    assert taken == [True, False, False] and code == 1  # repeats are refused, and say so
    # Within gpio.bounce_ms the repeat is debounced; later (a loaded machine) the counter
    # refuses it, having no case to rate any more. Either way it says why.
    reason = replies(out)[1]["reason"]
    assert reason == "debounced or ignored" or reason.endswith("was already rated"), out
    code, out, _ = kiosk(capsys, d, "sim", "state")
    state = replies(out)[0]
    assert code == 0 and state["state"]["mode"] == "idle" and state["unsent"] == 4
    assert state["state"]["last_rating"] == "very_satisfied"

    code, out, err = kiosk(capsys, d, "events", "--json")
    events = replies(out)
    assert code == 0 and [e["type"] for e in events] == [
        "device.boot", "case.started", "case.ended", "rating.given"]
    assert all(e["sent_at"] is None for e in events)
    assert "张三丰" not in out + err
    code, out, err = kiosk(capsys, d, "events")
    assert code == 0 and "UNSENT" in out and "rating.given" in out
    assert "4 shown, 4 unsent" in err
    code, out, _ = kiosk(capsys, d, "events", "--limit", "1", "--json")
    assert [e["type"] for e in replies(out)] == ["rating.given"]


def test_sim_pins_show_the_leds(app: KioskApp, capsys: pytest.CaptureFixture[str]) -> None:
    d = app.config.state_dir
    kiosk(capsys, d, "sim", "press", "next")
    kiosk(capsys, d, "sim", "link", '{"op": "case_end"}')
    code, out, _ = kiosk(capsys, d, "sim", "pins")
    pins = replies(out)[0]
    assert code == 0 and set(pins["leds"].values()) == {True}


@pytest.mark.parametrize(("args", "error"), [
    (("press", "excellent"), "unknown button 'excellent'"),
    (("link", "not json"), "line is not JSON"),
    (("link", '{"op": "warp"}'), "unknown op 'warp'"),
    (("link", '{"op": "case_start", "case_no": 7, "service": "a.b"}'),
     "'case_no' must be a string"),
    (("link", '{"op": "sign_in", "badge": "' + "1" * 4097 + '"}'), "line longer than"),
    (("raw", '{"cmd": "warp"}'), "unknown command 'warp'"),
    (("press", "satisfied"), "no case to rate"),
])
def test_sim_errors_exit_1_and_change_nothing(app: KioskApp,
                                              capsys: pytest.CaptureFixture[str],
                                              args: tuple[str, ...], error: str) -> None:
    before = db_rows(app.config.db_path)
    code, out, err = kiosk(capsys, app.config.state_dir, "sim", *args)
    assert code == 1
    assert error in out
    assert f"kiosk sim {args[0]}: refused" in err
    assert db_rows(app.config.db_path) == before


def test_sim_raw_needs_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = kiosk(capsys, tmp_path, "sim", "raw", "{not json")
    assert code == 2 and "must be a JSON object" in err


def test_sim_without_a_counter_exits_1(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = kiosk(capsys, tmp_path, "sim", "press", "next")
    assert code == 1 and out == ""
    assert "no counter is running" in err and str(tmp_path / "control.sock") in err
    assert "Fix: start one with `kiosk run --simulate`" in err
    assert not (tmp_path / "kiosk.db").exists()


def test_unknown_sim_command_is_a_usage_error(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "sim", "--state-dir",
                           str(tmp_path), "warp"], capture_output=True, text=True,
                          timeout=30, cwd=ROOT)
    assert proc.returncode == 2
    assert "invalid choice: 'warp'" in proc.stderr and "press" in proc.stderr


def test_events_without_a_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = kiosk(capsys, tmp_path, "events")
    assert code == 1 and "no database at" in err and "Fix:" in err
    assert not (tmp_path / "kiosk.db").exists()  # looking never creates one


def test_second_kiosk_on_the_same_state_dir_is_refused(app: KioskApp) -> None:
    before = db_rows(app.config.db_path)
    proc = subprocess.run([sys.executable, "-m", "kiosk.cli", "run", "--simulate",
                           "--headless", "--state-dir", str(app.config.state_dir)],
                          capture_output=True, text=True, timeout=30, cwd=ROOT)
    assert proc.returncode == 1
    assert f"another kiosk (pid {os.getpid()}) is running" in proc.stderr
    assert "Fix: " in proc.stderr
    assert db_rows(app.config.db_path) == before  # it wrote nothing
    with ControlClient(app.config.control_socket) as c:  # and took nothing over
        assert c.request({"cmd": "ping"}) == {"ok": True}


def test_the_log_follows_stdout_when_it_is_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test's captured stdout closes after the test; a handler bound to it at setup
    printed "I/O operation on closed file" for every later record."""
    import io
    import logging

    from kiosk import logsetup

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", first)
    logsetup.setup("INFO")
    logging.getLogger("core").warning("one")
    monkeypatch.setattr("sys.stdout", second)
    first.close()
    logging.getLogger("core").warning("two")
    assert second.getvalue().rstrip().endswith("WARNING core: two")


def test_log_lines_for_the_console_and_for_journald(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import logging

    from kiosk import logsetup

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    for journal, expect in ((None, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d WARNING core: two\nlines$"),
                            ("8:1234", r"^<4>core: two \| lines$")):
        if journal:
            monkeypatch.setenv("JOURNAL_STREAM", journal)
        else:
            monkeypatch.delenv("JOURNAL_STREAM", raising=False)
        out = io.StringIO()
        logsetup.setup("INFO", stream=out)
        logging.getLogger("core").warning("two\nlines")
        logging.getLogger("core").debug("not at INFO")
        assert re.match(expect, out.getvalue().strip()), out.getvalue()
