#!/usr/bin/env bash
# The full test suite: unit, fixture, fuzz-corpus replay, integration (real
# tansu brokers on 127.0.0.1, librdkafka as oracle) and doc tests.
# Set KMIRROR_TEST_BOOTSTRAP (and KMIRROR_TEST_BOOTSTRAP_2) to run the
# integration tests against external clusters instead of spawned brokers.
set -euo pipefail
cd "$(dirname "$0")/.."
KMIRROR_TANSU_BIN=$(scripts/setup.sh | tail -n1)
export KMIRROR_TANSU_BIN
mkdir -p target
: > target/kmirror-test-skips.txt
status=0
log=target/test-output.txt
cargo test --workspace --all-features "$@" 2>&1 | tee "$log" || status=$?
if [[ -s target/kmirror-test-skips.txt ]]; then
  echo "==== tests NOT RUN against this broker (covered elsewhere) ===="
  sort -u target/kmirror-test-skips.txt
fi
passed=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
failed=$(grep -oE '[0-9]+ failed;' "$log" | awk '{s+=$1} END {print s+0}')
echo "tests: $passed passed, $failed failed"
exit $status
