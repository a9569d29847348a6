#!/usr/bin/env bash
# The GPU variants on real hardware in one prepared step (issue 19).
#
#   scripts/device-check.sh           build here, once: a portable release binary
#                                     (x86-64-v3, no debug info, stripped) into .device/, the
#                                     Vulkan loader packages into .gl/; then print the `carry`
#                                     list and the single command to give the device tool
#   scripts/device-check.sh --tiny    the same build, then that command's work run HERE on the
#                                     software adapter (lavapipe) at tiny sizes: what CI runs,
#                                     so that this script cannot rot
#   scripts/device-check.sh --on-device [BUDGET]
#                                     what the printed command runs on the device machine:
#                                     `harness validate --suite gpu`, then `harness bench
#                                     --suite gpu --budget BUDGET` (default 0.5 s per variant),
#                                     everything written under $OUT; sized to finish in under
#                                     8 minutes on an H200
#
# No Rust toolchain is on the device machine, and the device tool sends only the working tree:
# the binary travels in .device/ (ignored by git, named in `carry`). Read
# /work/.library/device/README.md (or your copy of the device tool's README) for the loaders.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-prepare}"
bin=.device/harness

build() {
    echo "== building the portable harness (x86-64-v3, stripped) into target/portable"
    # RUSTFLAGS replaces .cargo/config.toml's target-cpu=native: the device's processor is
    # another one, and AVX-512 may not be there.
    RUSTFLAGS="-C target-cpu=x86-64-v3" \
        cargo build --profile portable -p harness --target-dir target/portable
    mkdir -p .device
    cp target/portable/portable/harness "$bin"
    echo "   $bin: $(du -h "$bin" | cut -f1)"
}

loaders() {
    # The device image may lack the Vulkan loader (libvulkan1): fetch the amd64 packages
    # here, unpacked there (the device tool's README gives this recipe).
    if compgen -G ".gl/libvulkan1_*.deb" >/dev/null; then
        echo "== Vulkan loader packages already in .gl/"
        return
    fi
    echo "== fetching the Vulkan loader packages into .gl/"
    # apt's package lists for amd64 go under target/ (ignored by git, not carried).
    local lists="$PWD/target/apt-lists-amd64"
    local o="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$lists"
    mkdir -p .gl "$lists/partial"
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
}

# The work itself, wherever it runs: validate, then time, the gpu suite; a short table last.
check() {
    local suite="$1" budget="$2" out="$3"
    mkdir -p "$out"
    "$bin" list --kernel laue | head -3 || true
    echo "== harness validate --suite $suite"
    local validated=0
    "$bin" validate --suite "$suite" | tee "$out/validate.txt" || validated=$?
    echo "== harness bench --suite $suite --budget $budget"
    local benched=0
    "$bin" bench --suite "$suite" --budget "$budget" --out "$out/runs" 2>&1 | tee "$out/bench.txt" || benched=$?
    echo "== summary"
    grep -E "^(machine|ceilings)" "$out/bench.txt" || true
    grep -E "FAILED" "$out/validate.txt" || echo "every GPU variant validated"
    echo "validate exit $validated, bench exit $benched"
    [ "$validated" -eq 0 ] && [ "$benched" -eq 0 ]
}

case "$mode" in
prepare)
    build
    loaders
    echo
    echo "Give the device tool (run) these:"
    echo "  carry:   [\".device\", \".gl\"]"
    echo "  command: for f in .gl/*.deb; do dpkg -x \$f /; done; ldconfig; bash scripts/device-check.sh --on-device 0.5"
    echo "  timeout_s: 540"
    ;;
--tiny)
    build
    # Tiny sizes on the software adapter; a missing adapter fails (the GPU rows must run).
    export HARNESS_REQUIRE_GPU=1
    out="$(mktemp -d)"
    check gpu-tiny 0.05 "$out"
    echo "results: $out"
    ;;
--on-device)
    budget="${2:-0.5}"
    # The NVIDIA driver's Vulkan manifest, where the image keeps it outside the loader's
    # default search path.
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
        export VK_DRIVER_FILES="$icd"
    fi
    # Hardware or nothing: a silent fall-back to a software adapter would time the CPU.
    export HARNESS_REQUIRE_GPU=1
    check gpu "$budget" "${OUT:?the device tool sets OUT}"
    ;;
*)
    echo "usage: scripts/device-check.sh [--tiny | --on-device [BUDGET]]" >&2
    exit 2
    ;;
esac
