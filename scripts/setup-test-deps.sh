#!/usr/bin/env bash
# Installs the Debian packages the test suite drives: chromium (the dashboard test, through
# playwright-core, which never downloads a browser) and nats-server (the cluster tests, with
# JetStream). Needs root or sudo; Debian and Ubuntu only.
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium nats-server
command -v chromium
command -v nats-server || ls /usr/sbin/nats-server
