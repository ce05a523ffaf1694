#!/usr/bin/env bash
# `make test` once ruff has passed: the suite's set-up and the suite itself (the command in the
# arguments), with mypy running alongside. A cold mypy (a clean clone on a machine where no
# clone has run it: its cache is the user's, MYPY_CACHE_DIR in the Makefile) takes half a minute
# of one core, and the suite leaves a core idle about a quarter of the time
# (waiting on its agents, bridges and browsers), so running it first cost its whole half minute
# of wall time. Its verdict is printed and counted once the suite ends: a type error still
# fails `make test`, and CI, just after the tests rather than before them.
set -uo pipefail
cd "$(dirname "$0")/.."

types_log="$(mktemp)"
.venv/bin/mypy >"$types_log" 2>&1 &
types_pid=$!
# The widget's npm packages install alongside the rest too (npm waits on the registry, apt on
# its own lock: neither waits on the other), and alongside the suite: only the widget's test
# needs them, and it runs scripts/ensure_widget.sh itself, which waits for this install.
widget_log="$(mktemp)"
bash scripts/ensure_widget.sh >"$widget_log" 2>&1 &
widget_pid=$!
trap 'kill "$types_pid" "$widget_pid" 2>/dev/null; rm -f "$types_log" "$widget_log"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

for need in browser postgres haproxy; do
    bash "scripts/ensure_$need.sh" || exit 1
done

"$@"
tests=$?

wait "$widget_pid"
widget=$?
cat "$widget_log"
[ "$widget" -eq 0 ] || [ "$tests" -ne 0 ] || tests=1

wait "$types_pid"
types=$?
echo "mypy (run alongside the suite):"
cat "$types_log"
if [ "$types" -ne 0 ]; then
    echo "make test: mypy found type errors (above)" >&2
    [ "$tests" -ne 0 ] || tests=1
fi
exit "$tests"
