"""The `kiosk` command fails in one clean line, never a traceback (issue 9, items 12-13):
a bad state directory or `--config DIR` exits 2 with the path and the fix; `kiosk sim`
with invalid UTF-8 arguments, piped into a reader that goes away, or talking to a
counter that dies mid-request exits 1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from device.config import Config
from kiosk.app import KioskApp
from tests.kiosk_support import running_kiosk

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534


def kiosk(*args: str | bytes, timeout: float = 60, **kw: Any) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_CONFIG"}
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], text=True,
                          errors="replace", timeout=timeout, cwd=ROOT, env=env, **kw)


def assert_one_clean_line(proc: subprocess.CompletedProcess[str], code: int,
                          *words: str) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    for w in words:
        assert w in proc.stderr, proc.stderr


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A temp dir another user can enter (pytest's own are 0700, root's)."""
    d = Path(tempfile.mkdtemp(prefix="kiosk-statedir-"))
    d.chmod(0o755)
    yield d
    subprocess.run(["rm", "-rf", str(d)], check=False)


def _as_other_user(path: Path) -> dict[str, Any]:
    """Run the kiosk so that ``path`` (owned by us, 0755) is not writable for it: as root
    (who passes every permission check) as nobody, else as ourselves with it read-only."""
    if os.geteuid() == 0:
        return {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    path.chmod(0o555)
    return {}


# ------------------------------------------------------------------ item 12: state dirs

def _run(state: str | Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return kiosk("run", "--simulate", "--headless", "--state-dir", str(state), **kw)


def test_state_dir_that_is_a_file(tmp_path: Path) -> None:
    f = tmp_path / "state"
    f.write_text("not a directory")
    assert_one_clean_line(_run(f), 2, str(f), "is a file, not a directory", "Fix: ")
    assert f.read_text() == "not a directory"


def test_state_dir_under_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert_one_clean_line(_run(f / "sub" / "state"), 2, f"{f} is a file", "Fix: ")


def test_unwritable_state_dir(shared_tmp: Path) -> None:
    state = shared_tmp / "state"
    state.mkdir(mode=0o755)
    proc = _run(state, **_as_other_user(state))
    assert_one_clean_line(proc, 2, str(state), "is not writable by", "Fix: ", "chown")
    assert list(state.iterdir()) == []


def test_read_only_lock_file(shared_tmp: Path) -> None:
    state = shared_tmp / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)  # the kiosk may write here...
    lock = state / "kiosk.lock"
    lock.write_text("")
    lock.chmod(0o444)  # ...but not its lock file
    kw = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    proc = _run(state, **kw)
    assert_one_clean_line(proc, 2, f"lock file {lock} cannot be opened for writing", "Fix: ")
    assert not (state / "kiosk.db").exists()


def test_read_only_database_left_by_another_user(shared_tmp: Path) -> None:
    state = shared_tmp / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    db = state / "kiosk.db"
    db.write_bytes(b"")
    db.chmod(0o444)
    kw = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    assert_one_clean_line(_run(state, **kw), 2, f"database file {db} cannot be opened for "
                          "writing", "Fix: ")


def test_config_that_is_a_directory(tmp_path: Path) -> None:
    for args in (["check-config"], ["run", "--simulate", "--headless", "--state-dir",
                                    str(tmp_path / "s")]):
        proc = kiosk(*args, "--config", str(tmp_path))
        assert_one_clean_line(proc, 2, f"{tmp_path}: is a directory", "Fix: ")


def test_unreadable_config(shared_tmp: Path) -> None:
    cfg = shared_tmp / "config.toml"
    cfg.write_text("[device]\n")
    cfg.chmod(0o600)
    kw = _as_other_user(shared_tmp) if os.geteuid() == 0 else {}
    if not kw:
        cfg.chmod(0o000)
    proc = kiosk("check-config", "--config", str(cfg), **kw)
    assert_one_clean_line(proc, 2, f"{cfg}: cannot be read", "Fix: ")


def test_sim_and_events_with_a_state_dir_under_a_file(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert_one_clean_line(kiosk("sim", "--state-dir", str(f), "state"), 1,
                          f"cannot reach the control socket {f}/control.sock", "Fix: ")
    assert_one_clean_line(kiosk("events", "--state-dir", str(f)), 1, "no database", "Fix: ")


# ------------------------------------------------------------------ item 13: kiosk sim

@pytest.fixture
def app(config: Config) -> Iterator[KioskApp]:
    with running_kiosk(config) as a:
        yield a


@pytest.mark.parametrize("args", [
    [b"link", b'{"op":"away","reason":"\xff\xfe","return_at":"15:30"}'],
    [b"scan", b"CK1|demo-site|\xc3|20261126|F"],
    [b"press", b"n\xe9xt"],
    [b"raw", b'{"cmd":"ping","x":"\xff"}'],
])
def test_sim_with_invalid_utf8_arguments(app: KioskApp, args: list[bytes]) -> None:
    before = app.core.store.head()
    proc = kiosk("sim", "--state-dir", str(app.config.state_dir), *args)
    assert_one_clean_line(proc, 1, "is not valid UTF-8", "byte 0x", "Fix: ")
    assert proc.stdout == "" and app.core.store.head() == before


def test_sim_lone_surrogate_escape_goes_to_the_counter_which_refuses_it(app: KioskApp) -> None:
    # Typed as a JSON escape it is valid UTF-8 text: the counter judges it, and says why.
    proc = kiosk("sim", "--state-dir", str(app.config.state_dir), "link",
                 '{"op":"away","reason":"\\udcff","return_at":"15:30"}')
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "field 'reason' is not valid Unicode" in proc.stdout


def test_sim_piped_into_a_reader_that_goes_away(app: KioskApp) -> None:
    read, write = os.pipe()
    os.close(read)  # like `| head -1` after its line: every write now fails with EPIPE
    try:
        proc = kiosk("sim", "--state-dir", str(app.config.state_dir), "press", "next",
                     "--times", "50", stdout=write, stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and "broken pipe" in proc.stderr


def test_events_piped_into_a_reader_that_goes_away(app: KioskApp) -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        proc = kiosk("events", "--state-dir", str(app.config.state_dir), stdout=write,
                     stderr=subprocess.PIPE)
    finally:
        os.close(write)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "broken pipe" in proc.stderr


class DyingCounter:
    """A control socket whose counter dies mid-request, the way the kernel reports it:
    it reads part of the request and closes (ECONNRESET at the client), or answers half
    a line and closes."""

    def __init__(self, state: Path, half_reply: bool) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(state / "control.sock"))
        self.sock.listen(1)
        self.half_reply = half_reply
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            if self.half_reply:
                conn.makefile("rb").readline()
                conn.sendall(b'{"ok": tr')
            else:
                conn.recv(1)  # the rest stays unread: closing now resets the connection

    def close(self) -> None:
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.mark.parametrize(("half", "why"), [(False, "Connection reset by peer"),
                                            (True, "the reply was cut off")])
def test_sim_when_the_counter_dies_mid_request(tmp_path: Path, half: bool, why: str) -> None:
    counter = DyingCounter(tmp_path / "state", half)
    try:
        proc = kiosk("sim", "--state-dir", str(tmp_path / "state"), "press", "next")
    finally:
        counter.close()
    assert_one_clean_line(proc, 1, "closed the control connection", why, "Fix: ")
    assert proc.stdout == ""
