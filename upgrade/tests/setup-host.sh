#!/usr/bin/env bash
# Install the Debian packages the container tests need: Podman (real
# containers without a Docker engine), debootstrap (to make the test image
# without a registry), openssh-server (a real sshd on loopback) and
# the linter shellcheck. Idempotent: installs only what is missing, and says so.
set -euo pipefail

packages=(podman runc catatonit debootstrap openssh-server openssh-client shellcheck)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-host: all of ${packages[*]} already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "setup-host: missing ${missing[*]}; run this as root (apt-get)" >&2
    exit 1
fi

echo "setup-host: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Keep the package's own sshd from starting on port 22: the tests start
# their own on a loopback port.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-host: done"
