#!/usr/bin/env bash
# Install (or update) counter-kiosk on Raspberry Pi OS Lite arm64 (Bookworm or Trixie).
#
#   sudo systemd/install.sh                    a counter (kiosk + kiosk-sync)
#   sudo systemd/install.sh --role hq          the HQ collector (kiosk-hq)
#   sudo systemd/install.sh --rollback         switch back to the previous release
#   systemd/install.sh --root DIR              install into DIR (an image tree, a test root)
#
# Options:
#   --root DIR        install into DIR instead of /: files, users (useradd --prefix) and
#                     unit enablement (systemctl --root) all land under DIR; apt is skipped
#                     (the packages it would install are printed). The venv is built only
#                     when KIOSK_PYTHON names an interpreter (it must be one that runs here).
#   --role pi|hq      pi (default): the counter; hq: the HQ collector
#   --source DIR      the counter-kiosk source tree (default: this script's parent)
#   --wheelhouse DIR  install Python packages from DIR only (offline sites): pip --no-index
#   --no-enable       install units but do not enable or (re)start them
#   --rollback        make the previous release current again, restart, and stop
#
# Idempotent: a second run with the same source changes nothing. Releases are versioned
# venvs under /opt/counter-kiosk/releases/<version>-<hash>; /opt/counter-kiosk/current
# points at the one in use and /opt/counter-kiosk/venv -> current is what the units run.
# /etc/counter-kiosk/config.toml is written only when there is none.
set -euo pipefail

ROOT=""
ROLE="pi"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHEELHOUSE=""
ENABLE=1
ROLLBACK=0
KEEP_RELEASES=3

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }
# step WHAT FIX CMD...: run CMD; if it fails the install stops there, saying what to do.
# (Never `CMD && say ...`: set -e does not stop on a failure inside a && list.)
step() {
  local what="$1" fix="$2"; shift 2
  "$@" || die "$what failed (exit $?). Fix: $fix; then run install.sh again (it is idempotent)"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; shift ;;
    --role) ROLE="${2:?--role needs pi or hq}"; shift 2 ;;
    --role=*) ROLE="${1#--role=}"; shift ;;
    --source) SRC="${2:?--source needs a directory}"; shift 2 ;;
    --wheelhouse) WHEELHOUSE="${2:?--wheelhouse needs a directory}"; shift 2 ;;
    --no-enable) ENABLE=0; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case "$ROLE" in pi|hq) ;; *) die "--role must be pi or hq, not '$ROLE'" ;; esac
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || die "--root $ROOT: no such directory"
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != "/" ] || ROOT=""
fi
[ "$(id -u)" -eq 0 ] || die "run as root (sudo): it creates users, chowns and installs units"

OPT=/opt/counter-kiosk
ETC=/etc/counter-kiosk
if [ "$ROLE" = pi ]; then
  USER_NAME=kiosk; STATE=/var/lib/counter-kiosk
  UNITS=(kiosk.service kiosk-sync.service)
  # gpio: /dev/gpiochip*; dialout: serial adapters; lp: USB printer; video/render: DRM;
  # input: the touch panel; audio: the speaker.
  GROUPS_WANTED=(gpio dialout lp video render input audio)
else
  USER_NAME=kiosk-hq; STATE=/var/lib/counter-kiosk-hq
  UNITS=(kiosk-hq.service kiosk-hq-console.service)
  GROUPS_WANTED=()
fi
PREFIX_ARGS=()
[ -z "$ROOT" ] || PREFIX_ARGS=(--prefix "$ROOT")

# ----------------------------------------------------------------------------- helpers

# put SRC DEST MODE OWNER:GROUP -- copy only if the content differs, then fix mode/owner.
put() {
  local src="$1" dest="$ROOT$2" mode="$3" owner="$4"
  mkdir -p "$(dirname "$dest")"
  if ! cmp -s "$src" "$dest" 2>/dev/null; then
    cp "$src" "$dest.tmp.$$" && mv -f "$dest.tmp.$$" "$dest"
    say "installed $2"
  fi
  chmod "$mode" "$dest"
  chown "$(ids "$owner")" "$dest"
}

# dir PATH MODE OWNER:GROUP
dir() {
  mkdir -p "$ROOT$1"
  chmod "$2" "$ROOT$1"
  chown "$(ids "$3")" "$ROOT$1"
}

# Names resolved in the target's /etc/passwd and /etc/group (not the host's), so a
# --root install owns its files by the ids the image will have.
ids() {
  local user="${1%%:*}" group="${1##*:}" uid gid
  uid=$(awk -F: -v n="$user" '$1 == n {print $3}' "$ROOT/etc/passwd")
  gid=$(awk -F: -v n="$group" '$1 == n {print $3}' "$ROOT/etc/group")
  [ -n "$uid" ] && [ -n "$gid" ] || die "no user '$user' or group '$group' in $ROOT/etc"
  echo "$uid:$gid"
}

# Atomic symlink switch: LINK -> TARGET (relative), via rename.
relink() {
  local link="$ROOT$1" target="$2"
  [ "$(readlink "$link" 2>/dev/null || true)" = "$target" ] && return 0
  ln -sfn "$target" "$link.new.$$"
  mv -Tf "$link.new.$$" "$link"
  say "$1 -> $target"
}

systemctl_() {
  # --root works on the unit files alone: an image tree, or a chroot (an image build)
  # where systemd is not running.
  if [ -n "$ROOT" ]; then systemctl --root="$ROOT" "$@"
  elif [ -d /run/systemd/system ]; then systemctl "$@"
  else systemctl --root=/ "$@"
  fi
}

restart_units() {
  [ -z "$ROOT" ] && [ -d /run/systemd/system ] && [ "$ENABLE" -eq 1 ] || return 0
  systemctl daemon-reload
  local u
  for u in "${UNITS[@]}"; do
    # A unit that does not come up (kiosk-sync with no broker configured yet) must not
    # fail the install: the release is in place; kiosk doctor says what is missing.
    if systemctl restart "$u"; then
      say "restarted $u"
    else
      say "warning: $u did not start; see: systemctl status $u, kiosk doctor"
    fi
  done
}

# ----------------------------------------------------------------------------- rollback

if [ "$ROLLBACK" -eq 1 ]; then
  prev="$(readlink "$ROOT$OPT/previous" 2>/dev/null || true)"
  cur="$(readlink "$ROOT$OPT/current" 2>/dev/null || true)"
  [ -n "$prev" ] && [ -d "$ROOT$OPT/$prev" ] || die "no previous release to roll back to \
(ls $OPT/releases)"
  relink "$OPT/current" "$prev"
  [ -z "$cur" ] || relink "$OPT/previous" "$cur"
  restart_units
  say "rolled back: current is $prev (was ${cur:-nothing})"
  exit 0
fi

# ----------------------------------------------------------------------------- 1. packages

[ -f "$SRC/pyproject.toml" ] && [ -f "$SRC/requirements.lock" ] \
  || die "$SRC is not a counter-kiosk source tree (no pyproject.toml / requirements.lock)"

if [ "$ROLE" = pi ]; then
  # Kivy's arm64 wheel brings SDL2 (with kmsdrm); it loads GL/EGL/GBM/DRM from the system.
  APT_PACKAGES=(python3 python3-venv ca-certificates sqlite3 systemd fonts-wqy-microhei
                libgl1 libegl1 libgles2 libgbm1 libdrm2 libmtdev1 alsa-utils)
else
  APT_PACKAGES=(python3 python3-venv ca-certificates sqlite3 systemd)
fi
if [ -n "$ROOT" ]; then
  say "--root: not installing system packages; the target needs: ${APT_PACKAGES[*]}"
else
  # python3-lgpio (Raspberry Pi OS) carries the Pi 5 fixes; the venv sees it through
  # --system-site-packages. Generic Debian has no such package: skip it there.
  if [ "$ROLE" = pi ] && apt-cache show python3-lgpio >/dev/null 2>&1; then
    APT_PACKAGES+=(python3-lgpio)
  fi
  missing=()
  for p in "${APT_PACKAGES[@]}"; do
    # Trixie renamed some libraries in the 64-bit time_t transition (libfoo1 -> libfoo1t64).
    if ! apt-cache show "$p" >/dev/null 2>&1 && apt-cache show "${p}t64" >/dev/null 2>&1; then
      p="${p}t64"
    fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
fi

# The units are enabled with systemctl (--root works on an image tree without a running
# systemd): without it nothing would be enabled, so stop before changing anything.
if [ "$ENABLE" -eq 1 ] && ! command -v systemctl >/dev/null 2>&1; then
  die "systemctl not found, so ${UNITS[*]} cannot be enabled. Fix: install systemd \
(apt-get install systemd${ROOT:+ on this machine: --root uses its systemctl}), or pass \
--no-enable and enable the units later (systemctl enable ${UNITS[*]})"
fi

# ----------------------------------------------------------------------------- 2. user

for g in "${GROUPS_WANTED[@]}"; do
  grep -q "^$g:" "$ROOT/etc/group" || { groupadd "${PREFIX_ARGS[@]}" --system "$g"; say "group $g"; }
done
if ! grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
  useradd "${PREFIX_ARGS[@]}" --system --user-group --home-dir "$STATE" --no-create-home \
    --shell /usr/sbin/nologin --comment "counter-kiosk" "$USER_NAME"
  say "user $USER_NAME"
fi
for g in "${GROUPS_WANTED[@]}"; do
  members="$(awk -F: -v n="$g" '$1 == n {print $4}' "$ROOT/etc/group")"
  case ",$members," in
    *",$USER_NAME,"*) ;;
    *) usermod "${PREFIX_ARGS[@]}" -aG "$g" "$USER_NAME"; say "$USER_NAME joins $g" ;;
  esac
done

# ----------------------------------------------------------------------------- 3. directories

dir "$OPT" 0755 root:root
dir "$OPT/releases" 0755 root:root
dir "$ETC" 0750 "root:$USER_NAME"
dir "$STATE" 0750 "$USER_NAME:$USER_NAME"

# ----------------------------------------------------------------------------- 4. release (venv)

version="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$SRC/pyproject.toml" | head -1)"
# The release is named by what goes into it: the lock file and the package sources.
# HQ installs its own lock (Django, the console's libraries, psycopg); a Pi never does.
LOCK=requirements.lock
[ "$ROLE" != hq ] || LOCK=requirements-hq.lock
content_hash="$(cd "$SRC" && find requirements*.lock pyproject.toml device drivers sync ui kiosk hq \
  -type f ! -path '*/__pycache__/*' ! -name '*.pyc' -print0 2>/dev/null | LC_ALL=C sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-12)"
release="${version}-${content_hash}"
rel_dir="$OPT/releases/$release"
marker="$ROOT$rel_dir/.counter-kiosk-release"

if [ -f "$marker" ]; then
  say "release $release is already installed"
else
  # A release without its marker is a half-built one (power cut): start it again.
  rm -rf -- "$ROOT$rel_dir"
  mkdir -p "$ROOT$rel_dir"
  PIP_SOURCE=()
  [ -z "$WHEELHOUSE" ] || PIP_SOURCE=(--no-index --find-links "$WHEELHOUSE")
  PY="${KIOSK_PYTHON:-}"
  [ -n "$PY" ] || [ -n "$ROOT" ] || PY=/usr/bin/python3
  if [ -n "$PY" ]; then
    say "building release $release (venv from $LOCK)"
    venv_args=()
    [ "$ROLE" = hq ] || venv_args=(--system-site-packages)
    "$PY" -m venv "${venv_args[@]}" "$ROOT$rel_dir"
    "$ROOT$rel_dir/bin/python" -m pip install -q --disable-pip-version-check \
      "${PIP_SOURCE[@]}" -r "$SRC/$LOCK"
    "$ROOT$rel_dir/bin/python" -m pip install -q --disable-pip-version-check \
      "${PIP_SOURCE[@]}" --no-deps "$SRC"
    venv_note="built with $("$PY" -c 'import sys; print(sys.version.split()[0])' 2>/dev/null || echo "$PY")"
  else
    say "--root without KIOSK_PYTHON: release $release has no venv yet (build it in the image chroot)"
    venv_note="not built (--root without KIOSK_PYTHON)"
  fi
  mkdir -p "$ROOT$rel_dir/share/doc/counter-kiosk" "$ROOT$rel_dir/share/counter-kiosk"
  cp -r "$SRC/systemd" "$SRC/config.toml" "$ROOT$rel_dir/share/counter-kiosk/"
  [ ! -d "$SRC/provision" ] || cp -r "$SRC/provision" "$ROOT$rel_dir/share/counter-kiosk/"
  [ ! -d "$SRC/docs" ] || cp -r "$SRC/docs/." "$ROOT$rel_dir/share/doc/counter-kiosk/"
  {
    echo "release=$release"
    echo "version=$version"
    echo "lock_sha256=$(sha256sum < "$SRC/$LOCK" | cut -d' ' -f1)"
    echo "venv=$venv_note"
  } > "$marker.tmp"
  mv "$marker.tmp" "$marker"
fi
chown -R root:root "$ROOT$rel_dir"

old_current="$(readlink "$ROOT$OPT/current" 2>/dev/null || true)"
changed_release=0
if [ "$old_current" != "releases/$release" ]; then
  changed_release=1
  [ -z "$old_current" ] || relink "$OPT/previous" "$old_current"
  relink "$OPT/current" "releases/$release"
fi
relink "$OPT/venv" current

# Keep the newest few releases, and always current and previous.
keep_prev="$(readlink "$ROOT$OPT/previous" 2>/dev/null || true)"
mapfile -t all_releases < <(cd "$ROOT$OPT/releases" && ls -1t)
n=0
for r in "${all_releases[@]}"; do
  n=$((n + 1))
  if [ "$n" -gt "$KEEP_RELEASES" ] && [ "releases/$r" != "releases/$release" ] \
      && [ "releases/$r" != "$keep_prev" ]; then
    rm -rf -- "$ROOT$OPT/releases/$r"
    say "removed old release $r"
  fi
done

# ----------------------------------------------------------------------------- 5. config

if [ "$ROLE" = hq ]; then
  [ -e "$ROOT$ETC/hq.env" ] || put "$SRC/systemd/hq.env" "$ETC/hq.env" 0640 "root:$USER_NAME"
elif [ ! -e "$ROOT$ETC/config.toml" ]; then
  tmp="$(mktemp)"
  cp "$SRC/config.toml" "$tmp"
  # On a Pi: real GPIO and a full-screen UI. Serial ports, printer and broker stay
  # simulated/empty until the technician sets them (kiosk doctor says which).
  sed -i -e 's/^pin_factory = "mock"/pin_factory = "lgpio"/' \
         -e 's/^fullscreen = false/fullscreen = true/' "$tmp"
  put "$tmp" "$ETC/config.toml" 0640 "root:$USER_NAME"
  rm -f "$tmp"
fi
# Everything in /etc/counter-kiosk (config, broker password, client key) is readable by
# the service user only; cloud-init writes them root-only before the user exists.
while IFS= read -r -d '' f; do
  chown "$(ids "root:$USER_NAME")" "$f"
  chmod 0640 "$f"
done < <(find "$ROOT$ETC" -type f -print0)

# ----------------------------------------------------------------------------- 6. units

S="$SRC/systemd"
for u in "${UNITS[@]}"; do
  put "$S/$u" "/etc/systemd/system/$u" 0644 root:root
done
if [ "$ROLE" = pi ]; then
  put "$S/99-counter-kiosk.rules" /etc/udev/rules.d/99-counter-kiosk.rules 0644 root:root
  put "$S/counter-kiosk.tmpfiles" /etc/tmpfiles.d/counter-kiosk.conf 0644 root:root
  put "$S/journald-counter-kiosk.conf" /etc/systemd/journald.conf.d/counter-kiosk.conf 0644 root:root
  put "$S/logind-counter-kiosk.conf" /etc/systemd/logind.conf.d/counter-kiosk.conf 0644 root:root
  put "$S/system-counter-kiosk.conf" /etc/systemd/system.conf.d/counter-kiosk.conf 0644 root:root
  put "$S/sysctl-counter-kiosk.conf" /etc/sysctl.d/90-counter-kiosk.conf 0644 root:root
fi
# The units deny every address but those in their ip-allow.conf drop-in: the broker
# (and kiosk-hq's database), resolved now from config.toml / hq.env.
if ! python3 "$S/ip_allow.py" "$ROLE" --root "${ROOT:-/}"; then
  say "after setting the broker run: python3 $S/ip_allow.py $ROLE && systemctl daemon-reload"
fi

if [ "$ENABLE" -eq 1 ]; then
  if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$ROLE" = pi ]; then
      # Applying the rules now only saves a reboot: a failure is said, not fatal.
      udevadm control --reload || say "warning: udevadm reload failed: udev rules apply after a reboot"
      udevadm trigger --subsystem-match=tty --subsystem-match=gpio --subsystem-match=usb \
        || say "warning: udevadm trigger failed: device permissions apply after a reboot"
      systemd-tmpfiles --create /etc/tmpfiles.d/counter-kiosk.conf \
        || say "warning: systemd-tmpfiles failed: /run directories appear after a reboot"
      sysctl -q --load /etc/sysctl.d/90-counter-kiosk.conf \
        || say "warning: sysctl --load failed: kernel settings apply after a reboot"
    fi
  fi
  for u in "${UNITS[@]}"; do
    # is-enabled answers from the unit files, so this works with --root too.
    if [ "$(systemctl_ is-enabled "$u" 2>/dev/null || true)" != enabled ]; then
      step "enabling $u" "see the systemctl error above; systemctl enable $u must work" \
        systemctl_ enable "$u"
      say "enabled $u"
    fi
  done
  if [ "$ROLE" = pi ] && [ "$(systemctl_ is-enabled getty@tty1.service 2>/dev/null || true)" != masked ]; then
    # The UI owns tty1's screen; a login prompt must not fight it for the display.
    step "masking getty@tty1.service" "see the systemctl error above" \
      systemctl_ mask getty@tty1.service
    say "masked getty@tty1.service"
  fi
  if [ "$changed_release" -eq 1 ]; then
    restart_units
  fi
fi

say "done: release $release (role $ROLE${ROOT:+, root $ROOT})"
[ "$ROLE" = hq ] || say "next: edit $ETC/config.toml, then run: sudo -u kiosk $OPT/venv/bin/kiosk doctor --config $ETC/config.toml"
