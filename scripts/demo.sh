#!/usr/bin/env bash
# One command from a fresh clone: install, index the bundled sample articles, ask a question.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BYLINE_INDEX="${BYLINE_INDEX:-$PWD/.byline/samples-index}"
export HF_HUB_OFFLINE=1
.venv/bin/byline index add samples
.venv/bin/byline status
echo
echo '$ byline search "who proposed talks without preconditions" -k 3'
.venv/bin/byline search "who proposed talks without preconditions" -k 3 --format table
