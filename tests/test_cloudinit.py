"""The cloud-init template and its renderer: `cloud-init schema` accepts the template and
every rendered user-data, and the config.toml a Pi gets at first boot is valid.

cloud-init 22.4 (Debian 12) lets unknown top-level keys through; a second check holds
every top-level key against the keys cloud-init's own JSON schema defines, so a typo
(`hostnam:`) fails here too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from device.config import loads
from tests.deploy_helpers import REPO

TEMPLATE = REPO / "provision" / "cloud-init" / "user-data.yaml"
RENDER = REPO / "provision" / "render_user_data.py"
SCHEMA_JSON = Path("/usr/lib/python3/dist-packages/cloudinit/config/schemas/"
                   "schema-cloud-config-v1.json")

needs_cloud_init = pytest.mark.skipif(shutil.which("cloud-init") is None,
                                      reason="cloud-init missing (apt install cloud-init)")

CA = "-----BEGIN CERTIFICATE-----\nMIIBtest\nAAAA\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIEtest\n-----END PRIVATE KEY-----\n"
HEADER = ("site,device,window,window_name,broker_host,broker_port,mqtt_username,"
          "mqtt_password_file,ca_file,client_cert_file,client_key_file,printer_transport,"
          "printer_url,printer_usb_vendor,printer_usb_product,sign_url,link_url,scanner_url\n")


def schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["cloud-init", "schema", "--config-file", str(path)],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "ca.crt").write_text(CA)
    (certs / "w01.crt").write_text(CA)
    (certs / "w01.key").write_text(KEY)
    (certs / "w02.password").write_text("s3cret-w02\n")
    (tmp_path / "tech.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITest tech@hq\n")
    path = tmp_path / "fleet.csv"
    path.write_text(
        HEADER
        + "szpsb_futian,w01,1,户籍业务窗口,mqtt.hq.example,8883,,,certs/ca.crt,certs/w01.crt,"
          "certs/w01.key,usb,,0x0416,0x5011,/dev/serial/by-id/usb-1a86-if00-port0,"
          "tcp://0.0.0.0:7301,sim://\n"
        + "szpsb_futian,w02,2,身份证业务窗口,mqtt.hq.example,8883,,certs/w02.password,"
          "certs/ca.crt,,,serial,/dev/ttyUSB0,0,0,sim://,sim://,sim://\n",
        encoding="utf-8")
    return path


def render(sheet: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RENDER), str(sheet), "--out", str(sheet.parent / "out"),
         "--tech-key", str(sheet.parent / "tech.pub"), "--ntp", "ntp.station.example",
         "--release-url", "http://hq.example/ck.tar.gz", *extra],
        capture_output=True, text=True, timeout=60)


def rendered(sheet: Path, device: str) -> dict:
    text = (sheet.parent / "out" / f"szpsb_futian-{device}" / "user-data").read_text()
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def files_of(doc: dict) -> dict[str, dict]:
    return {f["path"]: f for f in doc["write_files"]}


@needs_cloud_init
def test_the_template_passes_cloud_init_schema():
    proc = schema(TEMPLATE)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Valid cloud-config" in proc.stdout


@needs_cloud_init
def test_cloud_init_schema_rejects_a_broken_file(tmp_path):
    """The check can fail: a write_files entry without a path is refused."""
    bad = tmp_path / "user-data"
    bad.write_text(TEMPLATE.read_text().replace("  - path: /etc/counter-kiosk/ca.crt",
                                                "  - pth: /etc/counter-kiosk/ca.crt"))
    proc = schema(bad)
    assert proc.returncode != 0 and "'path' is a required property" in proc.stdout + proc.stderr


@pytest.mark.skipif(not SCHEMA_JSON.exists(), reason="cloud-init's schema file missing")
def test_every_top_level_key_is_one_cloud_init_knows():
    defs = json.loads(SCHEMA_JSON.read_text())["$defs"]
    known = {key for d in defs.values() for key in d.get("properties", {})}
    doc = yaml.safe_load(TEMPLATE.read_text())
    unknown = sorted(set(doc) - known)
    assert unknown == [], f"cloud-init ignores these keys: {unknown}"


@needs_cloud_init
def test_rendered_user_data_passes_schema_for_certificate_and_password_pis(sheet):
    proc = render(sheet)
    assert proc.returncode == 0, proc.stderr
    for device in ("w01", "w02"):
        path = sheet.parent / "out" / f"szpsb_futian-{device}" / "user-data"
        check = schema(path)
        assert check.returncode == 0, check.stdout + check.stderr
        assert path.stat().st_mode & 0o777 == 0o600  # it holds the device's secrets


def test_each_pi_gets_its_identity_credentials_and_a_valid_config(sheet):
    assert render(sheet).returncode == 0
    w01, w02 = rendered(sheet, "w01"), rendered(sheet, "w02")
    # Hostnames cannot carry '_': the renderer turns it into '-'.
    assert w01["hostname"] == "ck-szpsb-futian-w01"
    meta = (sheet.parent / "out" / "szpsb_futian-w01" / "meta-data").read_text()
    assert "instance-id: ck-szpsb-futian-w01" in meta
    f1, f2 = files_of(w01), files_of(w02)
    cfg1 = loads(f1["/etc/counter-kiosk/config.toml"]["content"], source="w01")
    cfg2 = loads(f2["/etc/counter-kiosk/config.toml"]["content"], source="w02")
    assert (cfg1.device.site, cfg1.device.id, cfg1.window.number) == ("szpsb_futian", "w01", 1)
    assert cfg1.window.name == "户籍业务窗口" and cfg2.device.id == "w02"
    # w01 logs in with a client certificate, w02 with username and password.
    assert cfg1.mqtt.cert_file == "/etc/counter-kiosk/client.crt" and not cfg1.mqtt.username
    assert f1["/etc/counter-kiosk/client.key"]["content"] == KEY
    assert cfg2.mqtt.username == "szpsb_futian.w02" and cfg2.mqtt.cert_file == ""
    assert cfg2.mqtt.password_file == "/etc/counter-kiosk/mqtt.password"
    assert f2["/etc/counter-kiosk/mqtt.password"]["content"].strip() == "s3cret-w02"
    for f in (f1, f2):
        assert f["/etc/counter-kiosk/ca.crt"]["content"] == CA
        assert all(x["permissions"] == "0600" for x in f.values())
    assert cfg1.mqtt.tls and cfg1.mqtt.ca_file == "/etc/counter-kiosk/ca.crt"
    assert (cfg1.printer.transport, cfg1.printer.usb_vendor) == ("usb", 0x0416)
    assert cfg1.gpio.pin_factory == "lgpio" and cfg1.ui.fullscreen
    # First boot: data partition, SSH key only, NTP, the installer, read-only root.
    assert w01["ssh_pwauth"] is False
    assert w01["users"][0]["ssh_authorized_keys"] == [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITest tech@hq"]
    assert w01["ntp"]["servers"] == ["ntp.station.example"]
    assert w01["mounts"][0][:2] == ["LABEL=ckdata", "/var/lib/counter-kiosk"]
    script = w01["runcmd"][0][2]
    assert "install.sh\" --source \"$src\"" in script
    assert "http://hq.example/ck.tar.gz" in script
    # Read-only root on either image: raspi-config (Raspberry Pi OS) or the Debian image's
    # counter-kiosk-readonly (provision/image/counter-kiosk-readonly).
    overlay = w01["runcmd"][1]
    assert overlay[:2] == ["sh", "-c"]
    assert "raspi-config nonint do_overlayfs 0" in overlay[2]
    assert "counter-kiosk-readonly on" in overlay[2]
    assert w01["power_state"]["mode"] == "reboot"
    assert "${" not in (sheet.parent / "out" / "szpsb_futian-w01" / "user-data").read_text(
    ).split("\n", 12)[-1]  # every field filled (the header comments name them)


def test_no_overlay_for_bench_pis(sheet):
    assert render(sheet, "--no-overlay").returncode == 0
    assert rendered(sheet, "w01")["runcmd"][1] == ["sh", "-c", "true"]


@pytest.mark.parametrize(("row", "message"), [
    ("szpsb,W01,1,窗口,h,8883,,,certs/ca.crt,certs/w01.crt,certs/w01.key,,,,,,,",
     "device 'W01' is not a valid id"),
    ("szpsb,w01,1,窗口,h,8883,,,certs/ca.crt,,,,,,,,,", "no credentials"),
    ("szpsb,w01,1,窗口,h,8883,,,,certs/w01.crt,certs/w01.key,,,,,,,", "ca_file is empty"),
    ('szpsb,w01,1,"窗口""1",h,8883,,,certs/ca.crt,certs/w01.crt,certs/w01.key,,,,,,,',
     "contains a quote"),
    ("szpsb,w01,1,窗口,h,8883,,,certs/ca.crt,certs/missing.crt,certs/w01.key,,,,,,,",
     "client_cert_file 'certs/missing.crt'"),
])
def test_a_bad_row_is_refused_with_its_line_and_fix(sheet, row, message):
    sheet.write_text(HEADER + row + "\n", encoding="utf-8")
    proc = render(sheet)
    assert proc.returncode == 2
    assert f"{sheet}:2:" in proc.stderr and message in proc.stderr


def test_the_same_device_twice_is_refused(sheet):
    lines = sheet.read_text(encoding="utf-8").splitlines()
    sheet.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    proc = render(sheet)
    assert proc.returncode == 2 and ":4: szpsb_futian/w01 appears twice" in proc.stderr
