#!/bin/sh
# The guest half of the boot test (provision/boot_test.py): runs once, at the second boot
# of a freshly provisioned image (ck-boot-check.service, enabled by the test's user-data
# during the first boot), and writes what it finds to the console as "CKBT ..." lines,
# which the host reads from QEMU's serial port. It checks nothing itself: the host judges.
set -u
con=/dev/console
say() { echo "CKBT $*" > "$con"; }
# A command's output, line by line, then its exit status.
show() {
  name="$1"; shift
  out="$("$@" 2>&1)"; rc=$?
  printf '%s\n' "$out" | sed "s/^/CKBT | $name: /" > "$con"
  say "rc $name $rc"
}

say begin
say "root $(findmnt -n -o FSTYPE /)"
say "data $(findmnt -n -o SOURCE,FSTYPE,OPTIONS /var/lib/counter-kiosk | tr ' ' ',')"
say "arch $(uname -m) kernel $(uname -r)"
say "hostname $(hostname)"
say "image $(tr '\n' ' ' < /etc/counter-kiosk-image)"
say "ntp $(timedatectl show -p NTPSynchronized --value 2>/dev/null)"
for u in kiosk.service kiosk-sync.service; do
  say "unit $u $(systemctl is-active "$u") $(systemctl show -p NRestarts --value "$u")"
  say "cmd $u $(systemctl show -p ExecStart --value "$u" | sed -n 's/.*argv\[\]=\([^;]*\);.*/\1/p')"
done
say "ssh-host-keys $(ls /etc/ssh/ssh_host_*_key 2>/dev/null | wc -l)"

K=/opt/counter-kiosk/venv/bin/kiosk
A="--config /etc/counter-kiosk/config.toml --state-dir /var/lib/counter-kiosk"
# shellcheck disable=SC2086  # $A is several arguments
show doctor runuser -u kiosk -- $K doctor $A --simulate --json
# A case, its rating, and the away board there and back: five events for HQ.
# shellcheck disable=SC2086
show press-next runuser -u kiosk -- $K sim $A press next
# shellcheck disable=SC2086
show link-case-end runuser -u kiosk -- $K sim $A link '{"op": "case_end"}'
# shellcheck disable=SC2086
show press-rating runuser -u kiosk -- $K sim $A press satisfied
# shellcheck disable=SC2086
show press-away runuser -u kiosk -- $K sim $A press away
# shellcheck disable=SC2086
show press-back runuser -u kiosk -- $K sim $A press away
say end
