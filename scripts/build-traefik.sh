#!/usr/bin/env bash
# Builds Traefik from its released module on the Go module proxy into
# .bin/traefik. The demo and tests/e2e run it; Traefik Mesh itself runs v2.5
# (its metric differences are covered by the v2.5 fixture in tests/e2e).
#
# v3.7.x needs modules the proxy here refuses, so v3.6.12 is pinned. The module
# is built inside its own directory with -mod=mod because its go.mod carries
# replace directives that only apply to the main module. The module cache is
# read-only, so the source is copied to a temporary directory first. Only Go's
# own module and build caches are used; nothing is cached by hand.
set -euo pipefail

TRAEFIK_VERSION="${TRAEFIK_VERSION:-v3.6.12}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/.bin/traefik}"
GO="${GO:-go}"
export GOTOOLCHAIN=local

mod="github.com/traefik/traefik/v3@${TRAEFIK_VERSION}"
echo "build-traefik: downloading $mod"
src="$("$GO" mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
if [ -z "$src" ] || [ ! -f "$src/go.mod" ]; then
	echo "build-traefik: go mod download gave no module directory for $mod" >&2
	exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/build-traefik.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -R "$src/." "$work/"
chmod -R u+w "$work"

mkdir -p "$(dirname "$OUT")"
echo "build-traefik: building ./cmd/traefik (cold: about 12 minutes on 2 cores)"
(
	cd "$work"
	GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 "$GO" build \
		-ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION}" \
		-o "$OUT.tmp" ./cmd/traefik
)
mv "$OUT.tmp" "$OUT"
"$OUT" version
