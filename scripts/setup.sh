#!/usr/bin/env bash
# Installs what the harness needs beyond Rust on a Debian machine: the Vulkan loader and
# Mesa's software Vulkan driver (lavapipe), so the GPU variants run without a GPU.
# Needs root (or sudo). Safe to run twice.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    mesa-vulkan-drivers libvulkan1
fi
echo "Vulkan drivers: $(ls /usr/share/vulkan/icd.d/ | tr '\n' ' ')"
