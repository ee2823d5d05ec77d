"""Helpers for the deployment tests: a throwaway root file system, a stand-in python for
the installer's venv step, a manifest of what a root holds, and the source-tree copy."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SYSTEMD = REPO / "systemd"
UNITS = ("kiosk.service", "kiosk-sync.service", "kiosk-hq.service", "kiosk-hq-console.service",
         "kiosk-station.service")
CONSOLE_SCRIPTS = ("kiosk", "kiosk-sync", "kiosk-hq", "kiosk-station")

# A stand-in for python3 in the installer: "-m venv [opts] DIR" makes DIR/bin/python,
# which appends its arguments to DIR/pip.log; the "--no-deps" install (the package itself)
# creates the console scripts, as pip would.
FAKE_PYTHON = r"""#!/bin/sh
if [ "$1" = -m ] && [ "$2" = venv ]; then
  for a; do d="$a"; done
  mkdir -p "$d/bin"
  echo "venv $*" > "$d/venv.log"
  echo "home = /usr/bin" > "$d/pyvenv.cfg"
  cat > "$d/bin/python" <<EOS
#!/bin/sh
echo "\$*" >> "$d/pip.log"
case "\$*" in *--no-deps*)
  for s in kiosk kiosk-sync kiosk-hq; do
    printf '#!/bin/sh\n' > "$d/bin/\$s"; chmod 755 "$d/bin/\$s"
  done;;
esac
EOS
  chmod 755 "$d/bin/python"
  exit 0
fi
echo 3.11.2
"""


def make_root(path: Path) -> Path:
    """An empty target: just the account files useradd --prefix needs."""
    etc = path / "etc"
    etc.mkdir(parents=True)
    shutil.copy("/etc/login.defs", etc / "login.defs")
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    # dialout exists on every Debian; the installer must add the others and join them all.
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\ndialout:*::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o640)
    return path


def fake_python(path: Path) -> Path:
    path.write_text(FAKE_PYTHON)
    path.chmod(0o755)
    return path


def copy_source(dest: Path) -> Path:
    """The parts of the source tree the installer reads (so tests can change them)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", "*.db-*")
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "requirements.lock", "requirements-hq.lock", "config.toml"):
        shutil.copy(REPO / name, dest / name)
    for name in ("device", "drivers", "sync", "ui", "kiosk", "hq", "systemd", "docs", "provision"):
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, dest / name, ignore=ignore)
    return dest


def run_install(root: Path, *args: str, source: Path | None = None,
                python: Path | None = None, script: str = "install.sh",
                check: bool = True, path: str | None = None,
                ) -> subprocess.CompletedProcess[str]:
    """``path`` replaces PATH (a machine without some command)."""
    env = {**os.environ, **({"PATH": path} if path is not None else {})}
    env.pop("KIOSK_PYTHON", None)
    if python is not None:
        env["KIOSK_PYTHON"] = str(python)
    cmd = ["bash", str((source or REPO) / "systemd" / script), "--root", str(root), *args]
    if source is not None and script == "install.sh":
        cmd += ["--source", str(source)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def manifest(root: Path) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, sha256 or link target) for everything under root."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                detail = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                detail = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                detail = ""
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                        st.st_gid, detail)
    return out


def account(root: Path, name: str, file: str = "passwd") -> list[str] | None:
    for line in (root / "etc" / file).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def host_unit_dir() -> Path:
    for d in ("/usr/lib/systemd/system", "/lib/systemd/system"):
        if Path(d, "multi-user.target").exists():
            return Path(d)
    raise FileNotFoundError("no systemd unit directory on this machine")


def add_system_units(root: Path) -> None:
    """systemd-analyze --root needs the stock units (sysinit.target...) inside the root."""
    dest = root / "usr/lib/systemd/system"
    if not dest.exists():
        shutil.copytree(host_unit_dir(), dest, symlinks=True)
