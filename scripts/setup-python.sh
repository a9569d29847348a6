#!/usr/bin/env bash
# Creates scripts/.venv with the pinned packages (PyPI only) that generate the references and
# run the Python peers of external.toml (scripts/peers/).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv"
"$here/.venv/bin/pip" install -q -r "$here/requirements.txt"
echo "ready: $here/.venv (the Python peers of external.toml now run in \`harness bench\`;"
echo "       references: $here/.venv/bin/python scripts/make_laue_references.py, ...)"
