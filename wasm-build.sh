#!/usr/bin/env bash
# Builds every filter under filters/NAME into filters/NAME.wasm.
# No filters exist yet; this stays a no-op until the WASM filter work lands.
set -euo pipefail
cd "$(dirname "$0")"
shopt -s nullglob
built=0
for dir in filters/*/; do
	name=$(basename "$dir")
	[ -f "$dir/main.go" ] || continue
	echo "wasm: $name"
	(cd "$dir" && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "../$name.wasm" .)
	built=$((built + 1))
done
echo "wasm: $built filter(s) built"
