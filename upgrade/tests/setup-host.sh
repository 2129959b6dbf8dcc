#!/usr/bin/env bash
# Install the Debian packages the container tests need: Podman (real
# containers without a Docker engine), debootstrap (to make the test image
# without a registry), openssh-server (a real sshd on loopback; its own
# sshd on port 22 is kept from starting) and the linter shellcheck.
set -euo pipefail
exec "$(dirname "$0")/../../tools/install-debian-packages.sh" setup-host \
    podman runc catatonit debootstrap openssh-server openssh-client shellcheck
