#!/usr/bin/env bash
# Dependency hygiene (issue 21), run by .ci/run and the GitHub rust job:
# 1. no unused dependency: `cargo machete` (pinned, installed if missing) exits non-zero when a
#    manifest declares a dependency its crate never uses;
# 2. every workspace member compiles alone: `cargo check -p <member>` builds each member with
#    only its own features, so a crate that compiles only thanks to a feature a sibling turns on
#    (cargo unifies features across the workspace) fails here. `check` rather than `build`: a
#    missing feature or import is a compile error, which `check` finds without the code
#    generation and linking of ten debug binaries (docs/architecture.md, "Workspace hygiene").
set -euo pipefail
cd "$(dirname "$0")/.."

machete_version=0.9.2
[[ "$(cargo machete --version 2>/dev/null)" == *"$machete_version"* ]] \
  || cargo install cargo-machete --version "$machete_version" --locked
cargo machete

for member in $(cargo metadata --no-deps --format-version 1 --locked | jq -r '.packages[].name'); do
  echo "cargo check -p $member"
  cargo check -p "$member" --locked --quiet
done
