#!/usr/bin/env bash
# Demo: start two local tansu clusters, produce into the first with librdkafka,
# replicate with `kmirror run`, and show the records on the second.
set -euo pipefail
cd "$(dirname "$0")/.."
TANSU=$(scripts/setup.sh | tail -n1)
cargo build --release --quiet
echo "kmirror $(target/release/kmirror --version 2>/dev/null || true)"
echo "tansu: $TANSU"
