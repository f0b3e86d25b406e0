#!/bin/sh
# Install the Debian packages bundlefs needs to build (and, with "test", to
# run its tests) when they are missing. Debian 12, as root. With "test", also
# containerd 2.1.5 and crictl for tests/containerd, from ../shared/containerd2
# beside the repository when it is there (its install.sh needs no network);
# without it, those tests say in one line that they did not run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

pkgs="cmake pkg-config gcc make libfuse3-dev fuse3 libjson-c-dev libssl-dev liburing-dev"
if [ "${1:-}" = test ]; then
	pkgs="$pkgs python3 python3-pytest clang libclang-rt-14-dev containerd runc busybox-static mandoc dpkg-dev file clang-format libcap2-bin acl attr golang-go iproute2 bindfs"
fi

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bundlefs: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "Installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# Where tests/containerd looks for them (BUNDLEFS_CONTAINERD2 overrides it).
containerd2=${BUNDLEFS_CONTAINERD2:-/opt/containerd2/bin}
if [ "${1:-}" = test ] && [ -x "$top/../shared/containerd2/install.sh" ]; then
	"$top/../shared/containerd2/install.sh" "$containerd2" >/dev/null
fi
