"""A missing pin library (lgpio, RPi.GPIO) is a clear start-up error and a doctor FAIL,
never a traceback: `kiosk run` exits 2 (systemd does not restart it) with the fix."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

import drivers.gpio as gpio
from device.config import load
from kiosk import doctor
from kiosk.cli import main as kiosk_main

ABSENT = "counter_kiosk_test_absent_pin_library"


@pytest.fixture
def no_lgpio(monkeypatch: pytest.MonkeyPatch) -> None:
    """The lgpio factory's module is one that does not exist (as on generic Debian arm64,
    where python3-lgpio is not packaged), whatever this machine has installed."""
    lib = dataclasses.replace(gpio.PIN_FACTORIES["lgpio"], module=ABSENT)
    monkeypatch.setitem(gpio.PIN_FACTORIES, "lgpio", lib)


def lgpio_config(tmp_path: Path) -> Path:
    conf = tmp_path / "kiosk.toml"
    conf.write_text(f'[device]\nstate_dir = "{tmp_path / "state"}"\n\n'
                    '[gpio]\npin_factory = "lgpio"\n')
    return conf


def test_kiosk_run_without_the_pin_library_exits_2_with_the_fix(
        tmp_path: Path, no_lgpio: None, capsys: pytest.CaptureFixture[str]) -> None:
    code = kiosk_main(["run", "--headless", "--config", str(lgpio_config(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert "pin_factory = 'lgpio' needs the Python module lgpio" in err
    assert "Fix: on Raspberry Pi OS: sudo apt install python3-lgpio" in err


def test_the_kiosk_process_without_lgpio_exits_2_and_prints_no_traceback(
        tmp_path: Path) -> None:
    # The real program, with lgpio made unimportable (None in sys.modules), as on a Pi
    # running generic Debian: the unit must see exit 2 and stop restarting it.
    blocked = ("import sys; sys.modules['lgpio'] = None; from kiosk.cli import main; "
               "sys.exit(main())")
    proc = subprocess.run([sys.executable, "-c", blocked, "run", "--headless", "--config",
                           str(lgpio_config(tmp_path))], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "needs the Python module lgpio" in proc.stderr and "Fix:" in proc.stderr


def test_doctor_fails_the_gpio_check_with_the_fix(
        tmp_path: Path, no_lgpio: None) -> None:
    cfg = load(lgpio_config(tmp_path))
    env = doctor.Env(run=lambda cmd: "yes", systemd=False)
    results = {c.name: c for c in doctor.run_checks(cfg, env=env, skip=["broker"])}
    c = results["gpio"]
    assert c.status == doctor.FAIL
    assert "the counter cannot start" in c.detail and "lgpio" in c.detail
    assert c.fix.startswith("on Raspberry Pi OS: sudo apt install python3-lgpio")
    assert doctor.main(_args(), cfg, env=env) == 1


def _args():  # the doctor's own defaults, as `kiosk doctor --skip broker` parses them
    from kiosk.cli import build_parser

    return build_parser().parse_args(["doctor", "--skip", "broker"])


def test_the_lock_pins_lgpio_where_pypi_has_a_wheel_only() -> None:
    from packaging.requirements import Requirement

    lock = Path(__file__).resolve().parents[1] / "requirements.lock"
    reqs = [Requirement(line) for line in lock.read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    (lgpio,) = [r for r in reqs if r.name == "lgpio"]
    assert str(lgpio.specifier) == "==0.2.2.0" and lgpio.marker is not None

    def applies(machine: str, python: str) -> bool:
        assert lgpio.marker is not None
        return lgpio.marker.evaluate({"platform_machine": machine, "python_version": python})

    assert applies("aarch64", "3.11")  # Bookworm on a Pi: the cp311 aarch64 wheel
    assert not applies("aarch64", "3.13")  # Trixie: no wheel; apt's python3-lgpio
    assert not applies("x86_64", "3.11")  # a development machine
