#!/usr/bin/env bash
# Install the Debian packages the all-in-one sandbox runs: MariaDB and
# RabbitMQ (their binaries only: the sandbox starts private instances on
# 127.0.0.1 itself). Idempotent: installs only what is missing, and says so.
# The packages' own services are kept from starting (policy-rc.d), so the
# host gets no system-wide database or broker listening.
set -euo pipefail

packages=(mariadb-server rabbitmq-server)

missing=()
for pkg in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "sandbox setup-host: all of ${packages[*]} already installed"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "sandbox setup-host: missing ${missing[*]}; run this as root (apt-get)" >&2
    exit 1
fi

echo "sandbox setup-host: installing ${missing[*]}"
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
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "sandbox setup-host: done"
