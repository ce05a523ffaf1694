#!/usr/bin/env bash
# Makes sure the official Parlant chat widget (npm parlant-chat-react) and esbuild are installed
# in tests/widget for the widget's browser test. Idempotent: does nothing when node_modules is
# there and matches the lock file. `npm ci` installs exactly the pinned versions of the lock file.
set -euo pipefail

WIDGET_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../tests/widget" && pwd)"

if ! command -v npm >/dev/null 2>&1; then
    echo "ensure_widget: npm is missing; the widget's browser test will be skipped" >&2
    exit 0
fi

# One install at a time: `make test` starts one alongside the suite, and the widget's test runs
# this again, waiting here for that one to end (the lock is on this script, held until exit).
exec 9<"${BASH_SOURCE[0]}"
flock 9

# The stamp holds the lock file's hash, so a changed lock file reinstalls and nothing else does.
cd "$WIDGET_DIR"
STAMP=node_modules/.lock-sha256
WANT="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
    exit 0
fi

npm ci --no-audit --no-fund --loglevel=error
echo "$WANT" > "$STAMP"
echo "ensure_widget: installed parlant-chat-react" \
     "$(node -p 'require("./node_modules/parlant-chat-react/package.json").version') in tests/widget"
