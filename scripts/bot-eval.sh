#!/usr/bin/env bash
# bot-eval.sh — veil's bot rules beside isbot (npm, the list Umami uses) on the
# vendored public lists in tests/data/agents (crawler-user-agents' examples,
# top-user-agents' browsers). Fetches isbot from the npm registry (default: the
# version isbot.json was made with; ISBOT_VERSION=latest for the newest), rewrites
# tests/data/agents/isbot.json with its verdicts and runs tests/bots.rs, which
# prints both sides and fails if veil catches fewer crawlers or flags more
# browsers. Not part of CI (CI runs tests/bots.rs on the committed verdicts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

command -v npm >/dev/null 2>&1 || ensure_apt_packages npm
command -v node >/dev/null 2>&1 || ensure_apt_packages nodejs
version="${ISBOT_VERSION:-$(sed -n 's/.*"isbot": "\(.*\)".*/\1/p' tests/data/agents/isbot.json)}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
say "fetching isbot@$version"
(cd "$tmp" && npm pack --silent "isbot@$version" >/dev/null && tar xzf isbot-*.tgz)
node scripts/isbot-eval.js "$tmp/package" tests/data/agents >"$tmp/isbot.json"
mv "$tmp/isbot.json" tests/data/agents/isbot.json
cargo test --quiet --test bots -- --nocapture
