#!/usr/bin/env bash
# Builds every filter under filters/NAME (a directory with a main.go) into
# filters/NAME.wasm, a WASI reactor for Sluice's http-wasm host:
#
#   GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags='-s -w'
#
# A filter is rebuilt only when its .wasm is missing or older than one of its
# inputs: the non-test .go files of filters/NAME, filters/internal and sdk/,
# the go.mod/go.sum files, and this script. Builds run WASM_JOBS at a time
# (default: the number of cores). Prints one line per filter; exits non-zero
# naming every filter that failed, with its compiler output.
#
# Usage: ./wasm-build.sh [-f]     -f (or FORCE=1) rebuilds everything
# Tests are separate: (cd sdk && go test ./...) && (cd filters && go test ./...)
set -euo pipefail
cd "$(dirname "$0")"

GO=${GO:-go}
JOBS=${WASM_JOBS:-$(nproc 2>/dev/null || echo 2)}
FORCE=${FORCE:-}
if [ "${1:-}" = "-f" ]; then FORCE=1; fi

shopt -s nullglob
names=()
for dir in filters/*/; do
	[ -f "${dir}main.go" ] && names+=("$(basename "$dir")")
done
if [ ${#names[@]} -eq 0 ]; then
	echo "wasm: no filters under filters/"
	exit 0
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"; rm -f filters/*.wasm.tmp' EXIT

# stale NAME: succeeds when filters/NAME.wasm must be (re)built.
stale() {
	local out="filters/$1.wasm" inputs=() p
	if [ -n "$FORCE" ] || [ ! -f "$out" ]; then return 0; fi
	for p in "filters/$1" filters/internal sdk filters/go.mod filters/go.sum wasm-build.sh; do
		[ -e "$p" ] && inputs+=("$p")
	done
	[ -n "$(find "${inputs[@]}" \( \( -name '*.go' ! -name '*_test.go' \) -o -name go.mod -o -name go.sum -o -name wasm-build.sh \) \
		-newer "$out" -print -quit)" ]
}

build() {
	local name=$1 start end size
	start=$(date +%s%N)
	if (cd filters && GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -trimpath -buildvcs=false -ldflags='-s -w' \
		-o "$name.wasm.tmp" "./$name") >"$logs/$name.log" 2>&1 &&
		mv -f "filters/$name.wasm.tmp" "filters/$name.wasm"; then
		end=$(date +%s%N)
		size=$(($(wc -c <"filters/$name.wasm") / 1024))
		printf 'wasm: %-12s built       %6d KiB  %5.1fs\n' "$name" "$size" "$(((end - start) / 1000000))e-3"
	else
		touch "$logs/$name.failed"
		printf 'wasm: %-12s FAILED\n' "$name"
		return 1
	fi
}

total_start=$(date +%s%N)
todo=()
for name in "${names[@]}"; do
	if stale "$name"; then
		todo+=("$name")
	else
		printf 'wasm: %-12s up to date\n' "$name"
	fi
done
# The first build runs alone: with a cold cache it compiles the standard
# library and the SDK for wasip1, which parallel builds would each compile
# again (measured: 27 s for all in parallel, 20 s this way). The rest only
# compile their own package and link, and run JOBS at a time.
running=0
for i in "${!todo[@]}"; do
	if [ "$i" -eq 0 ]; then
		build "${todo[0]}" || true
		continue
	fi
	build "${todo[$i]}" &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait -n || true
		running=$((running - 1))
	fi
done
wait || true
built=${#todo[@]}

failed=()
for name in "${names[@]}"; do
	[ -f "$logs/$name.failed" ] && failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then
	for name in "${failed[@]}"; do
		echo "--- wasm: $name:" >&2
		cat "$logs/$name.log" >&2
	done
	echo "wasm: build failed: ${failed[*]}" >&2
	exit 1
fi
total_end=$(date +%s%N)
printf 'wasm: %d of %d filter(s) built in %.1fs\n' "$built" "${#names[@]}" "$(((total_end - total_start) / 1000000))e-3"
