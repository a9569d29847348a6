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

# The work itself, wherever it runs: validate (unless its limit is 0: bench's gate then
# validates), then time, the gpu suite; a short table last.
# Each phase has its own wall-clock limit (seconds), so that a phase that runs long on an
# untried machine still leaves the others, and the summary, inside the device tool's limit.
check() {
    local suite="$1" budget="$2" out="$3" validate_s="$4" bench_s="$5"
    mkdir -p "$out"
    local validated=0
    if [ "$validate_s" -gt 0 ]; then
        echo "== harness validate --suite $suite (at most ${validate_s} s)"
        timeout "$validate_s" "$bin" validate --suite "$suite" | tee "$out/validate.txt" ||
            validated=$?
    else
        echo "== no separate validate: bench's gate validates every variant before timing it"
        : >"$out/validate.txt"
    fi
    echo "== harness bench --suite $suite --budget $budget (at most ${bench_s} s)"
    local benched=0
    timeout "$bench_s" "$bin" bench --suite "$suite" --budget "$budget" --out "$out/runs" 2>&1 |
        tee "$out/bench.txt" || benched=$?
    echo "== summary"
    grep -E "^(machine|ceilings|GPU ceilings)" "$out/bench.txt" || true
    # validate says FAILED; bench's table says failed in its status column.
    grep -E "FAILED| failed " "$out/validate.txt" "$out/bench.txt" || echo "every GPU variant validated"
    echo "validate exit $validated, bench exit $benched (124: stopped at its time limit)"
    [ "$validated" -eq 0 ] && [ "$benched" -eq 0 ]
}

# On the device only, after the suite and while time is left: the best CPU variants and the
# GPU ones interleaved on the same machine (the device's CPU cores against its GPU), so the
# CPU-versus-GPU ratio is one run's.
extras() {
    local out="$1" budget="$2"
    echo "== deconv 4096², CPU lanes against the GPU, interleaved"
    # An interleaved bench keeps its rows only at the end: this limit must cover the gate
    # (the f64 oracle and the tolerance's bound, ~60 s there) and the rounds.
    timeout 130 "$bin" bench --kernel deconv --case synthetic --n 4096 \
        --variant lanes,lanes-f32,gpu-f32,gpu-f64 --interleave --baseline lanes \
        --budget "$budget" --min-samples 3 --out "$out/runs" 2>&1 | tee "$out/extras.txt" || true
    echo "== psf 4096, CPU windowed against the GPU, interleaved"
    timeout 60 "$bin" bench --kernel psf --n 4096 \
        --variant windowed,gpu-windowed-f32,gpu-windowed-f64 --interleave --baseline windowed \
        --budget "$budget" --min-samples 3 --out "$out/runs" 2>&1 | tee -a "$out/extras.txt" || true
}

# What comes back from the device is at most 8 files, two folders down: the logs, and the
# run folders as one archive.
pack() {
    local work="$1"
    cp "$work"/*.txt "$OUT"/ 2>/dev/null || true
    if [ -d "$work/runs" ]; then
        # Without the output images (.npy): with them, two 4096² runs were over the 16 MiB
        # that one returned file may hold.
        tar czf "$OUT/runs.tgz" --exclude='*.npy' -C "$work" runs
    fi
    ls -la "$OUT"
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
    check gpu-tiny 0.05 "$out" 600 600
    echo "results: $out"
    ;;
--on-device)
    budget="${2:-0.5}"
    started=$SECONDS
    # The NVIDIA driver's Vulkan manifest, where the image keeps it outside the loader's
    # default search path.
    icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
        export VK_DRIVER_FILES="$icd"
    fi
    # Hardware or nothing: a silent fall-back to a software adapter would time the CPU.
    export HARNESS_REQUIRE_GPU=1
    work="$(mktemp -d)"
    trap 'pack "$work"' EXIT
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.draw,temperature.gpu \
        --format=csv 2>&1 | tee "$work/gpu.txt" || true
    # The adapter the harness picks, before spending minutes: stop at once if it is not
    # the NVIDIA one.
    "$bin" bench --kernel laue --case strained --n 8 --variant gpu-f32 --budget 0.01 \
        --out "$work/probe" >"$work/probe.txt" 2>&1 || true
    adapter="$(grep -E "^machine" "$work/probe.txt" || true)"
    echo "${adapter:-no machine line: see probe.txt}" | tee -a "$work/gpu.txt"
    case "$adapter" in
    *"GPU: NVIDIA"*) ;;
    *) echo "the harness found no NVIDIA adapter: stopping" >&2; exit 1 ;;
    esac
    rm -rf "$work/probe"
    # The suite in at most 7 minutes, then the interleaved extras (at most 190 s) if they
    # still end inside the 540 s the printed command is given. Validate and bench each needed
    # over 200 s on the first H200 machine (2026-12-04: both stopped at their 200 and 220 s
    # limits in LM ODMR, before deconvolution), so the device runs bench alone: its gate
    # validates each variant as `validate` would.
    status=0
    check gpu "$budget" "$work" 0 420 || status=$?
    if [ $((SECONDS - started)) -lt 330 ]; then
        extras "$work" 2
    fi
    echo "on the device for $((SECONDS - started)) s"
    exit "$status"
    ;;
*)
    echo "usage: scripts/device-check.sh [--tiny | --on-device [BUDGET]]" >&2
    exit 2
    ;;
esac
