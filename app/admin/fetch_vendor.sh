#!/usr/bin/env bash
# Re-create app/admin/static/vendor/ from the npm registry.
#
# The admin page draws its time series with uPlot. Only its ES module build, its
# stylesheet and its LICENSE are kept, byte-identical to the npm tarball (see
# VENDOR.md; tests/test_app_admin.py checks the digests printed at the end).
#
# Usage: bash app/admin/fetch_vendor.sh   (needs npm, tar, openssl)
set -euo pipefail

UPLOT=1.6.32

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

tgz="$(cd "$work" && npm pack --silent "uplot@$UPLOT" 2>/dev/null | tail -n 1)"
mkdir -p "$work/uplot"
tar -xzf "$work/$tgz" -C "$work/uplot"

rm -rf "$dest"
mkdir -p "$dest/uplot/dist"
cp "$work/uplot/package/dist/uPlot.esm.js" "$dest/uplot/dist/uPlot.esm.js"
cp "$work/uplot/package/dist/uPlot.min.css" "$dest/uplot/dist/uPlot.min.css"
cp "$work/uplot/package/LICENSE" "$dest/uplot/LICENSE"

# Sanity check: nothing may be loaded from a CDN at run time.
if grep -lE 'https?://(unpkg\.com|cdn\.jsdelivr\.net|esm\.sh|fonts\.googleapis\.com|fonts\.gstatic\.com|cdnjs\.cloudflare\.com)' \
    -r "$dest" --include='*.css' --include='*.js'; then
    echo "error: a vendored file references a CDN" >&2
    exit 1
fi

(cd "$dest" && find . -type f | sort | while read -r f; do
    printf 'sha384-%s  %s\n' "$(openssl dgst -sha384 -binary "$f" | base64 -w0)" "${f#./}"
done)
