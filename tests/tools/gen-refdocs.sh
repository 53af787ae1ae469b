#!/bin/sh
# gen-refdocs.sh - regenerate the parts of docs/reference/ that the code lists:
# events.md (engine/events.def, engine/flowfields.def) and config.md (the key
# table of engine/config.c). tests/e2e/test_refdocs.sh fails when they differ.
#   sh tests/tools/gen-refdocs.sh [build-dir]
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
B=${1:-build}
[ -x "$B/engine" ] || { echo "gen-refdocs: no $B/engine (make all first)" >&2; exit 1; }
"$B/engine" --list-events --format=markdown >docs/reference/events.md || exit 1
"$B/engine" --list-config --format=markdown >docs/reference/config.md || exit 1
echo "docs/reference/events.md and config.md regenerated"
