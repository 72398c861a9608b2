#!/usr/bin/env bash
# Demo: start two local tansu clusters, produce 10,000 records into the first
# with librdkafka, replicate them with `kmirror run`, read them back from the
# second cluster, then stop kmirror with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
TANSU=$(scripts/setup.sh | tail -n1)
cargo build --release --quiet
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start() {
  local p; p=$(port)
  RUST_LOG=error "$TANSU" broker --listener-url "tcp://127.0.0.1:$p" --advertised-listener-url "tcp://127.0.0.1:$p" \
    --storage-engine memory://tansu/ >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
  echo "127.0.0.1:$p"
}
A=$(start); B=$(start)
echo "cluster A: $A    cluster B: $B"
cat > "$work/mm2.properties" <<CFG
# An MM2 file, as for connect-mirror-maker.sh
clusters = A, B
A.bootstrap.servers = $A
B.bootstrap.servers = $B
A->B.enabled = true
A->B.topics = orders.*
refresh.topics.interval.seconds = 2
CFG
python3 - "$A" <<'PY'
import sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
admin.create_topics([NewTopic("orders", 3, 1)])["orders"].result()
p = Producer({"bootstrap.servers": sys.argv[1], "compression.type": "lz4", "linger.ms": 10})
for i in range(10000):
    p.produce("orders", key=b"order-%d" % i, value=b'{"id": %d, "amount": %d}' % (i, i * 7), partition=i % 3,
              headers=[("source", b"demo")])
p.flush()
print("produced 10000 records into A:orders (lz4, 3 partitions)")
PY
target/release/kmirror check "$work/mm2.properties" > "$work/check.txt"
head -5 "$work/check.txt"
target/release/kmirror run "$work/mm2.properties" &
km=$!
pids+=($km)
python3 - "$B" <<'PY'
import sys, time
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "demo", "auto.offset.reset": "earliest"})
deadline = time.time() + 60
n = 0
while time.time() < deadline and n < 10000:
    try:
        c.assign([TopicPartition("A.orders", p, 0) for p in range(3)])
        break
    except Exception:
        time.sleep(0.5)
while time.time() < deadline and n < 10000:
    m = c.poll(0.5)
    if m is not None and not m.error():
        n += 1
        if n == 1:
            print("first replicated record on B:A.orders:", m.key(), m.value(), m.headers())
print(f"read {n} records from B:A.orders")
sys.exit(0 if n == 10000 else 1)
PY
kill -TERM "$km"; wait "$km"
echo "kmirror stopped cleanly (exit $?)"
