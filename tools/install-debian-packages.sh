#!/usr/bin/env bash
# Install the Debian packages named on the command line that are missing.
# Idempotent: installs only what is missing, and says so. The packages' own
# services are kept from starting (policy-rc.d): the tests start private
# instances on loopback themselves (sshd, MariaDB, RabbitMQ), and the host
# gets no system-wide daemon listening.
# Usage: install-debian-packages.sh LABEL PACKAGE...
set -euo pipefail

label=$1
shift
packages=("$@")

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "$label: all of ${packages[*]} already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "$label: missing ${missing[*]}; run this as root (apt-get)" >&2
    exit 1
fi

# apt's output (debconf's notes among it) goes to a log; a failure shows
# its last lines
repo=$(cd "$(dirname "$0")/.." && pwd)
log=build/logs/apt-$(printf '%s' "$label" | tr -c 'A-Za-z0-9' '-').log
mkdir -p "$repo/build/logs"
: > "$repo/$log"
echo "$label: installing ${missing[*]} ... (log: $log)"
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
if ! { apt-get update -qq &&
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
        >> "$repo/$log" 2>&1; then
    echo "$label: apt-get failed; the last lines of $log:" >&2
    tail -n 40 "$repo/$log" | sed 's/^/  | /' >&2
    exit 1
fi
echo "$label: done"
