"""`kiosk doctor` against the simulated devices, and each failure it can report: bad
config, a missing serial port, a printer that does not answer (or is out of paper), a sign
that never says OK, a stuck button, a broker that is down or refuses the login, low disk,
a corrupt database and a wrong clock.

Real parts: pty serial ports with a fake device on the master side, gpiozero MockFactory
pins, a real Mosquitto, real SQLite files, a running simulated kiosk answering on its
control socket. Only the clock, the disk figures, timedatectl and the mount table are
injected (the doctor's Env).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import time
from collections import namedtuple
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.config import Config, MqttSection, SignSection
from device.store import Store
from kiosk import doctor
from kiosk.app import KioskApp
from kiosk.cli import build_parser
from kiosk.cli import main as kiosk_main
from tests.serial_helpers import Pty

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC).timestamp()
Usage = namedtuple("Usage", "total used free")
GB = 1024 ** 3


def env(**over: object) -> doctor.Env:
    """A healthy world: the clock is right and NTP-synced, plenty of disk on ext4."""
    base = doctor.Env(
        clock=time.time,
        disk_usage=lambda _p: Usage(32 * GB, 2 * GB, 30 * GB),
        run=lambda cmd: "yes" if cmd[0] == "timedatectl" else "active",
        fs_type=lambda _p: "ext4",
        systemd=False,
    )
    return dataclasses.replace(base, **over)  # type: ignore[arg-type]


def args(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["doctor", *extra])


def by_name(results: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in results}


@pytest.fixture
def cfg(tmp_path: Path) -> Config:
    return Config().with_state_dir(tmp_path / "state")


@pytest.fixture
def running(cfg: Config) -> Iterator[KioskApp]:
    """A simulated kiosk running headless in this process (its control socket answers)."""
    app = KioskApp(cfg.simulated(), headless=True)
    app.setup()
    yield app
    app.close()


@pytest.fixture
def pty() -> Iterator[Pty]:
    p = Pty()
    yield p
    p.close()


# ------------------------------------------------------------------ all pass


def test_everything_passes_against_a_running_simulated_counter(cfg, running, capsys):
    code = doctor.main(args("--simulate"), cfg, env=env())
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line for line in out.splitlines() if line[:4] in ("PASS", "WARN", "FAIL")]
    assert [line.split()[1] for line in lines] == [
        "config", "clock", "disk", "database", "counter", "gpio", "printer", "sign", "link",
        "scanner", "panel", "broker", "station"]
    assert all(line.startswith("PASS") for line in lines), out
    assert "kiosk is running: mode idle" in out
    assert "all checks pass" in out


def test_with_the_kiosk_stopped_the_simulated_devices_are_probed_directly(cfg):
    results = by_name(doctor.run_checks(cfg, simulate=True, env=env()))
    assert results["counter"].status == "WARN"
    for name in ("gpio", "printer", "sign", "link", "scanner"):
        assert results[name].status == "PASS", results[name]
    assert "claimed (simulated)" in results["gpio"].detail
    assert "online, paper ok (simulated)" in results["printer"].detail


def test_a_fault_in_the_running_counter_is_a_failed_device_with_its_fix(cfg, running, capsys):
    assert running.core is not None
    running.core.fault("sign", "no_reply", "no OK after 3 tries")
    code = doctor.main(args("--simulate"), cfg, env=env())
    out = capsys.readouterr().out
    assert code == 1
    line = next(x for x in out.splitlines() if x.startswith("FAIL"))
    assert line.split()[1] == "sign" and "sign: no_reply" in line
    assert "fix: the sign does not answer OK" in out


def test_json_output_is_one_object_per_check(cfg, capsys):
    doctor.main(args("--simulate", "--json", "--skip", "broker"), cfg, env=env())
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["name"] for r in rows} >= {"config", "clock", "gpio"}
    assert "broker" not in {r["name"] for r in rows}
    assert all(set(r) == {"name", "status", "detail", "fix"} for r in rows)


# ------------------------------------------------------------------ config


def test_a_bad_config_stops_with_exit_2_naming_the_key_line_and_fix(tmp_path, capsys):
    bad = tmp_path / "config.toml"
    bad.write_text('[device]\nsite = "s1"\n\n[sign]\nbaudrate = "fast"\n')
    assert kiosk_main(["doctor", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:5: sign.baudrate" in err and "Fix:" in err


def test_missing_credential_files_fail_the_config_check(cfg):
    mqtt = dataclasses.replace(MqttSection(), host="127.0.0.1", ca_file="/nope/ca.crt")
    results = by_name(doctor.run_checks(dataclasses.replace(cfg, mqtt=mqtt), env=env(),
                                        skip=["gpio", "printer", "sign", "link", "scanner"]))
    assert results["config"].status == "FAIL"
    assert "mqtt.ca_file = '/nope/ca.crt' does not exist" in results["config"].detail
    assert results["broker"].status == "FAIL" and "no such file" in results["broker"].detail


def test_a_production_config_still_simulated_is_a_warning(cfg):
    c = by_name(doctor.run_checks(cfg, env=env(), skip=["broker"]))["config"]
    assert c.status == "WARN" and "simulated: gpio, printer, sign" in c.detail
    assert "still the demo identity" in c.detail


# ------------------------------------------------------------------ broker


def mqtt_cfg(cfg: Config, port: int, **kw: object) -> Config:
    kw = {"tls": False, **kw}
    m = dataclasses.replace(MqttSection(), host="127.0.0.1", port=port, **kw)  # type: ignore[arg-type]
    return dataclasses.replace(cfg, mqtt=m)


def test_a_broker_that_is_down_fails(cfg):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = by_name(doctor.run_checks(mqtt_cfg(cfg, port), simulate=True, env=env(),
                                       timeout=2))["broker"]
    assert result.status == "FAIL" and "nothing accepts connections" in result.detail
    assert "broker is down" in result.fix


needs_mosquitto = pytest.mark.skipif(shutil.which("mosquitto") is None
                                     and not os.path.exists("/usr/sbin/mosquitto"),
                                     reason="mosquitto is not installed")


@needs_mosquitto
def test_a_broker_that_accepts_the_login_passes_and_one_that_refuses_fails(cfg, tmp_path):
    from tests.sync.conftest import Mosquitto

    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "w01", "right"], check=True,
                   capture_output=True, timeout=30)
    broker = Mosquitto(tmp_path / "broker",
                       extra=f"allow_anonymous false\npassword_file {passwd}\n")
    broker.start()
    try:
        good, bad = tmp_path / "good.pw", tmp_path / "bad.pw"
        good.write_text("right\n")
        bad.write_text("wrong\n")
        ok = doctor.check_broker(mqtt_cfg(cfg, broker.port, username="w01",
                                          password_file=str(good)), env(), False, 5)
        refused = doctor.check_broker(mqtt_cfg(cfg, broker.port, username="w01",
                                               password_file=str(bad)), env(), False, 5)
    finally:
        broker.stop()
    assert ok.status == "PASS" and f"connected to 127.0.0.1:{broker.port} as w01" in ok.detail
    assert refused.status == "FAIL" and "refused the login" in refused.detail
    assert "password" in refused.fix


# ------------------------------------------------------------------ disk, database, clock


def test_low_disk_fails_and_a_state_dir_in_ram_warns(cfg):
    low = env(disk_usage=lambda _p: Usage(8 * GB, 8 * GB - 50 * 1024 ** 2, 50 * 1024 ** 2))
    c = by_name(doctor.run_checks(cfg, simulate=True, env=low))["disk"]
    assert c.status == "FAIL" and "50 MB free" in c.detail and "journalctl" in c.fix
    ram = by_name(doctor.run_checks(cfg, simulate=True, env=env(fs_type=lambda _p: "overlay")))
    assert ram["disk"].status == "WARN" and "lost at reboot" in ram["disk"].detail


def test_a_corrupt_database_fails_with_what_the_kiosk_will_do(cfg):
    store = Store(cfg.db_path, site="s1", device="w01")
    store.close()
    data = bytearray(cfg.db_path.read_bytes())
    data[4096:8192] = b"\xde\xad\xbe\xef" * 1024  # page 2 overwritten
    cfg.db_path.write_bytes(bytes(data))
    c = by_name(doctor.run_checks(cfg, simulate=True, env=env()))["database"]
    assert c.status == "FAIL" and "integrity" in c.detail and "corrupt" in c.fix
    cfg.db_path.write_bytes(b"not a database at all" * 100)
    c = by_name(doctor.run_checks(cfg, simulate=True, env=env()))["database"]
    assert c.status == "FAIL"


def test_old_unsent_events_warn(cfg, running):
    later = env(clock=lambda: datetime.now(UTC).timestamp() + 3 * 86400)
    c = by_name(doctor.run_checks(cfg, simulate=True, env=later))["database"]
    assert c.status == "WARN" and "unsent" in c.detail and "broker" in c.fix


@pytest.mark.parametrize(("clock", "ntp", "status", "words"), [
    (NOW, "yes", "PASS", "NTP synchronised"),
    (NOW, "no", "WARN", "NTP not synchronised"),
    (0.0, "yes", "FAIL", "the clock says 1970-01-01"),
    (NOW, None, "WARN", "NTP state unknown"),
])
def test_the_clock(cfg, clock, ntp, status, words):
    world = env(clock=lambda: clock, run=lambda _cmd: ntp)
    c = by_name(doctor.run_checks(cfg, simulate=True, env=world))["clock"]
    assert c.status == status and words in c.detail


def test_a_clock_behind_the_newest_event_fails(cfg, running):
    # The running kiosk wrote device.boot just now; a clock a day behind went backwards.
    behind = env(clock=lambda: datetime.now(UTC).timestamp() - 86400)
    c = by_name(doctor.run_checks(cfg, simulate=True, env=behind))["clock"]
    assert c.status == "FAIL" and "went backwards" in c.detail


def test_services_are_checked_under_systemd(cfg):
    world = env(systemd=True, run=lambda cmd: "failed" if cmd[-1] == "kiosk-sync.service"
                else ("yes" if cmd[0] == "timedatectl" else "active"))
    c = by_name(doctor.run_checks(cfg, env=world, skip=["broker"]))["services"]
    assert c.status == "WARN" and "kiosk-sync.service failed" in c.detail
    assert "systemctl enable --now kiosk-sync.service" in c.fix


def test_a_database_from_another_counter_fails(cfg):
    from device.events import Draft, EventType

    store = Store(cfg.db_path, site="szpsb", device="w07")
    store.append([Draft(EventType.DEVICE_BOOT, {"version": "test"})])
    store.close()
    c = by_name(doctor.run_checks(cfg, simulate=True, env=env()))["database"]
    assert c.status == "FAIL" and "events of szpsb/w07" in c.detail
    assert "Replacing a Pi" in c.fix


def make_ca(d: Path, name: str) -> tuple[Path, Path]:
    key, crt = d / f"{name}.key", d / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(crt), "-subj", f"/CN={name}", "-days", "2"],
                   check=True, capture_output=True, timeout=60)
    return key, crt


@needs_mosquitto
@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl missing")
def test_the_broker_check_uses_tls_with_the_configured_ca(cfg, tmp_path):
    from tests.sync.conftest import Mosquitto

    ca_key, ca_crt = make_ca(tmp_path, "station-ca")
    _, other_ca = make_ca(tmp_path, "someone-else")
    key, csr, crt = tmp_path / "server.key", tmp_path / "server.csr", tmp_path / "server.crt"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(csr), "-subj", "/CN=127.0.0.1"], check=True,
                   capture_output=True, timeout=60)
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey",
                    str(ca_key), "-CAcreateserial", "-out", str(crt), "-days", "2",
                    "-extfile", str(tmp_path / "san.ext")], check=True, capture_output=True,
                   timeout=60)
    broker = Mosquitto(tmp_path / "broker", extra=f"allow_anonymous true\ncafile {ca_crt}\n"
                       f"certfile {crt}\nkeyfile {key}\n")
    broker.start()
    try:
        good = doctor.check_broker(mqtt_cfg(cfg, broker.port, tls=True, ca_file=str(ca_crt)),
                                   env(), False, 5)
        wrong_ca = doctor.check_broker(mqtt_cfg(cfg, broker.port, tls=True,
                                                ca_file=str(other_ca)), env(), False, 5)
        plain = doctor.check_broker(mqtt_cfg(cfg, broker.port), env(), False, 1)
    finally:
        broker.stop()
    assert good.status == "PASS" and f"127.0.0.1:{broker.port} (TLS)" in good.detail
    assert wrong_ca.status == "FAIL" and "TLS handshake" in wrong_ca.detail
    assert "mqtt.ca_file" in wrong_ca.fix
    assert plain.status == "FAIL"  # TLS on one side only


def test_a_hung_kiosk_is_reported_and_its_devices_are_not_probed(cfg, pty):
    import fcntl

    # A kiosk process that holds the state directory's lock but no longer answers.
    cfg.state_dir.mkdir(parents=True)
    with open(cfg.state_dir / "kiosk.lock", "w") as lock:
        lock.write("4242\n")
        lock.flush()
        fcntl.flock(lock, fcntl.LOCK_EX)
        c = dataclasses.replace(cfg, sign=SignSection(url=pty.path))
        results = by_name(doctor.run_checks(c, env=env(), skip=["broker"]))
    assert results["counter"].status == "FAIL"
    assert "pid 4242" in results["counter"].detail and "restart" in results["counter"].fix
    assert results["sign"].status == "WARN" and "not probed" in results["sign"].detail
    os.set_blocking(pty.master, False)
    with pytest.raises(BlockingIOError):
        os.read(pty.master, 64)  # the doctor sent nothing to the sign


# ------------------------------------------------------------------ a check that cannot be made


def test_a_machine_without_timedatectl_is_ready_with_warnings(cfg, tmp_path, monkeypatch,
                                                              capsys):
    # What the README says to try, on a machine without systemd: no timedatectl on PATH.
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    conf = tmp_path / "kiosk.toml"
    conf.write_text(f'[device]\nstate_dir = "{cfg.state_dir}"\n')
    code = kiosk_main(["doctor", "--simulate", "--config", str(conf)])
    out = capsys.readouterr().out
    assert code == 0, out
    clock = next(x for x in out.splitlines() if x.split()[1:2] == ["clock"])
    assert clock.startswith("WARN") and "timedatectl is not installed here" in clock
    assert "fail." in out and " 0 fail. READY WITH WARNINGS" in out
    assert "NOT READY" not in out


def test_a_failure_is_still_not_ready(cfg, running, capsys):
    assert running.core is not None
    running.core.fault("sign", "no_reply", "no OK after 3 tries")
    code = doctor.main(args("--simulate"), cfg, env=env(run=lambda cmd: None))
    out = capsys.readouterr().out
    assert code == 1 and "NOT READY: fix the lines marked FAIL" in out
