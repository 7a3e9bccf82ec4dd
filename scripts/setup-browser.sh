#!/usr/bin/env bash
# Installs Debian's chromium, the browser the dashboard test drives through playwright-core
# (which never downloads one). Needs root or sudo; Debian and Ubuntu only.
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
command -v chromium
