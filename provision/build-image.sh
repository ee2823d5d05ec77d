#!/usr/bin/env bash
# Build a flashable arm64 Raspberry Pi image of counter-kiosk from Debian's own packages.
#
#   sudo provision/build-image.sh                 -> build/image/counter-kiosk-<ver>-<suite>-arm64.img
#   sudo provision/build-image.sh --stage disk --rootfs DIR   (only assemble the disk)
#
# On an x86 (or arm64) Debian host with: mmdebstrap qemu-user-static binfmt-support
# dosfstools mtools e2fsprogs fdisk (docs/deployment.md, "Building the image"). Nothing
# is downloaded except from Debian's archive (the packages) and PyPI (the wheels in
# requirements.lock, through the project's installer).
#
# What the image is:
#   * Debian <suite> arm64 (mmdebstrap, --variant=apt plus the list below): Debian's
#     arm64 kernel and the Raspberry Pi boot firmware (raspi-firmware: Pi 3, 4, CM4;
#     the Pi 5 needs Raspberry Pi OS's kernel: use the rpi-image-gen layer there);
#   * counter-kiosk installed by systemd/install.sh inside the image
#     (provision/image/install-into.sh): system packages, the kiosk user, the release
#     venv from requirements.lock, the units enabled, getty@tty1 masked;
#   * three partitions (MBR, as the Pi's boot ROM wants):
#       1 bootfs  FAT32 /boot/firmware: firmware, kernel, initrd, config.txt, cmdline.txt,
#                 and the technician's cloud-init user-data + meta-data
#       2 rootfs  ext4  /, read-only from the end of the first boot (overlayroot)
#       3 ckdata  ext4  /var/lib/counter-kiosk, the database: the only writable data
#   * cloud-init reads the per-Pi identity from the boot partition (NoCloud, label
#     bootfs, as on Raspberry Pi OS), so the same rendered user-data works on both.
#
# Options:
#   --suite NAME        Debian release (default bookworm: Python 3.11, the lock's wheels)
#   --mirror URL        Debian mirror (default http://deb.debian.org/debian)
#   --out DIR           output directory (default build/image)
#   --wheelhouse DIR    install the Python packages from DIR only (offline)
#   --data-mib N        size of the data partition (default 1024)
#   --stage all|rootfs|disk   rootfs: stop after the tree; disk: assemble from --rootfs
#   --rootfs DIR        the tree for --stage disk (default OUT/rootfs)
#   --keep-rootfs       keep OUT/rootfs after the disk is made (the boot test does not need it)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
OUT="$REPO/build/image"
WHEELHOUSE=""
DATA_MIB=1024
BOOT_MIB=256
STAGE=all
ROOTFS=""
KEEP_ROOTFS=0

die() { echo "build-image.sh: $*" >&2; exit 1; }
say() { echo "build-image.sh: $*" >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --suite) SUITE="${2:?}"; shift 2 ;;
    --mirror) MIRROR="${2:?}"; shift 2 ;;
    --out) OUT="${2:?}"; shift 2 ;;
    --wheelhouse) WHEELHOUSE="$(cd "${2:?}" && pwd)"; shift 2 ;;
    --data-mib) DATA_MIB="${2:?}"; shift 2 ;;
    --stage) STAGE="${2:?}"; shift 2 ;;
    --rootfs) ROOTFS="${2:?}"; shift 2 ;;
    --keep-rootfs) KEEP_ROOTFS=1; shift ;;
    -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case "$STAGE" in all|rootfs|disk) ;; *) die "--stage must be all, rootfs or disk" ;; esac
[[ "$DATA_MIB" =~ ^[0-9]+$ ]] && [ "$DATA_MIB" -ge 64 ] || die "--data-mib must be >= 64"
[ "$(id -u)" -eq 0 ] || die "run as root (sudo): mmdebstrap's root mode and chroot need it"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
ROOTFS="${ROOTFS:-$OUT/rootfs}"
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$REPO/pyproject.toml" | head -1)"
IMAGE="$OUT/counter-kiosk-$VERSION-$SUITE-arm64.img"

need() {
  local missing=() t
  for t in "$@"; do command -v "$t" >/dev/null || missing+=("$t"); done
  [ "${#missing[@]}" -eq 0 ] || die "missing tools: ${missing[*]}; install: apt-get install \
mmdebstrap qemu-user-static binfmt-support arch-test dosfstools mtools e2fsprogs fdisk"
}

# ----------------------------------------------------------------------------- 1. rootfs

# Booting, first-boot identity, read-only root, SSH for the technician. The kiosk's own
# system packages are installed by install.sh (it holds that list, not this script).
PACKAGES=(
  systemd-sysv udev dbus kmod initramfs-tools linux-image-arm64 raspi-firmware
  firmware-brcm80211 wireless-regdb e2fsprogs dosfstools fdisk
  ifupdown isc-dhcp-client iproute2 netbase iputils-ping openssh-server sudo
  systemd-timesyncd cloud-init cloud-guest-utils overlayroot locales tzdata
  ca-certificates procps less python3 python3-venv
)

build_rootfs() {
  need mmdebstrap arch-test
  # arm64 programs run in the chroot through qemu-user-static, registered with
  # binfmt_misc (the F flag: the interpreter is opened once, so it works in a chroot).
  if [ "$(dpkg --print-architecture)" != arm64 ] && ! arch-test arm64 >/dev/null 2>&1; then
    die "this host cannot run arm64 programs: apt-get install qemu-user-static \
binfmt-support; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; \
update-binfmts --enable qemu-aarch64 (in a container: the host must allow binfmt_misc)"
  fi
  rm -rf -- "$ROOTFS"
  local cache="$OUT/cache/apt"
  mkdir -p "$cache"
  local wheel_args=()
  [ -z "$WHEELHOUSE" ] || wheel_args=(--wheelhouse "$WHEELHOUSE")
  export CK_REPO="$REPO" CK_HERE="$HERE"
  # Hooks: keep the downloaded .debs between builds (OUT/cache, the manual's recipe);
  # install counter-kiosk with its own installer; then what makes it a Pi image.
  say "building the $SUITE arm64 root in $ROOTFS (emulated: expect 15-30 minutes)"
  nice -n 10 mmdebstrap --mode=root --variant=apt --architectures=arm64 \
    --components=main,non-free-firmware \
    --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
    --skip=essential/unlink \
    --setup-hook="mkdir -p \"\$1/var/cache/apt/archives/\"" \
    --setup-hook="sync-in $cache /var/cache/apt/archives/" \
    --essential-hook="$HERE/image/debian-pi.sh pre \"\$1\"" \
    --customize-hook="$HERE/image/install-into.sh \"\$1\" --source $REPO ${wheel_args[*]}" \
    --customize-hook="$HERE/image/debian-pi.sh post \"\$1\"" \
    --customize-hook="sync-out /var/cache/apt/archives $cache" \
    "$SUITE" "$ROOTFS" "$MIRROR"
  say "root file system ready: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
}

# ----------------------------------------------------------------------------- 2. disk

# No loop devices or mounts (not available in every container or CI runner): each file
# system is made in a file (mkfs.ext4 -d copies a tree, mtools fills the FAT) and written
# into the partitioned image at its offset.
build_disk() {
  need mkfs.ext4 mkfs.vfat mcopy sfdisk
  [ -d "$ROOTFS/etc" ] && [ -d "$ROOTFS/boot/firmware" ] \
    || die "$ROOTFS is not a built root (no etc/ or boot/firmware/): run --stage rootfs first"
  local work="$OUT/disk.tmp"
  rm -rf -- "$work"
  mkdir -p "$work"
  # The boot partition's content lives on the FAT; in the root it is only an empty mount
  # point. Moved aside (a rename, same file system) while mkfs.ext4 copies the tree.
  local bootdir="$work/bootfs"
  mv "$ROOTFS/boot/firmware" "$bootdir"
  mkdir -m 0755 "$ROOTFS/boot/firmware"
  trap 'rmdir "$ROOTFS/boot/firmware" && mv "$bootdir" "$ROOTFS/boot/firmware"' EXIT
  [ -n "$(ls -A "$bootdir")" ] || die "$ROOTFS/boot/firmware is empty (no firmware, kernel)"
  local root_mib
  # Used space + 30 % + 400 MiB: room for a second release side by side (an update).
  root_mib=$(( $(du -s --block-size=1M "$ROOTFS" | cut -f1) * 13 / 10 + 400 ))
  # Whole 4 MiB units, so every partition starts on an SD erase-block boundary.
  root_mib=$(( (root_mib + 3) / 4 * 4 ))
  local data_mib=$(( (DATA_MIB + 3) / 4 * 4 ))
  say "partitions: bootfs ${BOOT_MIB} MiB, rootfs ${root_mib} MiB, ckdata ${data_mib} MiB"

  truncate -s "${BOOT_MIB}M" "$work/boot.fat"
  mkfs.vfat -F 32 -n bootfs "$work/boot.fat" >/dev/null 2>&1

  mcopy -s -p -i "$work/boot.fat" "$bootdir"/* ::/

  truncate -s "${root_mib}M" "$work/root.ext4"
  mkfs.ext4 -q -F -L rootfs -d "$ROOTFS" -E root_owner=0:0 "$work/root.ext4"
  rmdir "$ROOTFS/boot/firmware" && mv "$bootdir" "$ROOTFS/boot/firmware"
  trap - EXIT

  truncate -s "${data_mib}M" "$work/data.ext4"
  # Owned by the kiosk user, like StateDirectory= would make it (uid/gid from the image).
  local kid
  kid="$(awk -F: '$1 == "kiosk" {print $3 ":" $4}' "$ROOTFS/etc/passwd")"
  [ -n "$kid" ] || die "no kiosk user in $ROOTFS/etc/passwd: install.sh did not run"
  mkfs.ext4 -q -F -L ckdata -E root_owner="$kid" "$work/data.ext4"

  # MBR: the Pi boot ROM reads the first FAT partition. 4 MiB alignment (SD erase blocks).
  local start=8192 boot_s=$((BOOT_MIB * 2048)) root_s=$((root_mib * 2048)) data_s=$((data_mib * 2048))
  local total_s=$((start + boot_s + root_s + data_s + 2048))
  rm -f "$IMAGE"
  truncate -s $((total_s * 512)) "$IMAGE.tmp"
  sfdisk -q "$IMAGE.tmp" <<EOF
label: dos
unit: sectors
start=$start, size=$boot_s, type=c, bootable
start=$((start + boot_s)), size=$root_s, type=83
start=$((start + boot_s + root_s)), size=$data_s, type=83
EOF
  dd if="$work/boot.fat" of="$IMAGE.tmp" bs=1M seek=$((start / 2048)) conv=notrunc,sparse status=none
  dd if="$work/root.ext4" of="$IMAGE.tmp" bs=1M seek=$(((start + boot_s) / 2048)) conv=notrunc,sparse status=none
  dd if="$work/data.ext4" of="$IMAGE.tmp" bs=1M seek=$(((start + boot_s + root_s) / 2048)) conv=notrunc,sparse status=none
  mv -f "$IMAGE.tmp" "$IMAGE"
  rm -rf -- "$work"
  (cd "$OUT" && sha256sum "$(basename "$IMAGE")" > "$(basename "$IMAGE").sha256")
  if command -v bmaptool >/dev/null; then
    bmaptool create -o "$IMAGE.bmap" "$IMAGE"  # bmaptool copy writes only the used blocks
  fi
  say "image: $IMAGE ($(du -h --apparent-size "$IMAGE" | cut -f1), $(du -h "$IMAGE" | cut -f1) used)"
}

case "$STAGE" in
  all) build_rootfs; build_disk ;;
  rootfs) build_rootfs ;;
  disk) build_disk ;;
esac
if [ "$STAGE" = all ] && [ "$KEEP_ROOTFS" -eq 0 ]; then
  rm -rf -- "$ROOTFS"
fi
