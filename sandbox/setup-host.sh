#!/usr/bin/env bash
# Install the Debian packages the all-in-one sandbox runs: MariaDB and
# RabbitMQ (their binaries only: the sandbox starts private instances on
# 127.0.0.1 itself, and the packages' own services are kept from starting).
set -euo pipefail
exec "$(dirname "$0")/../tools/install-debian-packages.sh" "sandbox setup-host" \
    mariadb-server rabbitmq-server
