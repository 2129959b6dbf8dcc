#!/usr/bin/env bash
# Make the root filesystem of the test image: Debian bookworm (minbase) with
# the pristine nova of a series installed the way operators have it, i.e. a
# Python whose site-packages holds nova/ and nova-<version>.dist-info. The
# series is SERIES, else XLOUD_SERIES, else the default one; its nova
# version and constraints come from patches/<series>/UPSTREAM. The Python is
# a venv at /usr/local, so the layout is the one of the python:3.x images
# (/usr/local/lib/python3.11/site-packages; bookworm's Python is 3.11, where
# operators may run 3.10: the deploy script detects the path).
#
# Nothing is fetched from a registry of images: debootstrap from this
# machine's Debian mirror, then wheels downloaded on the host with pip (under
# upper-constraints) and installed offline inside the rootfs.
#
# Usage: make-image.sh OUTPUT.tar [SERIES]
# The result is cached: the output is rebuilt only when this script or the
# constraints change (the key is in the file name the caller chooses).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:?usage: make-image.sh OUTPUT.tar [SERIES]}
cache=${XLOUD_CACHE:-$HOME/.cache/xloud-nova}
pin=$(XLOUD_SERIES=${2:-${XLOUD_SERIES:-}} python3 -c '
import sys
sys.path.insert(0, sys.argv[1])
import xloud_pq
s = xloud_pq.Series(xloud_pq.default_series())
print(s.name, s.version, s.constraints)' "$repo/tools")
read -r series nova_version constraints <<< "$pin"
echo "make-image: series $series, nova $nova_version, $constraints"
mirror=${XLOUD_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    # The first Debian mirror of this machine's apt sources.
    # (comment lines skipped: "URIs:" of deb822 files, "deb URI" lines).
    mirror=$(grep -rhE '^[[:space:]]*(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
             | grep -oE 'https?://[^ ]+/debian/?$' | head -n1 || true)
    mirror=${mirror:-http://deb.debian.org/debian}
fi

wheels=$cache/container-wheels
mkdir -p "$wheels"
t0=$SECONDS
# async-timeout: redis needs it on Python <= 3.11.2 (bookworm's), which the
# host's newer 3.11 does not resolve by itself.
if ! ls "$wheels"/nova-"$nova_version"-*.whl "$wheels"/async_timeout-*.whl >/dev/null 2>&1; then
    echo "make-image: building the wheelhouse for nova==$nova_version in $wheels"
    python3 -m pip wheel -q -c "$constraints" -w "$wheels" "nova==$nova_version" async-timeout
fi
echo "make-image: wheelhouse ready ($((SECONDS - t0)) s)"

work=$(mktemp -d "${TMPDIR:-/tmp}/xloud-rootfs.XXXXXX")
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
rootfs=$work/rootfs

# The debootstrap stage alone is cached too (it is most of the time).
base=$cache/containers/bookworm-minbase-python3.tar
t0=$SECONDS
if [ -f "$base" ]; then
    mkdir "$rootfs"
    tar -C "$rootfs" -xf "$base"
    echo "make-image: bookworm base from the cache ($base)"
else
    echo "make-image: debootstrap bookworm from $mirror"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" "$mirror" \
        > "$work/debootstrap.log" 2>&1 || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
    rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
    mkdir -p "$(dirname "$base")"
    tar -C "$rootfs" -cf "$base.tmp" . && mv "$base.tmp" "$base"
    echo "make-image: debootstrap done ($((SECONDS - t0)) s)"
fi

t0=$SECONDS
# A clean environment in the chroot: none of the host's PIP_* settings.
chroot_bin=$(command -v chroot)
in_root() { env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root PIP_CONFIG_FILE=/dev/null \
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$chroot_bin" "$rootfs" "$@"; }
in_root python3 -m venv /usr/local
mkdir -p "$rootfs/tmp/wheels"
cp "$wheels"/*.whl "$rootfs/tmp/wheels/"
cp "$constraints" "$rootfs/tmp/wheels/constraints.txt"
in_root /usr/local/bin/python3 -m pip install -q --no-index \
    --find-links /tmp/wheels -c /tmp/wheels/constraints.txt "nova==$nova_version"
rm -rf "$rootfs/tmp/wheels"
in_root /usr/local/bin/python3 -c \
    "import importlib.metadata as m, nova; print('make-image: nova', m.version('nova'), 'at', nova.__file__)"
echo "make-image: nova installed ($((SECONDS - t0)) s)"

tar -C "$rootfs" -cf "$out.tmp" .
mv "$out.tmp" "$out"
echo "make-image: wrote $out ($(du -h "$out" | cut -f1))"
