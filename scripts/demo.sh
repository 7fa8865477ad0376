#!/usr/bin/env bash
# One command from a fresh clone: install, index the bundled sample articles, ask a question.
# (BYLINE_DEMO_NO_SETUP=1 and BYLINE=path/to/byline skip the install, for tests.)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${BYLINE_DEMO_NO_SETUP:-}" ] || bash scripts/setup.sh
BYLINE="${BYLINE:-.venv/bin/byline}"
export BYLINE_INDEX="${BYLINE_INDEX:-$PWD/.byline/samples-index}"
export HF_HUB_OFFLINE=1
"$BYLINE" index add samples
"$BYLINE" status
echo
echo '$ byline search "who proposed talks without preconditions" -k 3'
"$BYLINE" search "who proposed talks without preconditions" -k 3 --format table
echo
echo "The demo's index is $BYLINE_INDEX. Search it with:"
echo
echo "  source .venv/bin/activate"
echo "  byline search \"storm damage\" --index $BYLINE_INDEX"
echo
echo "and index your own articles (into ~/.local/share/byline/index) with: byline index add ~/news"
