#!/usr/bin/env bash
# Remove counter-kiosk. Keeps the data (/var/lib/counter-kiosk: the database with any
# unsent events) and the configuration (/etc/counter-kiosk) unless --purge.
#
#   sudo systemd/uninstall.sh [--root DIR] [--role pi|hq] [--purge]
#
# Before --purge on a counter: `kiosk events --unsent` must be empty, or copy the state
# directory away first (docs/technician-guide.md, "Replacing a Pi").
set -euo pipefail

ROOT=""
ROLE="pi"
PURGE=0
die() { echo "uninstall.sh: $*" >&2; exit 1; }
say() { echo "uninstall.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; shift ;;
    --role) ROLE="${2:?--role needs pi or hq}"; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
case "$ROLE" in pi|hq) ;; *) die "--role must be pi or hq" ;; esac
if [ -n "$ROOT" ]; then
  ROOT="$(cd "$ROOT" && pwd)"
  [ "$ROOT" != "/" ] || ROOT=""
fi
[ "$(id -u)" -eq 0 ] || die "run as root (sudo)"

if [ "$ROLE" = pi ]; then
  USER_NAME=kiosk; STATE=/var/lib/counter-kiosk; UNITS=(kiosk.service kiosk-sync.service)
else
  USER_NAME=kiosk-hq; STATE=/var/lib/counter-kiosk-hq; UNITS=(kiosk-hq.service kiosk-hq-console.service)
fi

systemctl_() {
  if [ -n "$ROOT" ]; then systemctl --root="$ROOT" "$@"
  elif [ -d /run/systemd/system ]; then systemctl "$@"
  else systemctl --root=/ "$@"
  fi
}

if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl stop "${UNITS[@]}" 2>/dev/null || true
fi
for u in "${UNITS[@]}"; do
  systemctl_ disable "$u" 2>/dev/null || true
  rm -f "$ROOT/etc/systemd/system/$u"
  rm -rf "$ROOT/etc/systemd/system/$u.d/ip-allow.conf"
  rmdir "$ROOT/etc/systemd/system/$u.d" 2>/dev/null || true
done
if [ "$ROLE" = pi ]; then
  systemctl_ unmask getty@tty1.service 2>/dev/null || true
  rm -f "$ROOT/etc/udev/rules.d/99-counter-kiosk.rules" \
        "$ROOT/etc/tmpfiles.d/counter-kiosk.conf" \
        "$ROOT/etc/systemd/journald.conf.d/counter-kiosk.conf" \
        "$ROOT/etc/systemd/logind.conf.d/counter-kiosk.conf" \
        "$ROOT/etc/systemd/system.conf.d/counter-kiosk.conf" \
        "$ROOT/etc/sysctl.d/90-counter-kiosk.conf"
  rmdir --ignore-fail-on-non-empty "$ROOT/etc/systemd/journald.conf.d" \
        "$ROOT/etc/systemd/logind.conf.d" "$ROOT/etc/systemd/system.conf.d" 2>/dev/null || true
fi
[ -n "$ROOT" ] || { systemctl daemon-reload 2>/dev/null || true; }

# The software (all releases) goes unless another role still uses it.
other_units=(kiosk.service kiosk-sync.service kiosk-hq.service kiosk-hq-console.service)
still_used=0
for u in "${other_units[@]}"; do [ ! -e "$ROOT/etc/systemd/system/$u" ] || still_used=1; done
if [ "$still_used" -eq 0 ]; then
  rm -rf -- "$ROOT/opt/counter-kiosk"
  say "removed /opt/counter-kiosk"
fi

if [ "$PURGE" -eq 1 ]; then
  rm -rf -- "$ROOT$STATE"
  [ "$still_used" -eq 1 ] || rm -rf -- "$ROOT/etc/counter-kiosk"
  if grep -q "^$USER_NAME:" "$ROOT/etc/passwd"; then
    if [ -n "$ROOT" ]; then userdel --prefix "$ROOT" "$USER_NAME"; else userdel "$USER_NAME"; fi
    say "removed user $USER_NAME"
  fi
  say "purged: data and configuration removed"
else
  say "kept $STATE (data) and /etc/counter-kiosk (configuration); --purge removes them"
fi
