#!/bin/sh
# Install what is missing, build, and mount bundlefs on its embedded default
# store, runtime v2 (/var/lib/bundlefs/v2/state and /var/lib/bundlefs/v2/work,
# created on first use).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mnt=${1:-/mnt/bundlefs}

"$top/scripts/deps.sh"
"$top/scripts/build.sh" >/dev/null
mkdir -p "$mnt"
if mountpoint -q "$mnt" 2>/dev/null; then
	fusermount3 -u "$mnt" || umount "$mnt"
fi
"$top/build/fs/bundlefs" "$mnt"
echo "bundlefs is mounted at $mnt (runtime v2; store: /var/lib/bundlefs/v2/state, /var/lib/bundlefs/v2/work)."
echo "Try:      mkdir -p $mnt/default/web && cat $mnt/default/web/address"
echo "          (README.md, A short tour; the binary is $top/build/fs/bundlefs)"
echo "Unmount:  umount $mnt"
