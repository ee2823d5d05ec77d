#!/usr/bin/env bash
# What makes a Debian arm64 tree a Raspberry Pi counter image (provision/build-image.sh
# runs it from mmdebstrap's hooks; not needed with rpi-image-gen, whose Raspberry Pi OS
# base does all of this its own way).
#
#   debian-pi.sh pre ROOTDIR    essential hook: before the kernel is installed
#   debian-pi.sh post ROOTDIR   customize hook: after counter-kiosk is installed
set -euo pipefail

die() { echo "debian-pi.sh: $*" >&2; exit 1; }
STEP="${1:?usage: debian-pi.sh pre|post ROOTDIR}"
R="${2:?usage: debian-pi.sh pre|post ROOTDIR}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

pre() {
  # Modules the initramfs must carry to find the root: the Pi's SD/eMMC controller
  # (initramfs-tools' MODULES=most has those) and virtio, so the same image boots under
  # qemu-system-aarch64 -M virt for the boot test (provision/boot-test.sh).
  mkdir -p "$R/etc/initramfs-tools"
  cat >> "$R/etc/initramfs-tools/modules" <<'EOF'
# counter-kiosk image (provision/image/debian-pi.sh): the boot test runs under QEMU virt.
virtio_pci
virtio_blk
virtio_mmio
EOF
}

post() {
  # File systems by label, the same labels as Raspberry Pi OS (bootfs, rootfs) plus the
  # data partition, which cloud-init's mounts: adds (provision/cloud-init/user-data.yaml).
  cat > "$R/etc/fstab" <<'EOF'
# counter-kiosk image (provision/build-image.sh). The data partition (LABEL=ckdata,
# /var/lib/counter-kiosk) is added by cloud-init at the first boot (mounts:).
LABEL=rootfs  /               ext4  defaults,noatime                  0  1
LABEL=bootfs  /boot/firmware  vfat  defaults,noatime,nofail,umask=0077  0  2
EOF

  # Boot: Debian's raspi-firmware writes config.txt and cmdline.txt into /boot/firmware
  # from /etc/default/raspi-*; point it at the root by label and keep the console on.
  [ -f "$R/etc/default/raspi-firmware" ] || die "raspi-firmware is not installed in $R"
  sed -i -e 's/^#\?ROOTPART=.*/ROOTPART=LABEL=rootfs/' "$R/etc/default/raspi-firmware"
  grep -q '^ROOTPART=LABEL=rootfs' "$R/etc/default/raspi-firmware" \
    || echo 'ROOTPART=LABEL=rootfs' >> "$R/etc/default/raspi-firmware"
  echo "consoleblank=0" > "$R/etc/default/raspi-extra-cmdline"
  local kver
  kver="$(basename "$(ls -d "$R"/lib/modules/*/ | head -1)")"
  [ -n "$kver" ] && [ -f "$R/boot/initrd.img-$kver" ] || die "no kernel/initrd in $R/boot"
  # Rewrite cmdline.txt/config.txt with the settings above (the hook raspi-firmware
  # runs after every initramfs update; the initramfs itself is already up to date).
  chroot "$R" /etc/initramfs/post-update.d/z50-raspi-firmware "$kver" "/boot/initrd.img-$kver"
  grep -q 'root=LABEL=rootfs' "$R/boot/firmware/cmdline.txt" \
    || die "cmdline.txt does not boot LABEL=rootfs: $(cat "$R/boot/firmware/cmdline.txt")"

  echo counter-kiosk > "$R/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tcounter-kiosk\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
    > "$R/etc/hosts"

  # First boot: cloud-init reads user-data and meta-data from the boot partition, as
  # Raspberry Pi OS does (NoCloud, fs_label bootfs), so the technician's step is the same
  # on both images: copy the rendered files onto the card's boot partition.
  mkdir -p "$R/etc/cloud/cloud.cfg.d"
  cat > "$R/etc/cloud/cloud.cfg.d/90-counter-kiosk.cfg" <<'EOF'
# counter-kiosk image (provision/image/debian-pi.sh): the per-Pi identity comes from the
# boot partition (user-data, meta-data; provision/render_user_data.py writes them).
datasource_list: [NoCloud, None]
datasource:
  NoCloud:
    fs_label: bootfs
EOF

  # Every Pi must get its own SSH host keys: cloud-init makes them at the first boot.
  rm -f "$R"/etc/ssh/ssh_host_*
  # The locales cloud-init's template asks for, generated now (slow under emulation
  # at the first boot otherwise).
  sed -i -e 's/^# *\(zh_CN.UTF-8 UTF-8\)/\1/' -e 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' \
    "$R/etc/locale.gen"
  chroot "$R" locale-gen >/dev/null

  # The read-only root switch (overlayroot; raspi-config's do_overlayfs on Raspberry Pi OS).
  install -m 0755 "$HERE/counter-kiosk-readonly" "$R/usr/local/sbin/counter-kiosk-readonly"
  # The image's own record of what it is.
  local rel
  rel="$(readlink "$R/opt/counter-kiosk/current")"
  printf 'counter-kiosk image\nrelease=%s\nbuilt=%s\n' "${rel#releases/}" \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$R/etc/counter-kiosk-image"
  rm -rf "$R/var/cache/apt/archives/partial"
}

case "$STEP" in
  pre) pre ;;
  post) post ;;
  *) die "unknown step $STEP (pre or post)" ;;
esac
