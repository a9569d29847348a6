#!/usr/bin/env bash
# Opens an HTML report in Debian's headless Chromium as a reader would, and fails if:
#   - the page logs anything to the console (a script error, a blocked resource, ...);
#   - the page refers to the network (the report must be self-contained);
#   - the rendered DOM lacks the report's tables and inline SVG charts;
#   - the screenshot is blank (checked by `harness check-png`: no Python needed).
#
# Usage: scripts/check_report_in_chromium.sh REPORT.html [SCREENSHOT.png]
# Needs: chromium (Debian: apt-get install -y chromium) and a built harness
#        (target/release/harness, or set HARNESS=/path/to/harness).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
report="$(realpath "${1:?usage: $0 REPORT.html [SCREENSHOT.png]}")"
shot="${2:-$(dirname "$report")/screenshot.png}"
harness="${HARNESS:-$root/target/release/harness}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
[ -n "$chromium" ] || { echo "chromium not found (Debian: apt-get install -y chromium)" >&2; exit 2; }
[ -x "$harness" ] || { echo "harness not built: cargo build --release" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$work/profile" --window-size=1400,3000)
fail=0

# 1. Self-contained: no URL the browser would fetch.
if grep -Eo '(src|href)="(https?:)?//[^"]*"' "$report" | head -5 | grep -q .; then
    echo "FAIL: the report loads from the network:" >&2
    grep -Eo '(src|href)="(https?:)?//[^"]*"' "$report" | head -5 >&2
    fail=1
fi

# 2. Screenshot, with the console logged to stderr (lines containing ":CONSOLE").
timeout 120 "$chromium" "${flags[@]}" --enable-logging=stderr --v=0 \
    --screenshot="$shot" "file://$report" >"$work/out.log" 2>"$work/err.log" || true
if grep -q ':CONSOLE' "$work/err.log"; then
    echo "FAIL: console messages:" >&2
    grep ':CONSOLE' "$work/err.log" >&2
    fail=1
fi
if [ ! -s "$shot" ]; then
    echo "FAIL: no screenshot was written; chromium said:" >&2
    tail -20 "$work/err.log" >&2
    exit 1
fi

# 3. The DOM as rendered: tables and inline SVG charts are there.
timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$report" >"$work/dom.html" 2>/dev/null || true
count() { { grep -o "$1" "$work/dom.html" || true; } | wc -l; }
tables=$(count '<table')
charts=$(count '<svg')
images=$(count 'src="data:image/png;base64,')
echo "rendered DOM: $tables tables, $charts SVG charts, $images inline images"
if [ "$tables" -lt 1 ] || [ "$charts" -lt 1 ]; then
    echo "FAIL: the rendered page lacks tables or charts" >&2
    fail=1
fi

# 4. Not blank.
"$harness" check-png "$shot" || fail=1

if [ "$fail" -eq 0 ]; then
    echo "ok: $report renders without console errors ($shot)"
fi
exit "$fail"
