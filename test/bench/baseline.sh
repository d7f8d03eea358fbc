#!/bin/bash
# The hand-written way to a UML image (as in the UML HowTo), the baseline of
# the build benchmark: a sparse file, mkfs, a loop mount, debootstrap, a little
# configuration, the UML modules, unmount.
#   baseline.sh IMAGE MIRROR PACKAGES(comma-separated)
set -euo pipefail
img=$1 mirror=$2 packages=$3
truncate -s 2G "$img"
mkfs.ext4 -q -F "$img"
mnt=$(mktemp -d /tmp/baseline-XXXXXX)
mount -o loop "$img" "$mnt"
trap 'umount "$mnt/proc" 2>/dev/null || true; umount "$mnt"; rmdir "$mnt"' EXIT
debootstrap --variant=minbase --include="$packages" bookworm "$mnt" "$mirror" >/dev/null
echo uml > "$mnt/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 uml\n' > "$mnt/etc/hosts"
printf '/dev/ubda / ext4 defaults 0 1\n' > "$mnt/etc/fstab"
printf 'auto lo\niface lo inet loopback\nauto vec0\niface vec0 inet dhcp\n' > "$mnt/etc/network/interfaces"
echo 'root:bench-pw' | chroot "$mnt" chpasswd
mkdir -p "$mnt/lib/modules"
cp -a /usr/lib/uml/modules/. "$mnt/lib/modules/"
