#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine, then run it.
#   bash scripts/test.sh [pytest args]
# Creates .venv (Python 3.11+), installs the package with its test extras, installs the
# system packages the reference checks need (R + metafor + lme4, Chromium) when running
# as root with apt, and runs pytest. Real data: $ICI_ATLAS_SHARED_DATA (default ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
setup_python test
setup_system_packages
export ICI_ATLAS_SHARED_DATA="${ICI_ATLAS_SHARED_DATA:-$(cd .. && pwd)/shared/data}"
exec .venv/bin/python -m pytest "$@"
