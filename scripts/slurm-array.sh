#!/usr/bin/env bash
# One benchmark suite spread over the nodes of a Slurm job array: task i runs
# `harness bench --shard i/N`, the i-th of N deterministic slices (whole (kernel, case)
# groups, balanced by rows), each into its own run folder under one --out root; then
# `harness report` on those folders makes one report (folders with the same `selection` in
# run.json, on the same machine type, are slices of one suite).
#
# Usage (an example to adapt: partition, time, modules are your site's):
#   sbatch --array=1-4 scripts/slurm-array.sh          # N = 4 slices, one per task (numbered from 1)
#   # when every task has finished:
#   target/release/harness report reports/shards/*-shard*of4
#
# Notes:
# - Build once before submitting (`cargo build --release`); every task runs the same binary,
#   so the slices are cut the same way (the rule depends only on the selection).
# - N may not exceed the selection's (kernel, case) groups: the harness refuses (exit 2) a
#   slice that would be empty, and says how many slices the selection allows.
# - Ask for whole nodes (--exclusive): a node shared with other jobs drifts, and each run
#   prints and records the drift its probe saw ("machine speed varied 0.91–1.04 ...").
# - The best ceilings are kept per machine in <out>/ceilings.json: tasks on one shared
#   filesystem share it (a task that writes at the same moment as another may lose its
#   update; the next run measures again).
#
#SBATCH --job-name=harness-shards
#SBATCH --nodes=1
#SBATCH --exclusive
#SBATCH --time=02:00:00
#SBATCH --output=harness-shard-%a.log

set -euo pipefail

# sbatch runs a copy of this script from the spool: start from where it was submitted.
cd "${SLURM_SUBMIT_DIR:-$(pwd)}"
harness="${HARNESS:-target/release/harness}"
out="${OUT:-reports/shards}"

index="${SLURM_ARRAY_TASK_ID:?run this through sbatch --array=1-N}"
count="${SLURM_ARRAY_TASK_COUNT:?run this through sbatch --array=1-N}"

# The selection: the same on every task (here the whole default suite; narrow it with
# --kernel / --case / sizes as usual). --yes: a slice of a long suite may exceed 2 hours.
"$harness" bench --suite full --yes --shard "$index/$count" --out "$out" "$@"
