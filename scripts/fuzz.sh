#!/usr/bin/env bash
# Coverage-guided fuzzing of the decoders that face the internet (libFuzzer via
# the crates.io crate libfuzzer-sys; not run in CI, which runs the property tests
# in tests/properties.rs). See fuzz/README.md for what each target checks.
#
#   bash scripts/fuzz.sh [TARGET|all] [RUNS]     (default: all, 10000000 runs each)
#
# Works on a stable toolchain: the build passes the sanitizer-coverage flags
# cargo-fuzz would (no nightly, no ASan: veil is safe Rust). Each target runs one
# at a time (-jobs=1) on a copy of fuzz/corpus/TARGET in $VEIL_DATA_DIR/fuzz, so
# the repository's seed corpus stays small. A crash keeps its reproducer in
# $VEIL_DATA_DIR/fuzz/artifacts/TARGET/ and makes the script exit non-zero.
#
# Environment: CARGO_TARGET_DIR (default fuzz/target), FUZZ_MAX_LEN (default 4096).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ALL_TARGETS=(pixel json plausible umami url client_ip consent_cookie stats_query)
which="${1:-all}"
runs="${2:-10000000}"
max_len="${FUZZ_MAX_LEN:-4096}"
if [[ "$which" == all ]]; then
    targets=("${ALL_TARGETS[@]}")
elif [[ " ${ALL_TARGETS[*]} " == *" $which "* ]]; then
    targets=("$which")
else
    die "unknown target '$which'; one of: all ${ALL_TARGETS[*]}"
fi
[[ "$runs" =~ ^[0-9]+$ ]] || die "RUNS must be a number, not '$runs'"

ensure_cargo
# libfuzzer-sys compiles libFuzzer's C++ sources.
command -v c++ >/dev/null 2>&1 || ensure_apt_packages g++

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$VEIL_ROOT/fuzz/target}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
# What `cargo fuzz build --sanitizer none` passes, minus the nightly-only -Z flags.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
say "building the fuzz targets (${targets[*]}) into $CARGO_TARGET_DIR"
# --target keeps RUSTFLAGS off build scripts and proc macros, as cargo-fuzz does.
bin_args=()
for t in "${targets[@]}"; do bin_args+=(--bin "$t"); done
(cd fuzz && cargo build --release --target "$triple" "${bin_args[@]}")

work="$VEIL_DATA_DIR/fuzz"
mkdir -p "$work"
failed=()
rows=()
for t in "${targets[@]}"; do
    corpus="$work/corpus/$t" artifacts="$work/artifacts/$t/" log="$work/$t.log"
    mkdir -p "$corpus" "$artifacts"
    cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    say "fuzzing $t: $runs runs (corpus $corpus, log $log)"
    start=$(date +%s.%N)
    rc=0
    # From $work: with -jobs libFuzzer writes its fuzz-0.log into the current directory.
    (cd "$work" && "$CARGO_TARGET_DIR/$triple/release/$t" -runs="$runs" -jobs=1 -workers=1 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts" "$corpus") >"$log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
    secs="$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')"
    rate="$(awk -v n="${execs:-0}" -v s="$secs" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')"
    files="$(find "$corpus" -type f | wc -l)"
    crashes="$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)"
    rows+=("$(printf '%-15s %12s %7ss %9s %8s %8s' "$t" "${execs:-?}" "$secs" "$rate" "$files" "$crashes")")
    if ((rc != 0 || crashes > 0)); then
        grep -E '^(==[0-9]+==|thread .* panicked|SUMMARY)' "$log" | head -n 5 >&2 || true
        warn "$t: exit $rc, $crashes reproducer(s) in $artifacts (see $log)"
        failed+=("$t")
    fi
done

printf '%-15s %12s %8s %9s %8s %8s\n' target executions time exec/s corpus crashes
printf '%s\n' "${rows[@]}"
((${#failed[@]} == 0)) || die "crashes in: ${failed[*]} (reproducers under $work/artifacts/)"
say "no crashes"
