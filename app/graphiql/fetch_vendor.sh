#!/usr/bin/env bash
# Re-create app/graphiql/static/vendor/ from the npm registry.
#
# The files are the exact ones strawberry-graphql's stock GraphiQL page loads
# from unpkg (same versions, same bytes: their sha384 matches the integrity
# attributes in strawberry/static/graphiql.html, see VENDOR.md).  Only the
# minified browser builds and each package's LICENSE are kept.
#
# Usage: bash app/graphiql/fetch_vendor.sh   (needs npm, tar, sha384sum/openssl)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$here/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pack() { # pack NAME@VERSION DIR  -> extracts the tarball's package/ into DIR
    local spec="$1" dir="$2" tgz
    tgz="$(cd "$work" && npm pack --silent "$spec" 2>/dev/null | tail -n 1)"
    mkdir -p "$work/$dir"
    tar -xzf "$work/$tgz" -C "$work/$dir"
}

pack react@18.2.0 react
pack react-dom@18.2.0 react-dom
pack js-cookie@3.0.5 js-cookie
pack graphiql@3.8.3 graphiql
pack @graphiql/plugin-explorer@1.0.2 plugin-explorer
# bundled inside plugin-explorer's UMD build; only its LICENSE is needed
pack graphiql-explorer@0.9.0 graphiql-explorer

rm -rf "$dest"
put() { # put SRC DEST (relative to $work / $dest)
    mkdir -p "$(dirname "$dest/$2")"
    cp "$work/$1" "$dest/$2"
}

put react/package/umd/react.production.min.js react/umd/react.production.min.js
put react/package/LICENSE react/LICENSE
put react-dom/package/umd/react-dom.production.min.js react-dom/umd/react-dom.production.min.js
put react-dom/package/LICENSE react-dom/LICENSE
put js-cookie/package/dist/js.cookie.min.js js-cookie/dist/js.cookie.min.js
put js-cookie/package/LICENSE js-cookie/LICENSE
put graphiql/package/graphiql.min.js graphiql/graphiql.min.js
put graphiql/package/graphiql.min.css graphiql/graphiql.min.css
put graphiql/package/LICENSE graphiql/LICENSE
put plugin-explorer/package/dist/index.umd.js graphiql-plugin-explorer/dist/index.umd.js
put plugin-explorer/package/dist/style.css graphiql-plugin-explorer/dist/style.css

# @graphiql/plugin-explorer@1.0.2 declares "license": "MIT" but its tarball
# ships no LICENSE file; it lives in the same monorepo (graphql/graphiql) as
# graphiql, whose LICENSE is reused.  Its UMD build bundles graphiql-explorer.
{
    echo "@graphiql/plugin-explorer 1.0.2 -- license: MIT (package.json)."
    echo "The npm tarball ships no LICENSE file; the package comes from the"
    echo "graphql/graphiql monorepo, whose graphiql package LICENSE follows."
    echo
    cat "$work/graphiql/package/LICENSE"
    echo
    echo "------------------------------------------------------------------"
    echo "dist/index.umd.js bundles graphiql-explorer 0.9.0 (OneGraph), MIT:"
    echo
    cat "$work/graphiql-explorer/package/LICENSE"
} >"$dest/graphiql-plugin-explorer/LICENSE"

# Sanity check: the builds must not pull anything from a CDN at run time.
if grep -lE 'https?://(unpkg\.com|cdn\.jsdelivr\.net|esm\.sh|fonts\.googleapis\.com|fonts\.gstatic\.com|cdnjs\.cloudflare\.com)' \
    -r "$dest" --include='*.css' --include='*.js'; then
    echo "error: a vendored file references a CDN" >&2
    exit 1
fi

(cd "$dest" && find . -type f | sort | while read -r f; do
    printf 'sha384-%s  %s\n' "$(openssl dgst -sha384 -binary "$f" | base64 -w0)" "${f#./}"
done)
