"""`kiosk doctor`'s station line on a real Mosquitto with the stand-in station: off, online,
offline (its last word), a broker that never heard kiosk-station, no broker at all, and a
login the station broker refuses. Every verdict names what to do."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from kiosk import doctor
from kiosk.doctor_env import Check
from tests.station.conftest import station_config
from tests.station.responder import Responder
from tests.sync.conftest import Mosquitto, free_port

ONLY_STATION = [c for c in doctor.CHECKS if c != "station"]


def station_check(cfg: object, timeout: float = 3.0) -> Check:
    checks = doctor.run_checks(cfg, skip=ONLY_STATION, timeout=timeout)  # type: ignore[arg-type]
    assert [c.name for c in checks] == ["station"]
    return checks[0]


def test_a_standalone_counter_passes_with_its_own_queue(tmp_path: Path) -> None:
    cfg = station_config(tmp_path, 1, "w01", prefix="W1")
    cfg = dataclasses.replace(cfg, station=dataclasses.replace(cfg.station, enabled=False))
    c = station_check(cfg)
    assert (c.status, c.detail) == ("PASS", "station: off (station.enabled = false: this "
                                    "counter keeps its own queue)")


def test_online_then_offline_with_the_fallback_block(tmp_path: Path, broker: Mosquitto,
                                                     responder: Responder) -> None:
    cfg = station_config(tmp_path, broker.port, "w01", prefix="W1")
    c = station_check(cfg)
    assert c.status == "PASS" and "kiosk-station online at 127.0.0.1:" in c.detail
    assert "a window" in c.detail
    responder.stop()  # its retained {"online": false}
    c = station_check(cfg)
    assert c.status == "FAIL" and "kiosk-station is offline" in c.detail
    assert "own block W1" in c.detail and "systemctl status kiosk-station" in c.fix


def test_a_broker_that_never_heard_the_station_warns(tmp_path: Path,
                                                     broker: Mosquitto) -> None:
    c = station_check(station_config(tmp_path, broker.port, "hall", role="hall"), 1.0)
    assert c.status == "WARN" and "never said it is there" in c.detail
    assert "own block" not in c.detail  # the hall issues nothing
    assert "systemctl start kiosk-station" in c.fix


def test_no_station_broker_fails_with_the_fix(tmp_path: Path) -> None:
    c = station_check(station_config(tmp_path, free_port(), "e01", role="entrance",
                                     prefix="E"), 1.0)
    assert c.status == "FAIL" and "cannot reach the station broker at 127.0.0.1:" in c.detail
    assert "own block E" in c.detail and "systemctl status mosquitto" in c.fix


def test_a_refused_login_names_the_credentials(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwd), "s1.w01.station", "right"],
                   check=True, capture_output=True, timeout=30)
    b = Mosquitto(tmp_path / "locked", extra=f"allow_anonymous false\npassword_file {passwd}\n")
    b.start()
    try:
        wrong = tmp_path / "wrong.pw"
        wrong.write_text("wrong\n")
        cfg = station_config(tmp_path, b.port, "w01", prefix="W1")
        cfg = dataclasses.replace(cfg, station=dataclasses.replace(
            cfg.station, username="s1.w01.station", password_file=str(wrong)))
        c = station_check(cfg, 2.0)
    finally:
        b.stop()
    assert c.status == "FAIL" and "refused this device" in c.detail
    assert "station.username" in c.fix
