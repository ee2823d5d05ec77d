"""systemd/ip_allow.py: the units' IPAddressAllow= drop-in holds the broker, kiosk-hq's
database and the DNS servers, resolved from the shipped config files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "systemd" / "ip_allow.py"


def run(root: Path, role: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), role, "--root", str(root)],
                          capture_output=True, text=True)


def dropin(root: Path, unit: str) -> str:
    return (root / f"etc/systemd/system/{unit}.d/ip-allow.conf").read_text()


def test_pi_allows_the_broker_and_the_dns_servers(tmp_path: Path) -> None:
    (tmp_path / "etc/counter-kiosk").mkdir(parents=True)
    (tmp_path / "etc/counter-kiosk/config.toml").write_text('[mqtt]\nhost = "192.0.2.7"\n')
    (tmp_path / "etc/resolv.conf").write_text("nameserver 198.51.100.53\nnameserver "
                                              "127.0.0.53\nsearch example\n")
    out = run(tmp_path, "pi")
    assert out.returncode == 0, out.stderr
    text = dropin(tmp_path, "kiosk-sync.service")
    assert "[Service]\nIPAddressAllow=192.0.2.7 198.51.100.53\n" in text


def test_hq_allows_the_broker_and_the_database(tmp_path: Path) -> None:
    (tmp_path / "etc/counter-kiosk").mkdir(parents=True)
    (tmp_path / "etc/counter-kiosk/hq.env").write_text(
        "# comment\nKIOSK_HQ_BROKER=localhost\n"
        "KIOSK_HQ_DB=postgresql://kiosk_hq@192.0.2.20:5432/kiosk_hq\n")
    assert run(tmp_path, "hq").returncode == 0
    line = dropin(tmp_path, "kiosk-hq.service").splitlines()[-1]
    assert line.startswith("IPAddressAllow=") and "192.0.2.20" in line
    assert "127.0.0.1" in line or "::1" in line  # localhost resolved


def test_nothing_to_allow_yet_is_said_plainly(tmp_path: Path) -> None:
    (tmp_path / "etc/counter-kiosk").mkdir(parents=True)
    (tmp_path / "etc/counter-kiosk/config.toml").write_text('[mqtt]\nhost = ""\n')
    out = run(tmp_path, "pi")
    assert out.returncode == 2 and "mqtt.host is empty" in out.stderr
    (tmp_path / "etc/counter-kiosk/config.toml").write_text(
        '[mqtt]\nhost = "no-such-broker.invalid"\n')
    out = run(tmp_path, "pi")
    assert out.returncode == 2 and "does not resolve" in out.stderr
    assert not (tmp_path / "etc/systemd/system/kiosk-sync.service.d").exists()
