"""systemd/install.sh and uninstall.sh, run into a throwaway root (--root DIR).

What lands under DIR is real: accounts (useradd --prefix), directories with owners and
modes, the units, drop-ins and udev rules, the config, unit enablement (systemctl --root)
and the release venv (built by a stand-in python that records the pip commands).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from device.config import load
from tests.deploy_helpers import (
    REPO,
    SYSTEMD,
    account,
    add_system_units,
    copy_source,
    fake_python,
    make_root,
    manifest,
    run_install,
)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the installer chowns: run as root"),
    pytest.mark.skipif(shutil.which("useradd") is None or shutil.which("systemctl") is None,
                       reason="needs useradd (passwd) and systemctl (systemd)"),
]

OPT = "opt/counter-kiosk"


@pytest.fixture
def root(tmp_path) -> Path:
    return make_root(tmp_path / "root")


@pytest.fixture
def py(tmp_path) -> Path:
    return fake_python(tmp_path / "fakepython")


def ids(root: Path, user: str) -> tuple[int, int]:
    pw = account(root, user)
    assert pw, f"no user {user}"
    return int(pw[2]), int(pw[3])


def owner_mode(path: Path) -> tuple[int, int, int]:
    st = path.lstat()
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


def test_install_creates_user_directories_release_units_and_config(root, py):
    out = run_install(root, python=py).stdout
    # The kiosk user: a system account without a login, in every device group.
    pw = account(root, "kiosk")
    assert pw is not None and pw[5] == "/var/lib/counter-kiosk" and pw[6] == "/usr/sbin/nologin"
    uid, gid = ids(root, "kiosk")
    assert uid < 1000
    for group in ("gpio", "dialout", "lp", "video", "render", "input", "audio"):
        entry = account(root, group, "group")
        assert entry is not None and "kiosk" in entry[3].split(","), group
    # Directories with owners and modes.
    assert owner_mode(root / "var/lib/counter-kiosk") == (uid, gid, 0o750)
    assert owner_mode(root / "etc/counter-kiosk") == (0, gid, 0o750)
    assert owner_mode(root / "etc/counter-kiosk/config.toml") == (0, gid, 0o640)
    # The release venv, built from the lock file, then the package without dependencies.
    current = root / OPT / "current"
    release = os.readlink(current)
    assert release.startswith("releases/0.1.0-")
    assert os.readlink(root / OPT / "venv") == "current"
    rel = root / OPT / release
    assert (rel / "venv.log").read_text().split()[:3] == ["venv", "-m", "venv"]
    assert "--system-site-packages" in (rel / "venv.log").read_text()  # apt's python3-lgpio
    pip = (rel / "pip.log").read_text().splitlines()
    assert pip[0].startswith("-m pip install") and pip[0].endswith(f"-r {REPO}/requirements.lock")
    assert pip[1].startswith("-m pip install") and pip[1].endswith(f"--no-deps {REPO}")
    assert (root / OPT / "venv/bin/kiosk").exists()  # the ExecStart path resolves
    marker = (rel / ".counter-kiosk-release").read_text()
    assert f"release={release.split('/')[1]}" in marker
    import hashlib
    lock_hash = hashlib.sha256((REPO / "requirements.lock").read_bytes()).hexdigest()
    assert f"lock_sha256={lock_hash}" in marker
    assert (rel / "share/counter-kiosk/systemd/install.sh").exists()  # for rollback later
    # Units and drop-ins, byte for byte, enabled; tty1's login prompt masked.
    for unit in ("kiosk.service", "kiosk-sync.service"):
        installed = root / "etc/systemd/system" / unit
        assert installed.read_bytes() == (SYSTEMD / unit).read_bytes()
        assert owner_mode(installed) == (0, 0, 0o644)
        wants = root / "etc/systemd/system/multi-user.target.wants" / unit
        assert os.readlink(wants) == f"/etc/systemd/system/{unit}"
    assert not (root / "etc/systemd/system/kiosk-hq.service").exists()
    assert os.readlink(root / "etc/systemd/system/getty@tty1.service") == "/dev/null"
    for src, dest in [
        ("99-counter-kiosk.rules", "etc/udev/rules.d/99-counter-kiosk.rules"),
        ("counter-kiosk.tmpfiles", "etc/tmpfiles.d/counter-kiosk.conf"),
        ("journald-counter-kiosk.conf", "etc/systemd/journald.conf.d/counter-kiosk.conf"),
        ("logind-counter-kiosk.conf", "etc/systemd/logind.conf.d/counter-kiosk.conf"),
        ("system-counter-kiosk.conf", "etc/systemd/system.conf.d/counter-kiosk.conf"),
        ("sysctl-counter-kiosk.conf", "etc/sysctl.d/90-counter-kiosk.conf"),
    ]:
        assert (root / dest).read_bytes() == (SYSTEMD / src).read_bytes(), dest
    # The config is the repo's, switched to real GPIO and full screen, and it is valid.
    cfg = load(root / "etc/counter-kiosk/config.toml")
    assert cfg.gpio.pin_factory == "lgpio" and cfg.ui.fullscreen is True
    # apt is not run against the host; what the target needs is named.
    assert "not installing system packages" in out and "fonts-wqy-microhei" in out


def test_second_run_changes_nothing(root, py):
    run_install(root, python=py)
    before = manifest(root)
    out = run_install(root, python=py).stdout
    assert manifest(root) == before
    assert "already installed" in out
    assert "installed /etc" not in out and "enabled" not in out


def test_an_existing_config_is_never_overwritten_but_made_readable_for_kiosk(root, py):
    # cloud-init writes the identity root-only, before the kiosk user exists.
    conf = root / "etc/counter-kiosk"
    conf.mkdir(parents=True)
    mine = '[device]\nsite = "szpsb-futian"\nid = "w07"\n'
    (conf / "config.toml").write_text(mine)
    (conf / "mqtt.password").write_text("s3cret\n")
    for f in conf.iterdir():
        f.chmod(0o600)
    run_install(root, python=py)
    _, gid = ids(root, "kiosk")
    assert (conf / "config.toml").read_text() == mine
    for f in ("config.toml", "mqtt.password"):
        assert owner_mode(conf / f) == (0, gid, 0o640)


def test_a_new_source_is_a_new_release_and_rollback_switches_back(tmp_path, root, py):
    src = copy_source(tmp_path / "src")
    run_install(root, source=src, python=py)
    first = os.readlink(root / OPT / "current")
    with open(src / "device" / "__init__.py", "a") as f:
        f.write("# a fix\n")
    out = run_install(root, source=src, python=py).stdout
    second = os.readlink(root / OPT / "current")
    assert second != first and "building release" in out
    assert os.readlink(root / OPT / "previous") == first
    assert (root / OPT / first / ".counter-kiosk-release").exists()  # kept for rollback
    run_install(root, "--rollback", source=src)
    assert os.readlink(root / OPT / "current") == first
    assert os.readlink(root / OPT / "previous") == second
    # Installing the same source again changes nothing but the pointer back.
    run_install(root, source=src, python=py)
    assert os.readlink(root / OPT / "current") == second


def test_a_half_built_release_is_rebuilt(root, py):
    run_install(root, python=py)
    rel = root / OPT / os.readlink(root / OPT / "current")
    (rel / ".counter-kiosk-release").unlink()  # power cut before the marker was written
    (rel / "bin/kiosk").unlink()
    out = run_install(root, python=py).stdout
    assert "building release" in out and (rel / "bin/kiosk").exists()


def test_without_an_interpreter_root_mode_records_the_missing_venv(root):
    out = run_install(root).stdout
    rel = root / OPT / os.readlink(root / OPT / "current")
    assert "venv=not built" in (rel / ".counter-kiosk-release").read_text()
    assert "has no venv yet" in out


def test_installed_units_verify_inside_the_root(root, py):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze missing")
    run_install(root, python=py)
    add_system_units(root)
    for unit in ("kiosk.service", "kiosk-sync.service"):
        proc = subprocess.run(["systemd-analyze", "verify", "--man=no", f"--root={root}", unit],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and "kiosk" not in proc.stderr, proc.stderr


def test_uninstall_keeps_data_and_config_unless_purged(root, py):
    baseline = manifest(root)
    run_install(root, python=py)
    db = root / "var/lib/counter-kiosk/kiosk.db"
    db.write_bytes(b"unsent events")
    out = run_install(root, script="uninstall.sh").stdout
    assert "kept /var/lib/counter-kiosk" in out
    assert db.read_bytes() == b"unsent events"
    assert (root / "etc/counter-kiosk/config.toml").exists()
    assert not (root / OPT).exists()
    assert not (root / "etc/systemd/system/kiosk.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/kiosk.service").exists()
    assert not (root / "etc/systemd/system/getty@tty1.service").exists()
    assert not (root / "etc/udev/rules.d/99-counter-kiosk.rules").exists()
    run_install(root, "--purge", script="uninstall.sh")
    assert not db.exists() and not (root / "etc/counter-kiosk").exists()
    assert account(root, "kiosk") is None
    # Nothing of ours is left but the device groups (other software may use them) and
    # empty directories.
    left = {p for p in manifest(root) if p not in baseline}
    assert all(p.startswith(("etc/", "var", "opt")) for p in left)
    assert not [p for p in left if (root / p).is_file() and not p.startswith("etc/")]


def test_hq_role_installs_the_collector_and_the_console_only(root, py):
    run_install(root, "--role", "hq", python=py)
    assert account(root, "kiosk-hq") is not None and account(root, "kiosk") is None
    for unit in ("kiosk-hq.service", "kiosk-hq-console.service"):
        installed = root / "etc/systemd/system" / unit
        assert installed.read_bytes() == (SYSTEMD / unit).read_bytes()
    assert not (root / "etc/systemd/system/kiosk.service").exists()
    assert not (root / "etc/udev/rules.d/99-counter-kiosk.rules").exists()
    uid, gid = ids(root, "kiosk-hq")
    assert owner_mode(root / "var/lib/counter-kiosk-hq") == (uid, gid, 0o750)
    assert owner_mode(root / "etc/counter-kiosk/hq.env") == (0, gid, 0o640)
    assert not (root / "etc/counter-kiosk/config.toml").exists()
    rel = root / OPT / os.readlink(root / OPT / "current")
    assert "--system-site-packages" not in (rel / "venv.log").read_text()
    # HQ's own lock: Django and the console's libraries, which a Pi never gets.
    assert (rel / "pip.log").read_text().splitlines()[0].endswith(
        f"-r {REPO}/requirements-hq.lock")
    before = manifest(root)
    run_install(root, "--role", "hq", python=py)
    assert manifest(root) == before


def test_bad_arguments_are_refused_with_a_reason(root):
    proc = run_install(root, "--role", "desk", check=False)
    assert proc.returncode != 0 and "--role must be pi or hq" in proc.stderr
    proc = run_install(root / "nope", check=False)
    assert proc.returncode != 0 and "no such directory" in proc.stderr


# ------------------------------------------------------------------ a step that fails


def path_without(tmp_path: Path, *missing: str) -> str:
    """A PATH with every command of this machine's but ``missing`` (a root without the
    systemd package)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for d in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            link = bin_dir / name
            if name not in missing and not link.exists() and not link.is_symlink():
                link.symlink_to(os.path.join(d, name))
    return str(bin_dir)


def test_without_systemctl_the_install_fails_saying_what_to_do(tmp_path, root, py):
    proc = run_install(root, python=py, check=False, path=path_without(tmp_path, "systemctl"))
    assert proc.returncode != 0, proc.stdout
    assert "systemctl not found" in proc.stderr and "kiosk.service" in proc.stderr
    assert "Fix: install systemd" in proc.stderr and "--no-enable" in proc.stderr
    assert "done" not in proc.stdout
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    # --no-enable installs the files and says the units were left alone.
    proc = run_install(root, "--no-enable", python=py, check=False,
                       path=path_without(tmp_path, "systemctl"))
    assert proc.returncode == 0, proc.stderr
    assert (root / "etc/systemd/system/kiosk.service").exists()


def test_a_failing_enable_fails_the_install(tmp_path, root, py):
    # systemctl is there but refuses (a broken unit, a read-only /etc).
    bin_dir = Path(path_without(tmp_path, "systemctl"))
    (bin_dir / "systemctl").write_text(
        '#!/bin/sh\ncase "$*" in *is-enabled*) echo disabled; exit 1;; esac\n'
        'echo "Failed to enable unit: Read-only file system" >&2; exit 1\n')
    (bin_dir / "systemctl").chmod(0o755)
    proc = run_install(root, python=py, check=False, path=str(bin_dir))
    assert proc.returncode != 0, proc.stdout
    assert "enabling kiosk.service failed" in proc.stderr and "Fix:" in proc.stderr
    assert "done" not in proc.stdout and "enabled kiosk.service" not in proc.stdout
