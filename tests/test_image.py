"""The flashable image's disk and the boot test's first-boot files, without emulation.

`provision/build-image.sh --stage disk` turns a root tree into the Pi's disk: an MBR with
the FAT boot partition first (what the boot ROM reads), the root and the data partition,
by label, with the boot files on the FAT and only an empty mount point in the root. Here
it runs on a small stand-in tree (seconds; the real build under emulation is the nightly
`provision/build-image.sh && provision/boot_test.py`, docs/deployment.md "Boot test").
The boot test's user-data is the real renderer's output plus its own part; cloud-init's
schema must accept it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy_helpers import REPO

BUILD = REPO / "provision" / "build-image.sh"
TOOLS = ("sfdisk", "mkfs.vfat", "mcopy", "mkfs.ext4", "debugfs", "blkid")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="build-image.sh runs as root"),
    pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                       reason="needs fdisk, dosfstools, mtools, e2fsprogs (setup.sh test)"),
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A stand-in for the built root: accounts with the kiosk user, boot files, a unit."""
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                     "kiosk:x:998:995:counter-kiosk:/var/lib/counter-kiosk:"
                                     "/usr/sbin/nologin\n")
    fw = root / "boot/firmware"
    (fw / "overlays").mkdir(parents=True)
    (fw / "cmdline.txt").write_text("console=tty0 root=LABEL=rootfs rw rootwait\n")
    (fw / "config.txt").write_text("arm_64bit=1\n")
    (fw / "vmlinuz-6.1.0-test-arm64").write_bytes(os.urandom(4096))
    (fw / "overlays/disable-bt.dtbo").write_bytes(b"\xd0\x0d\xfe\xed")
    unit = root / "etc/systemd/system/kiosk.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/opt/counter-kiosk/venv/bin/kiosk run\n")
    (root / "var/lib/counter-kiosk").mkdir(parents=True)
    return root


def build_disk(tree: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BUILD), "--stage", "disk", "--rootfs", str(tree), "--out",
                           str(out), "--data-mib", "64"], capture_output=True, text=True,
                          timeout=300)


def partitions(image: Path) -> list[dict]:
    table = json.loads(subprocess.run(["sfdisk", "--json", str(image)], check=True,
                                      capture_output=True, text=True).stdout)["partitiontable"]
    assert table["label"] == "dos"  # the Pi's boot ROM reads an MBR
    return table["partitions"]


def probe(image: Path, part: dict) -> dict[str, str]:
    out = subprocess.run(["blkid", "-p", "-O", str(part["start"] * 512), "-o", "export",
                          str(image)], check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def extract(image: Path, part: dict, dest: Path) -> Path:
    subprocess.run(["dd", f"if={image}", f"of={dest}", "bs=512", f"skip={part['start']}",
                    f"count={part['size']}", "conv=sparse", "status=none"], check=True)
    return dest


def debugfs(fs: Path, request: str) -> str:
    return subprocess.run(["debugfs", "-R", request, str(fs)], check=True,
                          capture_output=True, text=True).stdout


def test_disk_has_boot_root_and_data_partitions_by_label(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = build_disk(tree, out)
    assert proc.returncode == 0, proc.stderr
    image = out / "counter-kiosk-0.1.0-bookworm-arm64.img"
    digest = (out / (image.name + ".sha256")).read_text().split()[0]
    assert digest == hashlib.sha256(image.read_bytes()).hexdigest()

    boot, root, data = partitions(image)
    # FAT32 (LBA) first and bootable; every partition on a 4 MiB boundary (SD erase blocks).
    assert boot["type"] == "c" and boot.get("bootable") is True
    assert (root["type"], data["type"]) == ("83", "83")
    assert all(p["start"] % 8192 == 0 for p in (boot, root, data))
    assert boot["size"] == 256 * 2048 and data["size"] == 64 * 2048
    assert boot["start"] + boot["size"] <= root["start"]
    assert root["start"] + root["size"] <= data["start"]
    # The labels cloud-init, fstab and the kernel command line use.
    assert (probe(image, boot)["TYPE"], probe(image, boot)["LABEL"]) == ("vfat", "bootfs")
    assert (probe(image, root)["TYPE"], probe(image, root)["LABEL"]) == ("ext4", "rootfs")
    assert (probe(image, data)["TYPE"], probe(image, data)["LABEL"]) == ("ext4", "ckdata")

    # The boot files are on the FAT, subdirectories included, byte for byte.
    fat = f"{image}@@{boot['start'] * 512}"
    listing = subprocess.run(["mdir", "-b", "-/", "-i", fat, "::"], check=True,
                             capture_output=True, text=True).stdout
    for name in ("cmdline.txt", "config.txt", "vmlinuz-6.1.0-test-arm64",
                 "overlays/disable-bt.dtbo"):
        assert f"::/{name}" in listing, listing
    kernel = subprocess.run(["mtype", "-i", fat, "::vmlinuz-6.1.0-test-arm64"], check=True,
                            capture_output=True).stdout
    assert kernel == (tree / "boot/firmware/vmlinuz-6.1.0-test-arm64").read_bytes()

    # The root has the tree, with /boot/firmware only an empty mount point.
    rootfs = extract(image, root, tmp_path / "root.ext4")
    assert "ExecStart=/opt/counter-kiosk/venv/bin/kiosk run" in debugfs(
        rootfs, "cat /etc/systemd/system/kiosk.service")
    entries = debugfs(rootfs, "ls -p /boot/firmware").split()
    assert sorted(e.split("/")[5] for e in entries if e.count("/") >= 5) == [".", ".."]
    # The data partition's root belongs to the kiosk user (the database lives there).
    datafs = extract(image, data, tmp_path / "data.ext4")
    stat = debugfs(datafs, "stat /")
    assert "User:   998" in stat and "Group:   995" in stat, stat

    # The input tree is left as it was (its boot files were only moved aside).
    assert (tree / "boot/firmware/overlays/disable-bt.dtbo").is_file()


def test_disk_refuses_a_tree_without_the_kiosk_and_restores_it(tree: Path,
                                                               tmp_path: Path) -> None:
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    proc = build_disk(tree, tmp_path / "out")
    assert proc.returncode != 0
    assert "no kiosk user" in proc.stderr and "install.sh did not run" in proc.stderr
    assert not list((tmp_path / "out").glob("*.img"))
    assert (tree / "boot/firmware/config.txt").read_text() == "arm_64bit=1\n"


def test_disk_refuses_a_tree_without_boot_files(tree: Path, tmp_path: Path) -> None:
    shutil.rmtree(tree / "boot/firmware")
    (tree / "boot/firmware").mkdir()
    proc = build_disk(tree, tmp_path / "out")
    assert proc.returncode != 0 and "boot/firmware is empty" in proc.stderr


def test_boot_test_first_boot_files_are_the_rendered_ones_plus_the_check(
        tmp_path: Path) -> None:
    if shutil.which("cloud-init") is None:
        pytest.skip("cloud-init missing (apt install cloud-init)")
    proc = subprocess.run([sys.executable, str(REPO / "provision" / "boot_test.py"),
                           "--seed-only", "--work", str(tmp_path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    schema = subprocess.run(["cloud-init", "schema", "--config-file",
                             str(tmp_path / "user-data")], capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    doc = yaml.safe_load((tmp_path / "user-data").read_text(encoding="utf-8"))
    assert doc["hostname"] == "ck-boottest-w01"
    files = {f["path"]: f for f in doc["write_files"]}
    config = files["/etc/counter-kiosk/config.toml"]["content"]
    assert 'host = "10.0.2.2"' in config and "tls = true" in config
    # The test's part: headless simulation, and the check enabled for the second boot.
    dropin = files["/etc/systemd/system/kiosk.service.d/50-boot-test.conf"]["content"]
    assert "kiosk run --headless --simulate" in dropin
    assert files["/usr/local/sbin/ck-boot-check"]["content"] == (
        REPO / "provision/image/boot-check.sh").read_text()
    assert doc["runcmd"][0] == ["systemctl", "enable", "ck-boot-check.service"]
    # Then the real first boot: the installer, the read-only root, the reboot.
    assert "install.sh\" --source \"$src\"" in doc["runcmd"][1][2]
    assert "counter-kiosk-readonly on" in doc["runcmd"][2][2]
    assert doc["power_state"]["mode"] == "reboot"
    assert (tmp_path / "meta-data").read_text().startswith("instance-id: ck-boottest-w01")


@pytest.mark.parametrize("script", ["provision/build-image.sh",
                                    "provision/image/install-into.sh",
                                    "provision/image/debian-pi.sh"])
def test_image_scripts_parse(script: str) -> None:
    proc = subprocess.run(["bash", "-n", str(REPO / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("script", ["provision/image/boot-check.sh",
                                    "provision/image/counter-kiosk-readonly"])
def test_guest_sh_scripts_parse(script: str) -> None:
    proc = subprocess.run(["sh", "-n", str(REPO / script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
