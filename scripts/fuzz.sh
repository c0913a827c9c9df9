#!/usr/bin/env bash
# Coverage-guided fuzzing of the decoders that face the internet (not run in CI;
# CI runs the property tests in tests/properties.rs).
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
#
# Installs cargo-fuzz from crates.io if missing. cargo-fuzz needs nightly compiler
# flags: it uses an installed nightly toolchain, else RUSTC_BOOTSTRAP=1 on stable. Crashes land in
# fuzz/artifacts/<target>/, the corpus in fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
secs="${1:-60}"
ensure_cargo
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
fuzz=(cargo fuzz)
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
fi
for target in pixel json url consent_cookie; do
    say "fuzzing $target for ${secs}s"
    "${fuzz[@]}" run "$target" --sanitizer none -- -max_total_time="$secs" -max_len=4096 2>&1 |
        grep -E "^(#[0-9]+\s+DONE|Done|==[0-9]+== ERROR|SUMMARY|stat::number_of_executed_units)" || true
    if compgen -G "fuzz/artifacts/$target/crash-*" >/dev/null; then
        die "$target: crash found, see fuzz/artifacts/$target/"
    fi
done
say "no crashes"
