#!/usr/bin/env bash
# Builds the Mesh Metrics OpenTelemetry Collector from
# provisioning/collector/builder-config.yaml into .bin/otelcol-meshmetrics.
#
# ocb (the Collector Builder) is installed at the manifest's version into
# .bin/. --skip-strict-versioning=false makes the build fail when Go's module
# resolution moves any component off the version the manifest names. Only
# Go's own module and build caches are used; nothing is cached by hand.
# Cold: about 17 minutes on 2 cores, a ~120 MB binary.
set -euo pipefail

OCB_VERSION="${OCB_VERSION:-v0.161.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MANIFEST="$ROOT/provisioning/collector/builder-config.yaml"
OUT="${1:-$ROOT/.bin/otelcol-meshmetrics}"
GO="${GO:-go}"
export GOTOOLCHAIN=local

mkdir -p "$ROOT/.bin"
OCB="$ROOT/.bin/ocb-$OCB_VERSION"
if [ ! -x "$OCB" ]; then
	echo "build-collector: installing ocb $OCB_VERSION"
	tmpbin="$(mktemp -d "${TMPDIR:-/tmp}/ocb.XXXXXX")"
	GOBIN="$tmpbin" "$GO" install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION"
	mv "$tmpbin/builder" "$OCB"
	rmdir "$tmpbin"
fi

# The manifest's dist.output_path is relative to the repository root.
src_dir="$(sed -n 's/^[[:space:]]*output_path:[[:space:]]*//p' "$MANIFEST" | head -n1)"
name="$(sed -n 's/^[[:space:]]*name:[[:space:]]*//p' "$MANIFEST" | head -n1)"
if [ -z "$src_dir" ] || [ -z "$name" ]; then
	echo "build-collector: $MANIFEST needs dist.name and dist.output_path" >&2
	exit 1
fi

echo "build-collector: building $name (cold: about 17 minutes on 2 cores)"
cd "$ROOT"
"$OCB" --config "$MANIFEST" --skip-strict-versioning=false
mv "$src_dir/$name" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
"$OUT" --version
