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
  # One initramfs, made in "post": under emulation each takes minutes, and the kernel's
  # postinst and the later trigger (cloud-init, overlayroot, udev hooks) would make two.
  # (The usual dpkg-divert: a no-op update-initramfs until then.)
  chroot "$R" dpkg-divert --local --rename --divert /usr/sbin/update-initramfs.real \
    --add /usr/sbin/update-initramfs
  printf '#!/bin/sh\n# counter-kiosk image build: the initramfs is made once, at the end.\nexit 0\n' \
    > "$R/usr/sbin/update-initramfs"
  chmod 0755 "$R/usr/sbin/update-initramfs"
}

# Whether the initramfs carries overlayroot's boot script (listed to a file first: grep -q
# on a pipe would end lsinitramfs with SIGPIPE, a failure under pipefail).
has_overlayroot() {
  chroot "$R" lsinitramfs "/boot/initrd.img-$1" > "$R/tmp/initrd.list"
  local found=1
  if grep -q 'scripts/init-bottom/overlayroot' "$R/tmp/initrd.list"; then found=0; fi
  rm -f "$R/tmp/initrd.list"
  return $found
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
  # Set here, not detected: the hook would look at the build host (its root, its serial
  # ports, not a Pi 4). No cma=: a Pi 4 may not boot with it (the file's own warning),
  # and the device tree's default suits the others. Boot messages and the emergency
  # shell on the screen (the last console), the UART too.
  cat >> "$R/etc/default/raspi-firmware" <<'EOF'

# counter-kiosk image (provision/image/debian-pi.sh)
ROOTPART=LABEL=rootfs
CMA=0
CONSOLES="ttyS1,115200 tty0"
EOF
  echo "consoleblank=0" > "$R/etc/default/raspi-extra-cmdline"
  local kver
  kver="$(basename "$(ls -d "$R"/lib/modules/*/ | head -1)")"
  [ -n "$kver" ] && [ -f "$R/boot/vmlinuz-$kver" ] || die "no kernel in $R/boot"
  # The initramfs carries a list of modules, not MODULES=most: under emulation "most"
  # (~1,500 modules, several processes each) took over 40 minutes here. The list is what
  # finding the root needs: ext4; the Pi's SD/eMMC controllers (sdhci-iproc: Pi 4 and
  # 3's SD slot, bcm2835: the Pi 3's sdhost) with the Pi 4's SD voltage regulator on the
  # firmware's GPIO expander; USB boot (Pi 4's VL805 behind PCIe, dwc2 on the Pi 3,
  # usb-storage, uas); and virtio, so the same image boots under qemu-system-aarch64
  # -M virt for the boot test (provision/boot_test.py). The rest loads from the root.
  echo "MODULES=list" > "$R/etc/initramfs-tools/conf.d/counter-kiosk.conf"
  grep -q '^virtio_blk' "$R/etc/initramfs-tools/modules" || cat >> "$R/etc/initramfs-tools/modules" <<'EOF'
# counter-kiosk image (provision/image/debian-pi.sh): what finding the root needs.
virtio_pci
virtio_blk
virtio_mmio
EOF
  cat >> "$R/etc/initramfs-tools/modules" <<'EOF'
ext4
mmc_block
sdhci_iproc
bcm2835
gpio_raspberrypi_exp
gpio_regulator
pcie_brcmstb
reset_raspberrypi
xhci_pci
dwc2
usb_storage
uas
overlay
EOF
  if [ -e "$R/usr/sbin/update-initramfs.real" ]; then
    # The real update-initramfs back (a diversion from "pre", or a stub put in by hand).
    rm -f "$R/usr/sbin/update-initramfs"
    if [ -n "$(chroot "$R" dpkg-divert --list /usr/sbin/update-initramfs)" ]; then
      chroot "$R" dpkg-divert --local --rename --remove /usr/sbin/update-initramfs
    else
      mv "$R/usr/sbin/update-initramfs.real" "$R/usr/sbin/update-initramfs"
    fi
  fi
  if [ -f "$R/boot/initrd.img-$kver" ] && has_overlayroot "$kver"; then
    # An initramfs with every hook is there: only rewrite config.txt and cmdline.txt.
    chroot "$R" /etc/initramfs/post-update.d/z50-raspi-firmware "$kver" "/boot/initrd.img-$kver"
  else
    # The one initramfs (with overlayroot's hook); raspi-firmware's post-update hook then
    # writes config.txt and cmdline.txt.
    chroot "$R" update-initramfs -c -k "$kver"
  fi
  [ -f "$R/boot/initrd.img-$kver" ] || die "no initrd in $R/boot"
  has_overlayroot "$kver" || die "the initramfs has no overlayroot: the read-only root would not work"
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
  # ds-identify (cloud-init's systemd generator) knows NoCloud only by the label cidata
  # and would switch cloud-init off on a board with DMI: always on, NoCloud decides.
  echo "policy: search,found=all,maybe=all,notfound=enabled" > "$R/etc/cloud/ds-identify.cfg"

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
