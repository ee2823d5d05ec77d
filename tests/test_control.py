"""The control socket: every reply is one JSON object with ``ok``; garbage, unknown commands
and bad workstation-link lines get a clear error and change nothing in the database."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.config import Config
from device.errors import KioskError
from kiosk.app import KioskApp
from kiosk.control import MAX_REQUEST, ControlClient, ControlError, dispatch
from tests.kiosk_support import db_rows, running_kiosk


@pytest.fixture
def app(config: Config) -> Iterator[KioskApp]:
    with running_kiosk(config) as a:
        yield a


@pytest.fixture(scope="module")
def idle_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KioskApp]:
    """One counter for the tests that must change nothing (they check that they did not)."""
    cfg = Config().with_state_dir(tmp_path_factory.mktemp("idle") / "state").simulated()
    with running_kiosk(cfg) as a:
        yield a


@pytest.fixture
def client(app: KioskApp) -> Iterator[ControlClient]:
    with ControlClient(app.config.control_socket, timeout=10) as c:
        yield c


# ------------------------------------------------------------------ dispatch


def _boom(_req: dict) -> dict:
    raise KioskError("the printer is on fire")


def _bug(_req: dict) -> dict:
    raise ZeroDivisionError("oops")


HANDLERS = {"ping": lambda r: {"ok": True}, "boom": _boom, "bug": _bug}


@pytest.mark.parametrize(("raw", "error"), [
    (b"not json", "request is not JSON (one JSON object per line)"),
    (b"\xff\xfe{}", "request is not UTF-8 text"),
    (b"[1, 2]", "request must be a JSON object"),
    (b'"ping"', "request must be a JSON object"),
    (b"{}", "unknown command None; commands are boom, bug, ping"),
    (b'{"cmd": 5}', "unknown command 5"),
    (b'{"cmd": "launch"}', "unknown command 'launch'"),
    (b'{"cmd": "boom"}', "the printer is on fire"),
    (b'{"cmd": "bug"}', "internal error: oops"),
])
def test_dispatch_never_raises(raw: bytes, error: str) -> None:
    reply = dispatch(HANDLERS, raw)
    assert reply["ok"] is False and error in reply["error"]
    assert dispatch(HANDLERS, b'{"cmd": "ping"}') == {"ok": True}


# ------------------------------------------------------------------ over the socket

GARBAGE = [
    b"not json",
    b"\xff\xfe\xfd",
    b"[1, 2, 3]",
    b"{}",
    b'{"cmd": "launch_missiles"}',
    b'{"cmd": null}',
    b'{"cmd": "press"}',
    b'{"cmd": "press", "button": "excellent"}',
    b'{"cmd": "press", "button": ["next"]}',
    b'{"cmd": "link"}',
    b'{"cmd": "link", "line": {"op": "case_start"}}',
    b'{"cmd": "ping", "trailing": "ok"} {"cmd": "press", "button": "next"}',
]


def _raw_exchange(path: Path, payload: bytes) -> list[dict]:
    """Send raw bytes (one or more lines) and read one reply line per line sent."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        f = s.makefile("rwb")
        f.write(payload)
        f.flush()
        return [json.loads(f.readline()) for _ in range(payload.count(b"\n"))]


def test_garbage_gets_errors_and_changes_nothing(idle_app: KioskApp) -> None:
    app = idle_app
    before = db_rows(app.config.db_path)
    replies = _raw_exchange(app.config.control_socket, b"\n".join(GARBAGE) + b"\n")
    assert len(replies) == len(GARBAGE)
    for raw, reply in zip(GARBAGE, replies, strict=True):
        assert reply["ok"] is False, (raw, reply)
        assert isinstance(reply["error"], str) and reply["error"], raw
    assert "unknown command 'launch_missiles'" in replies[4]["error"]
    assert "press" in replies[4]["error"] and "link" in replies[4]["error"]  # lists them
    assert "unknown button 'excellent'" in replies[7]["error"]
    assert db_rows(app.config.db_path) == before


def test_too_long_request_gets_one_error_and_the_connection_stays_in_step(
        idle_app: KioskApp) -> None:
    app = idle_app
    before = db_rows(app.config.db_path)
    huge = b'{"cmd": "press", "button": "next", "pad": "' + b"x" * (MAX_REQUEST * 2) + b'"}'
    replies = _raw_exchange(app.config.control_socket, huge + b'\n{"cmd": "ping"}\n')
    assert replies == [{"ok": False, "error": "request too long"}, {"ok": True}]
    assert db_rows(app.config.db_path) == before


LINK_GARBAGE = [
    ("not json", "line is not JSON"),
    ("", "line is not JSON"),
    ("[]", "line must be a JSON object"),
    ('{"op": "launch"}', "unknown op 'launch'"),
    ('{"case_no": "C-1"}', "unknown op None"),
    ('{"op": "case_start", "case_no": 5, "service": "a.b"}', "'case_no' must be a string"),
    ('{"op": "case_start", "service": "a.b"}', "missing field 'case_no'"),
    ('{"op": "case_start", "case_no": "C 1", "service": "a.b"}', "case_no 'C 1'"),
    ('{"op": "field", "key": "name", "label": "姓名", "value": "张三", "sensitive": "yes"}',
     "'sensitive' must be true or false"),
    ('{"op": "sign_in", "badge": "' + "9" * 50 + '"}', "longer than 20"),
    ('{"op": "case_start", "case_no": "C-1", "service": "a.b", "id": [1]}',
     "'id' must be a string of at most 64 characters or an integer"),
    ('{"op": "case_end"}', "no open case to end"),  # valid line, refused by the counter
    ('{"op": "away", "reason": "x", "return_at": "soon"}', "must be HH:MM"),
    ('{"op": "field", "key": "k", "label": "l", "value": "' + "长" * 5000 + '"}',
     "longer than"),
]


@pytest.mark.parametrize(("line", "error"), LINK_GARBAGE)
def test_link_garbage_is_refused_and_changes_nothing(idle_app: KioskApp, line: str,
                                                     error: str) -> None:
    app = idle_app
    client = ControlClient(app.config.control_socket, timeout=10)
    before = db_rows(app.config.db_path)
    state = client.request({"cmd": "state"})
    reply = client.request({"cmd": "link", "line": line})
    assert reply["ok"] is True  # the control request itself was fine...
    assert reply["reply"]["ok"] is False and error in reply["reply"]["error"]  # ...the line not
    assert db_rows(app.config.db_path) == before
    assert client.request({"cmd": "state"})["state"] == state["state"]
    client.close()


def test_link_reply_carries_the_correlation_id_and_seqs(app: KioskApp,
                                                        client: ControlClient) -> None:
    line = json.dumps({"op": "case_start", "case_no": "C-1", "service": "id_card.renew",
                       "id": 42})
    reply = client.request({"cmd": "link", "line": line})["reply"]
    assert reply["ok"] is True and reply["id"] == 42 and reply["state"] == "serving"
    events, _ = db_rows(app.config.db_path)
    assert reply["seq"] == [events[-1][0]] and events[-1][1] == "case.started"


def test_state_never_shows_mirror_values(app: KioskApp, client: ControlClient) -> None:
    client.request({"cmd": "press", "button": "next"})
    line = json.dumps({"op": "field", "key": "id_number", "label": "身份证号",
                       "value": "440301199001011234", "sensitive": True})
    assert client.request({"cmd": "link", "line": line})["reply"]["ok"] is True
    reply = client.request({"cmd": "state"})
    assert reply["state"]["mirror"] == [{"key": "id_number", "label": "身份证号",
                                         "status": "pending"}]
    assert "440301199001011234" not in json.dumps(reply)


def test_client_without_a_counter_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(ControlError, match="no counter is running") as info:
        ControlClient(tmp_path / "control.sock")
    assert "kiosk run --simulate" in str(info.value)


def test_sim_confirm_is_the_citizens_tap_on_a_headless_counter(app: KioskApp,
                                                               client: ControlClient) -> None:
    reply = client.request({"cmd": "confirm"})
    assert reply == {"ok": False, "state": "idle", "error": reply["error"]}
    assert "no document" in reply["error"]  # nothing on the mirror to confirm
    for line in ({"op": "case_start", "case_no": "C-7", "service": "hukou.move_in"},
                 {"op": "notice", "materials": [2]}):
        assert client.request({"cmd": "link", "line": json.dumps(line)})["reply"]["ok"]
    assert client.request({"cmd": "confirm"}) == {"ok": True, "state": "serving"}
    assert app.core is not None
    [(kind, body)] = app.core.store.query("SELECT kind, body FROM print_jobs")
    assert kind == "notice" and json.loads(body)["missing"] == ["本人居民身份证（原件）"]
