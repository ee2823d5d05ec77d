#!/usr/bin/env python3
"""Boot test of the flashable image: boot it under QEMU and check the counter comes up.

    sudo .venv/bin/python provision/boot_test.py [--image build/image/....img]

What it does, the way a technician's first boot goes:

1. a Mosquitto on the host (127.0.0.1 only, TLS with a throwaway CA, passwords) and a
   tiny SNTP server on 127.0.0.1:123, so the guest has a broker and a time server;
2. one Pi's user-data and meta-data rendered by provision/render_user_data.py from a
   fleet-sheet row (broker 10.0.2.2 = the host as QEMU's user network shows it), plus the
   test's own part: kiosk.service runs headless in simulation (no screen, no GPIO under
   QEMU) and ck-boot-check.service (provision/image/boot-check.sh) is enabled for the
   second boot; both files are copied onto the boot partition of a copy of the image;
3. qemu-system-aarch64 -M virt boots the image's own kernel and initrd on the image's
   disk: cloud-init provisions (identity, data partition, install.sh, read-only root)
   and reboots; at the second boot the check reports on the serial console;
4. the host judges: root is an overlay, the data partition is mounted, kiosk and
   kiosk-sync are active, `kiosk doctor` has no FAIL, the `kiosk sim` presses were taken
   and their events reached the host's broker.

Prints each check with PASS/FAIL and exits 0 only if all pass. Needs root (port 123),
qemu-system-arm, mosquitto, openssl, mtools, fdisk. docs/deployment.md, "Boot test".
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml
from boot_support import Broker, Checks, bootfs_offset, make_tls, sntp_server

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SITE, DEVICE = "boottest", "w01"
EXPECTED = ["case.started", "case.ended", "rating.given", "away.started", "away.ended"]
HEADER = ("site,device,window,window_name,broker_host,broker_port,mqtt_username,"
          "mqtt_password_file,ca_file,client_cert_file,client_key_file,printer_transport,"
          "printer_url,printer_usb_vendor,printer_usb_product,sign_url,link_url,scanner_url\n")
HEADLESS = """[Service]
# boot test: no screen and no GPIO under QEMU, so headless with simulated devices.
ExecStart=
ExecStart=/opt/counter-kiosk/venv/bin/kiosk run --headless --simulate \
    --config /etc/counter-kiosk/config.toml
"""
CHECK_UNIT = """[Unit]
Description=counter-kiosk boot test: report to the console (provision/boot_test.py)
After=kiosk.service kiosk-sync.service time-sync.target
Wants=systemd-time-wait-sync.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ck-boot-check

[Install]
WantedBy=multi-user.target
"""


def newest_image() -> Path | None:
    images = sorted((REPO / "build" / "image").glob("counter-kiosk-*-arm64.img"),
                    key=lambda p: p.stat().st_mtime)
    return images[-1] if images else None


def user_data(work: Path, port: int, ca: Path, password: str) -> tuple[str, str]:
    """The real renderer on one fleet row, plus the test's part."""
    sheet = work / "fleet"
    sheet.mkdir(exist_ok=True)
    (sheet / "ca.crt").write_bytes(ca.read_bytes())
    (sheet / "w01.password").write_text(password + "\n")
    (sheet / "tech.pub").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBootTestOnlyKey "
                                    "boot-test\n")
    (sheet / "fleet.csv").write_text(
        HEADER + f"{SITE},{DEVICE},1,户籍业务窗口,10.0.2.2,{port},{SITE}.{DEVICE},"
        "w01.password,ca.crt,,,sim,,0,0,sim://,sim://,sim://\n", encoding="utf-8")
    subprocess.run([sys.executable, str(HERE / "render_user_data.py"), str(sheet / "fleet.csv"),
                    "--out", str(work / "rendered"), "--tech-key", str(sheet / "tech.pub"),
                    "--ntp", "10.0.2.2"], check=True, stdout=subprocess.DEVNULL)
    out = work / "rendered" / f"{SITE}-{DEVICE}"
    doc = yaml.safe_load((out / "user-data").read_text(encoding="utf-8"))
    doc["write_files"] += [
        {"path": "/etc/systemd/system/kiosk.service.d/50-boot-test.conf", "content": HEADLESS},
        {"path": "/etc/systemd/system/ck-boot-check.service", "content": CHECK_UNIT},
        # No NTP answer must not hang the check: it then reports "not synchronised".
        {"path": "/etc/systemd/system/systemd-time-wait-sync.service.d/50-boot-test.conf",
         "content": "[Service]\nTimeoutStartSec=180\n"},
        {"path": "/usr/local/sbin/ck-boot-check", "permissions": "0755",
         "content": (HERE / "image" / "boot-check.sh").read_text()},
    ]
    # Enabled now, started at the next boot (the one after provisioning).
    doc["runcmd"].insert(0, ["systemctl", "enable", "ck-boot-check.service"])
    text = "#cloud-config\n" + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    return text, (out / "meta-data").read_text()


def prepare_disk(image: Path, work: Path, files: dict[str, str]) -> tuple[Path, Path, Path, str]:
    """A copy of the image with the user-data on its boot partition; kernel, initrd and
    the kernel command line taken from that partition (what the Pi's firmware boots)."""
    disk = work / "disk.img"
    subprocess.run(["cp", "--sparse=always", str(image), str(disk)], check=True)
    fat = f"{disk}@@{bootfs_offset(disk)}"
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
        subprocess.run(["mcopy", "-o", "-i", fat, str(work / name), f"::{name}"], check=True)
    listing = subprocess.run(["mdir", "-b", "-i", fat, "::"], check=True, capture_output=True,
                             text=True).stdout.split()
    names = [Path(p).name for p in listing]
    kernel = next(n for n in names if n.startswith("vmlinuz"))
    initrd = next(n for n in names if n.startswith("initrd.img"))
    for n in (kernel, initrd, "cmdline.txt"):
        subprocess.run(["mcopy", "-o", "-i", fat, f"::{n}", str(work / n)], check=True)
    # The Pi's console settings mean nothing on QEMU's virt board: its serial is ttyAMA0.
    args = [a for a in (work / "cmdline.txt").read_text().split()
            if not a.startswith(("console=", "cma="))]
    return disk, work / kernel, work / initrd, " ".join([*args, "console=ttyAMA0"])


def boot(disk: Path, kernel: Path, initrd: Path, cmdline: str, log: Path,
         lines: queue.Queue[str]) -> subprocess.Popen[bytes]:
    cmd = ["nice", "-n", "10", "qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72",
           "-smp", "2", "-m", "2048", "-display", "none", "-monitor", "none",
           "-serial", "stdio", "-kernel", str(kernel), "-initrd", str(initrd),
           "-append", cmdline,
           "-drive", f"file={disk},format=raw,if=none,id=hd", "-device", "virtio-blk-pci,drive=hd",
           "-netdev", "user,id=net", "-device", "virtio-net-pci,netdev=net",
           "-object", "rng-random,filename=/dev/urandom,id=rng",
           "-device", "virtio-rng-pci,rng=rng"]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def pump() -> None:
        assert proc.stdout is not None
        with log.open("wb") as f:
            for raw in proc.stdout:
                f.write(raw)
                f.flush()
                lines.put(raw.decode("utf-8", "replace").rstrip("\r\n"))
        lines.put("\0EOF")

    threading.Thread(target=pump, daemon=True).start()
    return proc


def read_report(lines: queue.Queue[str], deadline: float,
                t0: float) -> tuple[list[str], dict[str, float]]:
    """The CKBT lines up to "CKBT end" (or EOF / the deadline), and when the milestones came."""
    report: list[str] = []
    marks: dict[str, float] = {}
    milestones = {"Cloud-init": "cloud-init", "reboot: Restarting": "reboot",
                  "CKBT begin": "check"}
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            return report, marks
        if line == "\0EOF":
            return report, marks
        for text, name in milestones.items():
            if text in line and name not in marks:
                marks[name] = round(time.monotonic() - t0, 1)
        if "CKBT " in line:
            report.append(line[line.index("CKBT ") + 5:])
            if line.endswith("CKBT end"):
                return report, marks
        if time.monotonic() > deadline:
            return report, marks


def judge(report: list[str], broker: Broker, checks: Checks) -> None:
    kv = {r.split(" ", 1)[0]: [*r.split(" ", 1), ""][1] for r in report if not r.startswith("|")}
    rcs = {r.split()[1]: int(r.split()[2]) for r in report if r.startswith("rc ")}
    out: dict[str, list[str]] = {}
    for r in report:
        if r.startswith("| "):
            name, _, text = r[2:].partition(": ")
            out.setdefault(name, []).append(text)
    checks.add("second boot reached the check", "begin" in kv, f"{len(report)} report lines")
    checks.add("root is read-only (overlay)", kv.get("root") == "overlay", f"/ is {kv.get('root')}")
    data = kv.get("data", "")
    checks.add("data partition at /var/lib/counter-kiosk", "ckdata" in data or "ext4" in data,
               data or "not mounted")
    checks.add("arm64 kernel", "aarch64" in kv.get("arch", ""), kv.get("arch", ""))
    checks.add("identity from cloud-init", kv.get("hostname") == f"ck-{SITE}-{DEVICE}",
               f"hostname {kv.get('hostname')}")
    checks.add("NTP synchronised (host SNTP)", kv.get("ntp") == "yes", kv.get("ntp", ""))
    units = [r for r in report if r.startswith("unit ")]
    for u in ("kiosk.service", "kiosk-sync.service"):
        line = next((r for r in units if r.split()[1] == u), "")
        checks.add(f"{u} active", " active " in line + " ", line)
    cmd = next((r for r in report if r.startswith("cmd kiosk.service")), "")
    checks.add("kiosk runs headless in simulation", "--headless --simulate" in cmd, cmd[4:])
    checks.add("SSH host keys made at first boot", kv.get("ssh-host-keys", "0") != "0",
               kv.get("ssh-host-keys", ""))
    doctor = [json.loads(t) for t in out.get("doctor", []) if t.startswith("{")]
    fails = [d for d in doctor if d.get("status") == "FAIL"]
    warns = [f"{d['name']}: {d['detail']}" for d in doctor if d.get("status") == "WARN"]
    checks.add("kiosk doctor: no FAIL", bool(doctor) and not fails,
               f"{len(doctor)} checks, {len(fails)} FAIL, {len(warns)} WARN, exit "
               f"{rcs.get('doctor')}" + "".join(f"\n      {d['name']}: {d['detail']}"
                                                 for d in fails) +
               "".join(f"\n      warn {w}" for w in warns))
    checks.add("kiosk doctor exit 0", rcs.get("doctor") == 0, f"exit {rcs.get('doctor')}")
    for step in ("press-next", "link-case-end", "press-rating", "press-away", "press-back"):
        checks.add(f"kiosk sim {step} taken", rcs.get(step) == 0,
                   " ".join(out.get(step, [])[:1])[:120])
    got = broker.wait_for(EXPECTED, timeout=180)
    checks.add("the presses' events reached the host's Mosquitto",
               all(t in got for t in EXPECTED),
               f"on kiosk/v1/{SITE}/{DEVICE}/events: {', '.join(got)}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--image", type=Path, default=None,
                   help="the image to boot (default: the newest build/image/*.img)")
    p.add_argument("--work", type=Path, default=REPO / "build" / "boot-test")
    p.add_argument("--timeout", type=float, default=2400, help="seconds for both boots")
    p.add_argument("--seed-only", action="store_true",
                   help="only write the user-data and meta-data the test boots with into "
                        "--work (no image, no QEMU; tests/test_image.py checks them)")
    args = p.parse_args(argv)
    if args.seed_only:
        args.work.mkdir(parents=True, exist_ok=True)
        ud, md = user_data(args.work, 8883, make_tls(args.work / "tls").ca, "not-a-password")
        (args.work / "user-data").write_text(ud, encoding="utf-8")
        (args.work / "meta-data").write_text(md, encoding="utf-8")
        print(args.work / "user-data")
        return 0
    image = args.image or newest_image()
    if image is None or not image.is_file():
        print("boot-test: no image: build one with sudo provision/build-image.sh, or pass "
              "--image", file=sys.stderr)
        return 2
    missing = [t for t in ("qemu-system-aarch64", "mosquitto", "mosquitto_passwd", "openssl",
                           "mcopy", "sfdisk") if shutil.which(t) is None]
    if missing:
        print(f"boot-test: missing {', '.join(missing)}: apt-get install qemu-system-arm "
              "mosquitto openssl mtools fdisk", file=sys.stderr)
        return 2
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    t0 = time.monotonic()
    tls = make_tls(args.work / "tls")
    checks = Checks()
    with Broker(args.work / "broker", tls, SITE, DEVICE) as broker, sntp_server() as ntp:
        ud, md = user_data(args.work, broker.port, tls.ca, broker.device_password)
        disk, kernel, initrd, cmdline = prepare_disk(image, args.work,
                                                     {"user-data": ud, "meta-data": md})
        print(f"boot-test: {image.name}: booting under QEMU (TCG), broker 127.0.0.1:"
              f"{broker.port}, NTP {'on 127.0.0.1:123' if ntp else 'unavailable'}; "
              f"console: {args.work / 'console.log'}", flush=True)
        lines: queue.Queue[str] = queue.Queue()
        proc = boot(disk, kernel, initrd, cmdline, args.work / "console.log", lines)
        try:
            report, marks = read_report(lines, time.monotonic() + args.timeout, t0)
            judge(report, broker, checks)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    elapsed = time.monotonic() - t0
    print(checks.table())
    print(f"boot-test: milestones (s since start): {marks}; total {elapsed:.0f} s")
    result = {"image": image.name, "passed": checks.passed, "seconds": round(elapsed),
              "milestones": marks, "checks": checks.rows}
    (args.work / "result.json").write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(f"boot-test: {'PASSED' if checks.passed else 'FAILED'} "
          f"({sum(ok for _, ok, _ in checks.rows)}/{len(checks.rows)} checks)")
    return 0 if checks.passed else 1


if __name__ == "__main__":
    sys.exit(main())
