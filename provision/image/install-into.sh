#!/usr/bin/env bash
# Put counter-kiosk into an image tree and install it there with the project's own
# installer, run inside the tree with chroot (arm64 binaries run through qemu-user-static
# and binfmt_misc on an x86 build host).
#
#   provision/image/install-into.sh ROOTDIR [--source DIR] [--wheelhouse DIR]
#
# One step shared by both image builders: provision/build-image.sh (Debian, mmdebstrap)
# calls it from a customize hook, and the rpi-image-gen layer (provision/image/layer/)
# calls it from its own. What it does:
#   1. copies the release source (the files pip and install.sh need, nothing else) to
#      ROOTDIR/opt/counter-kiosk/src, plus an arm64 wheelhouse if given;
#   2. runs /opt/counter-kiosk/src/systemd/install.sh --source /opt/counter-kiosk/src
#      inside ROOTDIR: system packages (apt in the chroot), the kiosk user and groups,
#      the release venv from requirements.lock, units, drop-ins, udev rules, units
#      enabled, getty@tty1 masked. No systemd runs in the chroot, so install.sh enables
#      the units on the unit files (systemctl --root=/);
#   3. checks that a runnable release is current and both units are enabled.
# The builder empties apt's cache afterwards (mmdebstrap and rpi-image-gen both do).
# The per-Pi identity is not baked in: cloud-init writes it at the first boot.
set -euo pipefail

die() { echo "install-into.sh: $*" >&2; exit 1; }

ROOTDIR="${1:?usage: install-into.sh ROOTDIR [--source DIR] [--wheelhouse DIR]}"
shift
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WHEELHOUSE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --source) SRC="$(cd "${2:?--source needs a directory}" && pwd)"; shift 2 ;;
    --wheelhouse) WHEELHOUSE="${2:?--wheelhouse needs a directory}"; shift 2 ;;
    *) die "unknown option $1" ;;
  esac
done
[ -d "$ROOTDIR/etc" ] || die "$ROOTDIR is not a root file system tree (no etc/)"
[ -f "$SRC/pyproject.toml" ] || die "$SRC is not a counter-kiosk source tree"
[ "$(id -u)" -eq 0 ] || die "run as root: chroot and the installer need it"

# pyproject.toml's readme is README.md: without it pip cannot build the package.
FILES=(pyproject.toml README.md requirements.lock config.toml device drivers sync ui kiosk systemd
       provision docs)
dest="$ROOTDIR/opt/counter-kiosk/src"
rm -rf -- "$dest"
mkdir -p "$dest"
tar -C "$SRC" --exclude=__pycache__ --exclude='*.pyc' -cf - "${FILES[@]}" | tar -C "$dest" -xf -
wheels=()
if [ -n "$WHEELHOUSE" ]; then
  mkdir -p "$dest/wheels"
  cp "$WHEELHOUSE"/*.whl "$dest/wheels/"
  wheels=(--wheelhouse /opt/counter-kiosk/src/wheels)
fi

# The chroot needs name resolution for apt and pip; mmdebstrap and rpi-image-gen both
# provide /etc/resolv.conf while their hooks run.
chroot "$ROOTDIR" /usr/bin/env DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 \
  /opt/counter-kiosk/src/systemd/install.sh --source /opt/counter-kiosk/src "${wheels[@]}"

# Proof the installer did its job (it must fail the build otherwise).
rel="$(readlink "$ROOTDIR/opt/counter-kiosk/current" || true)"
[ -n "$rel" ] && [ -x "$ROOTDIR/opt/counter-kiosk/$rel/bin/kiosk" ] \
  || die "install.sh left no runnable release (no /opt/counter-kiosk/current/bin/kiosk)"
for unit in kiosk.service kiosk-sync.service; do
  [ -L "$ROOTDIR/etc/systemd/system/multi-user.target.wants/$unit" ] \
    || die "install.sh did not enable $unit"
done
rm -rf -- "$ROOTDIR/root/.cache"

# At an image's first boot the identity (config.toml, credentials) and the data partition's
# mount come from cloud-init's init stage: start the counter after it, or the first
# events would go into the root file system under the mount point. Where cloud-init is
# not installed the ordering is a no-op.
for unit in kiosk.service kiosk-sync.service; do
  mkdir -p "$ROOTDIR/etc/systemd/system/$unit.d"
  cat > "$ROOTDIR/etc/systemd/system/$unit.d/10-image-first-boot.conf" <<'EOF'
# counter-kiosk image (provision/image/install-into.sh): after cloud-init wrote the
# identity and mounted the data partition (first boot; later boots it is quick).
[Unit]
After=cloud-init.service
EOF
done
echo "install-into.sh: counter-kiosk release $rel installed into $ROOTDIR"
