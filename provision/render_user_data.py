#!/usr/bin/env python3
"""Render one cloud-init user-data per Pi from the fleet sheet (stdlib only).

    provision/render_user_data.py fleet.csv --out build/ \\
        --tech-key ~/.ssh/id_ed25519.pub --ntp ntp.station.example \\
        --release-url http://hq.example/counter-kiosk/counter-kiosk-0.1.0.tar.gz

For each row of the CSV (provision/fleet.example.csv shows the columns) it writes
OUT/<site>-<device>/user-data and meta-data, ready to copy onto the boot partition of
that Pi's card. Certificate, key, CA and password files named in the sheet are read
relative to the sheet and embedded; a row that names none of them gets username/password
or certificate fields left empty. Every value is checked (ids, no quotes in names) so the
rendered TOML and YAML stay valid; a bad row stops with its line number and the fix.

Exit codes: 0 ok, 2 bad sheet or arguments.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "cloud-init" / "user-data.yaml"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
# Read-only root: raspi-config on Raspberry Pi OS; on the Debian image (provision/
# build-image.sh) its counter-kiosk-readonly switch does the same with overlayroot.
OVERLAY = ("if command -v raspi-config >/dev/null; then raspi-config nonint do_overlayfs 0; "
           "else counter-kiosk-readonly on; fi")

REQUIRED = ("site", "device", "window", "window_name", "broker_host")


class SheetError(Exception):
    pass


def _plain(value: str, what: str) -> str:
    """A value that goes between double quotes in TOML inside YAML: no quotes, no
    backslashes, no control characters."""
    if any(c in value for c in '"\\') or any(ord(c) < 32 for c in value):
        raise SheetError(f"{what} {value!r} contains a quote, a backslash or a control "
                         "character: remove it")
    return value


def _file(base: Path, name: str, what: str) -> str:
    if not name:
        return ""
    path = (base / name).expanduser()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SheetError(f"{what} {name!r}: {exc.strerror}: put the file next to the "
                         "sheet or give its path") from None


def values_for(row: dict[str, str], base: Path, common: dict[str, str]) -> dict[str, str]:
    for key in REQUIRED:
        if not (row.get(key) or "").strip():
            raise SheetError(f"column {key!r} is empty: fill it in")
    site, device = row["site"].strip(), row["device"].strip()
    for key, value in (("site", site), ("device", device)):
        if not ID_RE.match(value):
            raise SheetError(f"{key} {value!r} is not a valid id: use 1-64 lower-case "
                             "letters, digits, '-' or '_'")
    window = row["window"].strip()
    if not window.isdigit():
        raise SheetError(f"window {window!r} must be a whole number")
    password = _file(base, (row.get("mqtt_password_file") or "").strip(), "mqtt_password_file")
    cert = _file(base, (row.get("client_cert_file") or "").strip(), "client_cert_file")
    key = _file(base, (row.get("client_key_file") or "").strip(), "client_key_file")
    ca = _file(base, (row.get("ca_file") or "").strip(), "ca_file")
    username = _plain((row.get("mqtt_username") or "").strip(), "mqtt_username")
    # The broker user of a counter is "<site>.<device>" (docs/mosquitto/README.md):
    # anything else is refused by the broker, so refuse it here with the fix.
    if username and username != f"{site}.{device}":
        raise SheetError(f"mqtt_username {username!r}: a counter's broker user is "
                         f"'{site}.{device}' (<site>.<device>); leave it empty or write that")
    if password and not username:
        username = f"{site}.{device}"
    if not ca:
        raise SheetError("ca_file is empty: every Pi needs the broker's CA certificate")
    if bool(cert) != bool(key):
        raise SheetError("give both client_cert_file and client_key_file, or neither")
    if not cert and not (username and password):
        raise SheetError("no credentials: give client_cert_file/client_key_file or "
                         "mqtt_username/mqtt_password_file")
    transport = (row.get("printer_transport") or "sim").strip()
    if transport not in ("sim", "usb", "serial", "network"):
        raise SheetError(f"printer_transport {transport!r}: use sim, usb, serial or network")

    def url(col: str) -> str:
        return _plain((row.get(col) or "sim://").strip() or "sim://", col)

    def number(col: str) -> str:
        text = (row.get(col) or "0").strip() or "0"
        try:
            return str(int(text, 0))
        except ValueError:
            raise SheetError(f"{col} {text!r} is not a number (0x0416 or 1046)") from None

    port = (row.get("broker_port") or "8883").strip() or "8883"
    if not port.isdigit():
        raise SheetError(f"broker_port {port!r} must be a number")
    return {
        **common,
        "SITE": site, "DEVICE": device, "WINDOW": window,
        "WINDOW_NAME": _plain(row["window_name"].strip(), "window_name"),
        "PRINTER_TRANSPORT": transport,
        "PRINTER_URL": _plain((row.get("printer_url") or "").strip(), "printer_url"),
        "PRINTER_USB_VENDOR": number("printer_usb_vendor"),
        "PRINTER_USB_PRODUCT": number("printer_usb_product"),
        "SIGN_URL": url("sign_url"), "LINK_URL": url("link_url"),
        "SCANNER_URL": url("scanner_url"),
        "BROKER_HOST": _plain(row["broker_host"].strip(), "broker_host"),
        "BROKER_PORT": port,
        "CA_PEM": ca,
        "CLIENT_CERT_PEM": cert, "CLIENT_KEY_PEM": key,
        "CERT_FILE": "/etc/counter-kiosk/client.crt" if cert else "",
        "KEY_FILE": "/etc/counter-kiosk/client.key" if key else "",
        "MQTT_USERNAME": username, "MQTT_PASSWORD": password,
        "PASSWORD_FILE": "/etc/counter-kiosk/mqtt.password" if password else "",
    }


def render(template: str, values: dict[str, str]) -> str:
    """Fill ${NAME} fields. A multi-line value is indented to its placeholder's column, so
    PEM blocks stay inside their YAML block scalar."""
    out = []
    for line in template.splitlines(keepends=True):
        def fill(m: re.Match[str], line: str = line) -> str:
            name = m.group(1)
            if name not in values:
                raise SheetError(f"template field ${{{name}}} has no value")
            text = values[name]
            column = m.start()
            return text.replace("\n", "\n" + " " * column) if "\n" in text else text

        if line.lstrip().startswith("#"):
            out.append(line)  # comments mention fields by name; leave them
            continue
        out.append(PLACEHOLDER.sub(fill, line))
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("sheet", type=Path, help="fleet CSV (see provision/fleet.example.csv)")
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--tech-user", default="tech", help="technician login (SSH key only)")
    p.add_argument("--tech-key", type=Path, required=True, help="technician's SSH public key")
    p.add_argument("--ntp", default="ntp.aliyun.com", help="NTP server the Pis can reach")
    p.add_argument("--release-url", default="http://hq.invalid/counter-kiosk.tar.gz",
                   help="release tarball for Pis flashed with a stock image")
    p.add_argument("--no-overlay", action="store_true",
                   help="keep the root file system writable (bench and lab Pis)")
    p.add_argument("--template", type=Path, default=TEMPLATE)
    args = p.parse_args(argv)
    try:
        key = args.tech_key.expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        print(f"render: --tech-key {args.tech_key}: {exc.strerror}", file=sys.stderr)
        return 2
    if not key.startswith(("ssh-", "ecdsa-")) or "\n" in key or '"' in key:
        print(f"render: --tech-key {args.tech_key}: not one OpenSSH public key line",
              file=sys.stderr)
        return 2
    common = {"TECH_USER": args.tech_user, "TECH_SSH_KEY": key, "NTP_SERVER": args.ntp,
              "RELEASE_URL": args.release_url,
              "OVERLAY_COMMAND": "true" if args.no_overlay else OVERLAY}
    template = args.template.read_text(encoding="utf-8")
    base = args.sheet.resolve().parent
    seen: set[tuple[str, str]] = set()
    with args.sheet.open(newline="", encoding="utf-8-sig") as f:
        for line_no, row in enumerate(csv.DictReader(f), start=2):
            try:
                values = values_for(row, base, common)
                ident = (values["SITE"], values["DEVICE"])
                if ident in seen:
                    raise SheetError(f"{ident[0]}/{ident[1]} appears twice: every Pi needs "
                                     "its own device id (it numbers the events)")
                seen.add(ident)
                text = render(template, values)
            except SheetError as exc:
                print(f"render: {args.sheet}:{line_no}: {exc}", file=sys.stderr)
                return 2
            host = f"ck-{values['SITE']}-{values['DEVICE']}".replace("_", "-")
            text = text.replace(f"hostname: ck-{values['SITE']}-{values['DEVICE']}",
                                f"hostname: {host}")
            target = args.out / f"{values['SITE']}-{values['DEVICE']}"
            target.mkdir(parents=True, exist_ok=True)
            (target / "user-data").write_text(text, encoding="utf-8")
            (target / "user-data").chmod(0o600)  # it carries the device's secrets
            (target / "meta-data").write_text(f"instance-id: {host}\n"
                                              f"local-hostname: {host}\n", encoding="utf-8")
            print(target / "user-data")
    return 0


if __name__ == "__main__":
    sys.exit(main())
