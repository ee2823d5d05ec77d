"""The units: `systemd-analyze verify` is clean and `systemd-analyze security` exposure is
within budget (<= 3.0 for kiosk-sync, kiosk-station and kiosk-hq, <= 5.0 for the kiosk).

systemd-analyze runs against a throwaway root (--root) holding the stock units, our units
and stub executables at the ExecStart paths, so verify checks the real ExecStart lines
and no container needs systemd as PID 1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.deploy_helpers import CONSOLE_SCRIPTS, REPO, SYSTEMD, UNITS, add_system_units

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze missing (apt install systemd)")

BUDGET = {"kiosk.service": 5.0, "kiosk-sync.service": 3.0, "kiosk-hq.service": 3.0,
          "kiosk-hq-console.service": 3.0, "kiosk-station.service": 3.0}
EXEC = "/opt/counter-kiosk/venv/bin/{}"


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unitroot")
    add_system_units(root)
    bindir = root / "opt/counter-kiosk/venv/bin"
    bindir.mkdir(parents=True)
    for name in CONSOLE_SCRIPTS:
        (bindir / name).write_text("#!/bin/sh\n")
        (bindir / name).chmod(0o755)
    (root / "etc/systemd/system").mkdir(parents=True)
    for unit in UNITS:
        shutil.copy(SYSTEMD / unit, root / "etc/systemd/system" / unit)
    return root


def verify(root: Path, unit: str) -> list[str]:
    """Problems systemd-analyze verify reports for ``unit`` (empty: clean)."""
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", unit],
                          capture_output=True, text=True, timeout=60)
    # Warnings ("Unknown key ... ignoring") do not change the exit code: count them too.
    # Lines about the stock units of this machine are not ours to fix.
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if unit in line or "kiosk" in line]
    if proc.returncode != 0:
        problems.append(f"exit code {proc.returncode}: {proc.stderr.strip()}")
    return problems


def exposure(root: Path, unit: str) -> float:
    proc = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager",
         unit], capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
    assert m, f"no exposure figure in:\n{proc.stdout}\n{proc.stderr}"
    return float(m.group(1))


def unit_settings(unit: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in (SYSTEMD / unit).read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@pytest.mark.parametrize("unit", UNITS)
def test_verify_is_clean(unit_root, unit):
    assert verify(unit_root, unit) == []


@pytest.mark.parametrize("unit", UNITS)
def test_security_exposure_is_within_budget(unit_root, unit):
    level = exposure(unit_root, unit)
    assert level <= BUDGET[unit], f"{unit}: exposure {level} > {BUDGET[unit]}"


def test_verify_catches_a_broken_unit(unit_root):
    """The check itself can fail: a typo and a missing executable are reported."""
    broken = (SYSTEMD / "kiosk-sync.service").read_text()
    broken = broken.replace("Type=notify", "Type=notifyy").replace(
        "bin/kiosk-sync ", "bin/kiosk-missing ")
    (unit_root / "etc/systemd/system/broken.service").write_text(broken)
    problems = "\n".join(verify(unit_root, "broken.service"))
    assert "notifyy" in problems
    assert "kiosk-missing" in problems


def test_exposure_of_an_unhardened_unit_is_over_budget(unit_root):
    plain = "[Service]\nType=notify\nExecStart=/opt/counter-kiosk/venv/bin/kiosk-sync\n"
    (unit_root / "etc/systemd/system/plain.service").write_text(plain)
    assert exposure(unit_root, "plain.service") > 9.0


@pytest.mark.parametrize("unit", UNITS)
def test_units_are_notify_services_with_a_watchdog_and_no_privileges(unit):
    s = unit_settings(unit)
    assert s["Type"] == ["notify"]
    assert int(s["WatchdogSec"][0]) >= 10
    assert s["Restart"] == ["always"]
    assert s["StartLimitIntervalSec"] == ["0"]
    assert s["User"][0] in ("kiosk", "kiosk-hq")
    assert s["CapabilityBoundingSet"] == [""]
    assert s["NoNewPrivileges"] == ["yes"]
    assert s["ProtectSystem"] == ["strict"]
    assert s["ProtectHome"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["SystemCallFilter"][0] == "@system-service"
    assert s["StateDirectory"][0].startswith("counter-kiosk")
    assert s["ConfigurationDirectory"] == ["counter-kiosk"]


def test_exec_lines_run_the_console_scripts_from_pyproject():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    for script in CONSOLE_SCRIPTS:
        assert script in scripts
    config = "--config /etc/counter-kiosk/config.toml"
    assert unit_settings("kiosk.service")["ExecStart"] == [f"{EXEC.format('kiosk')} run {config}"]
    assert unit_settings("kiosk-sync.service")["ExecStart"] == [
        f"{EXEC.format('kiosk-sync')} {config}"]
    assert unit_settings("kiosk-station.service")["ExecStart"] == [
        f"{EXEC.format('kiosk-station')} --config /etc/counter-kiosk/station.toml"]
    # kiosk-hq takes its broker and database from hq.env (its CLI has no --config).
    assert unit_settings("kiosk-hq.service")["ExecStart"] == [
        f"{EXEC.format('kiosk-hq')} collect --db ${{KIOSK_HQ_DB}} $KIOSK_HQ_ARGS"]
    assert unit_settings("kiosk-hq.service")["EnvironmentFile"] == ["/etc/counter-kiosk/hq.env"]


def test_the_hq_env_template_gives_the_collector_valid_arguments():
    import shlex

    from kiosk.sync_cli import build_hq_parser

    env = dict(line.split("=", 1) for line in (SYSTEMD / "hq.env").read_text().splitlines()
               if line and not line.startswith("#"))
    args = build_hq_parser().parse_args(
        ["collect", "--db", "/var/lib/counter-kiosk-hq/hq.db", *shlex.split(env["KIOSK_HQ_ARGS"])])
    assert args.tls and args.ca == "/etc/counter-kiosk/ca.crt"
    # The shipped broker's password listener (docs/mosquitto/mosquitto.conf), no certificate.
    assert int(env["KIOSK_HQ_PORT"]) == 8884 and "--cert" not in env["KIOSK_HQ_ARGS"]


def test_kiosk_gets_its_devices_by_allow_list_and_sync_gets_none():
    kiosk = unit_settings("kiosk.service")
    allowed = {v.split()[0] for v in kiosk["DeviceAllow"]}
    for dev in ("char-gpiochip", "char-ttyUSB", "char-ttyACM", "char-usb", "char-drm",
                "char-input"):
        assert dev in allowed
    assert "PrivateDevices" not in kiosk
    assert {"gpio", "dialout", "lp", "video", "render", "input"} <= set(
        kiosk["SupplementaryGroups"][0].split())
    assert unit_settings("kiosk-sync.service")["PrivateDevices"] == ["yes"]


def test_journal_is_volatile_and_tmpfiles_create_the_state_dir(tmp_path):
    journald = (SYSTEMD / "journald-counter-kiosk.conf").read_text()
    assert re.search(r"^Storage=volatile$", journald, re.M)
    if shutil.which("systemd-tmpfiles") is None:
        pytest.skip("systemd-tmpfiles missing")
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0::/root:/bin/sh\nkiosk:x:990:990::/x:/bin/false\n")
    (etc / "group").write_text("root:x:0:\nkiosk:x:990:\n")
    subprocess.run(["systemd-tmpfiles", f"--root={tmp_path}", "--create",
                    str(SYSTEMD / "counter-kiosk.tmpfiles")], check=True, timeout=30)
    st = (tmp_path / "var/lib/counter-kiosk").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (990, 990, 0o750)
    st = (tmp_path / "etc/counter-kiosk").stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 990, 0o750)


_UDEV_PAIR = re.compile(
    r'^\s*(?P<key>[A-Z_]+(\{[^}]+\})?)\s*(?P<op>==|!=|=|\+=|-=|:=)\s*"(?P<value>[^"]*)"\s*$')


def test_udev_rules_are_well_formed():
    rules = [line for line in (SYSTEMD / "99-counter-kiosk.rules").read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert rules
    for rule in rules:
        pairs = rule.split('", ')
        pairs = [p if p.endswith('"') else p + '"' for p in pairs]
        for pair in pairs:
            assert _UDEV_PAIR.match(pair), f"bad udev key in: {rule!r} ({pair!r})"
        # Each rule both matches something and assigns something.
        assert any("==" in p for p in pairs) and any(
            re.search(r'[^=!]=[^=]|\+=', p) for p in pairs), rule
