#!/bin/sh
# Runs a fuzz target against kafka-protocol 0.18.0 with
# patches/kafka-protocol-0.18.0-array-prealloc.patch applied, so fuzzing can
# get past a known kafka-protocol bug: Array/CompactArray decode reserve
# `count * size_of::<T>()` bytes from a count read off the wire (upstream
# kafka-protocol-rs PRs #152, #161, #200). Unpatched, almost every
# response_decode run ends within seconds in that allocation.
#
#   fuzz/run-patched.sh response_decode -max_total_time=600 -jobs=1 -rss_limit_mb=2048
#
# Builds into target/patched; fuzz/Cargo.lock is restored afterwards.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=$1
shift
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/kafka-protocol-0.18.0 | head -n 1)
patched="$here/target/kafka-protocol-0.18.0-patched"
if [ ! -d "$patched" ]; then
    mkdir -p "$here/target"
    cp -r "$src" "$patched"
    patch -d "$patched" -p1 < "$here/patches/kafka-protocol-0.18.0-array-prealloc.patch"
fi
# Cargo reads [patch] from a config file found from the working directory.
work="$here/target/patched-run"
mkdir -p "$work/.cargo"
printf '[patch.crates-io]\nkafka-protocol = { path = "%s" }\n' "$patched" > "$work/.cargo/config.toml"
cp "$here/Cargo.lock" "$work/Cargo.lock.orig"
trap 'cp "$work/Cargo.lock.orig" "$here/Cargo.lock"' EXIT
cd "$work"
cargo +nightly fuzz run --fuzz-dir "$here" --target-dir "$here/target/patched" "$target" -- "$@"
