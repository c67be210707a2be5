#!/usr/bin/env bash
# Set up ici-atlas on a fresh machine and run the main job: load trial records (from
# ClinicalTrials.gov when online, or from the folder given with --from), classify them,
# and write the report.
#   bash scripts/main.sh [--from PATH] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
setup_python
exec .venv/bin/ici-atlas run "$@"
