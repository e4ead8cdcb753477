#!/usr/bin/env bash
# Builds every filter under filters/NAME into filters/NAME.wasm, a WASI
# reactor for Sluice's http-wasm host, by the language its directory holds:
#
#   main.go         GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -ldflags='-s -w'
#   main.c          clang --target=wasm32-wasi -mexec-model=reactor -O2 -I sdk/c (Debian: clang lld wasi-libc
#                   libclang-rt-14-dev-wasm32)
#   assembly/*.ts   npm ci (once, its package-lock.json), then asc assembly/index.ts with sdk/assemblyscript/asconfig.json
#   the same, on @solo-io/proxy-runtime (a proxy-wasm filter): asc 0.14 (that SDK's) with --use abort=abort_proc_exit
#
# A C, AssemblyScript or proxy-wasm filter whose toolchain is missing is skipped with a
# note saying what to install (the demo of `make run` uses Go filters only,
# and a machine with just Go must still run it); with WASM_REQUIRE_ALL=1
# (.ci/run sets it) that is a failure instead.
#
# A filter is rebuilt only when its .wasm is missing or older than one of its
# inputs: its sources in filters/NAME, filters/internal and its SDK under
# sdk/, the go.mod/go.sum and package files, and this script. Builds run WASM_JOBS at a time
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

# lang_of NAME: go, c, as, pw (AssemblyScript on the proxy-wasm SDK), or
# nothing for a directory that is not a filter.
lang_of() {
	if [ -f "filters/$1/main.go" ]; then echo go
	elif [ -f "filters/$1/main.c" ]; then echo c
	elif [ -f "filters/$1/package.json" ] && [ -d "filters/$1/assembly" ]; then
		if grep -q '"@solo-io/proxy-runtime"' "filters/$1/package.json"; then echo pw; else echo as; fi
	fi
}

# missing_toolchain NAME: what to install to build NAME, nothing when ready.
missing_toolchain() {
	case $(lang_of "$1") in
	c)
		command -v "${CC:-clang}" >/dev/null && command -v wasm-ld >/dev/null && [ -f /usr/include/wasm32-wasi/stdlib.h ] ||
			echo "clang, lld and wasi-libc (Debian: apt-get install clang lld wasi-libc libclang-rt-14-dev-wasm32)"
		;;
	as | pw)
		command -v npm >/dev/null || echo "Node.js and npm (Debian: apt-get install npm)"
		;;
	esac
}
names=()
for dir in filters/*/; do
	[ -n "$(lang_of "$(basename "$dir")")" ] && names+=("$(basename "$dir")")
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
	case $(lang_of "$1") in
	go) inputs=(filters/internal sdk/*.go sdk/internal filters/go.mod filters/go.sum) ;;
	c) inputs=(sdk/c) ;;
	as) inputs=(sdk/assemblyscript) ;;
	esac
	for p in "filters/$1" "${inputs[@]}" wasm-build.sh; do
		[ -e "$p" ] && inputs+=("$p")
	done
	[ -n "$(find "${inputs[@]}" -name node_modules -prune -o \( \( -name '*.go' ! -name '*_test.go' \) -o -name '*.[ch]' \
		-o -name '*.ts' -o -name '*.json' -o -name go.mod -o -name go.sum -o -name wasm-build.sh \) -newer "$out" -print -quit)" ]
}

# compile NAME: writes filters/NAME.wasm.tmp, compiler output on stdout/stderr.
compile() {
	case $(lang_of "$1") in
	go)
		(cd filters && GOOS=wasip1 GOARCH=wasm "$GO" build -buildmode=c-shared -trimpath -buildvcs=false -ldflags='-s -w' \
			-o "$1.wasm.tmp" "./$1")
		;;
	c)
		"${CC:-clang}" --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -Werror -I sdk/c \
			-Wl,--strip-all -o "filters/$1.wasm.tmp" "filters/$1"/*.c
		;;
	as)
		(cd "filters/$1" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } &&
			npx --no-install asc assembly/index.ts --config ../../sdk/assemblyscript/asconfig.json -o "../$1.wasm.tmp")
		;;
	pw)
		# The SDK pins asc 0.14, whose flags differ from 0.28's; the SDK's
		# abort logs and exits instead of importing env.abort, which no
		# proxy-wasm host provides. Not --optimize: binaryen's passes take
		# 5x the CPU for a filter this small.
		(cd "filters/$1" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } &&
			npx --no-install asc assembly/index.ts -b "../$1.wasm.tmp" --use abort=abort_proc_exit)
		;;
	esac
}

build() {
	local name=$1 start end size fresh=
	start=$(date +%s%N)
	case $(lang_of "$name") in as | pw) [ -d "filters/$name/node_modules" ] || fresh=1 ;; esac
	if compile "$name" >"$logs/$name.log" 2>&1 &&
		mv -f "filters/$name.wasm.tmp" "filters/$name.wasm"; then
		end=$(date +%s%N)
		size=$(($(wc -c <"filters/$name.wasm") / 1024))
		printf 'wasm: %-12s built       %6d KiB  %5.1fs\n' "$name" "$size" "$(((end - start) / 1000000))e-3"
	elif [ -n "$fresh" ] && [ -z "${WASM_REQUIRE_ALL:-}" ] && [ ! -d "filters/$name/node_modules/assemblyscript" ]; then
		# npm could not fetch the compiler (offline, no registry): the
		# same as a missing toolchain.
		printf 'wasm: %-12s skipped     npm ci failed (no npm registry?): %s\n' "$name" "$(tail -n 1 "$logs/$name.log")"
	else
		touch "$logs/$name.failed"
		printf 'wasm: %-12s FAILED\n' "$name"
		return 1
	fi
}

total_start=$(date +%s%N)
todo=()
for name in "${names[@]}"; do
	if need=$(missing_toolchain "$name") && [ -n "$need" ]; then
		if [ -n "${WASM_REQUIRE_ALL:-}" ]; then
			echo "needs $need" >"$logs/$name.log"
			touch "$logs/$name.failed"
			printf 'wasm: %-12s FAILED      needs %s\n' "$name" "$need"
		else
			printf 'wasm: %-12s skipped     needs %s\n' "$name" "$need"
		fi
		continue
	fi
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
