#!/usr/bin/env bash
# Creates scripts/.venv with the pinned packages that generate the references.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
echo "ready: $here/.venv/bin/python scripts/make_references.py"
