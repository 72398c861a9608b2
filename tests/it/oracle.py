"""librdkafka (confluent-kafka) as the independent oracle for integration tests.

Reads one JSON command on stdin, prints one JSON answer on stdout.
  {"op": "produce", "bootstrap": B, "topic": T, "records": [...], "config": {...}}
  {"op": "consume", "bootstrap": B, "topic": T, "partitions": N, "expect": K, "timeout": S, "config": {...}}
  {"op": "group_consume", "bootstrap": B, "topic": T, "partitions": N, "group": G, ...}
  {"op": "hold", "bootstrap": B, "topic": T, "group": G, "commit": [[p, offset]], "hold": S}
Records are {"partition", "key", "value", "headers": [[k, v]], "timestamp"} with
bytes as hex strings (null allowed).
"""
import json
import sys
import time

from confluent_kafka import OFFSET_STORED, Consumer, Producer, TopicPartition


def unhex(v):
    return None if v is None else bytes.fromhex(v)


def tohex(v):
    return None if v is None else v.hex()


def produce(cmd):
    conf = {"bootstrap.servers": cmd["bootstrap"], "linger.ms": 5}
    conf.update(cmd.get("config", {}))
    p = Producer(conf)
    errors = []

    def cb(err, _msg):
        if err is not None:
            errors.append(str(err))

    for i, r in enumerate(cmd["records"]):
        kwargs = dict(topic=cmd["topic"], key=unhex(r.get("key")), value=unhex(r.get("value")),
                      on_delivery=cb)
        if r.get("partition") is not None:
            kwargs["partition"] = r["partition"]
        if r.get("timestamp") is not None:
            kwargs["timestamp"] = r["timestamp"]
        if r.get("headers"):
            kwargs["headers"] = [(k, unhex(v)) for k, v in r["headers"]]
        while True:
            try:
                p.produce(**kwargs)
                break
            except BufferError:
                p.poll(0.1)
        if cmd.get("flush_each"):
            p.flush(30)
        if cmd.get("sleep_each_ms"):
            time.sleep(cmd["sleep_each_ms"] / 1000.0)
        elif cmd.get("flush_every") and (i + 1) % cmd["flush_every"] == 0:
            p.flush(30)
    left = p.flush(60)
    return {"errors": errors, "unflushed": left}


def produce_txn(cmd):
    """Transactions: cmd["txns"] = [{"records": [...], "commit": bool}, ...]."""
    conf = {"bootstrap.servers": cmd["bootstrap"], "transactional.id": "oracle-%d" % time.time_ns()}
    conf.update(cmd.get("config", {}))
    p = Producer(conf)
    p.init_transactions(30)
    for t in cmd["txns"]:
        p.begin_transaction()
        for r in t["records"]:
            p.produce(topic=cmd["topic"], key=unhex(r.get("key")), value=unhex(r.get("value")),
                      partition=r.get("partition", 0), timestamp=r.get("timestamp", 0))
        p.flush(30)
        if t["commit"]:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
    return {"errors": []}


def consume(cmd):
    conf = {"bootstrap.servers": cmd["bootstrap"], "group.id": "oracle-%d" % time.time_ns(),
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": cmd.get("isolation", "read_committed")}
    conf.update(cmd.get("config", {}))
    c = Consumer(conf)
    c.assign([TopicPartition(cmd["topic"], p, 0) for p in range(cmd["partitions"])])
    out = []
    deadline = time.time() + cmd.get("timeout", 30)
    while len(out) < cmd["expect"] and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            continue
        out.append({"partition": m.partition(), "offset": m.offset(), "key": tohex(m.key()),
                    "value": tohex(m.value()), "timestamp": m.timestamp()[1],
                    "headers": [[k, tohex(v)] for k, v in (m.headers() or [])]})
    c.close()
    return {"records": out}


def group_consume(cmd):
    """Consumes as member of consumer group cmd["group"], from the group's committed offsets
    (auto.offset.reset "earliest" where it has none): up to cmd["count"] records (all if
    absent), stopping after cmd.get("idle", 3) s without a record or cmd.get("timeout", 60) s.
    With "subscribe" the consumer joins the group (rebalance); otherwise it assigns all
    partitions with their stored offsets. Unless "commit" is false, commits offset last+1 of
    every partition it read (with "metadata" if given) before closing."""
    conf = {"bootstrap.servers": cmd["bootstrap"], "group.id": cmd["group"],
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": cmd.get("isolation", "read_committed")}
    c = Consumer(conf)
    if cmd.get("subscribe"):
        c.subscribe([cmd["topic"]])
    else:
        c.assign([TopicPartition(cmd["topic"], p, OFFSET_STORED)
                  for p in range(cmd["partitions"])])
    count = cmd.get("count")
    out, last = [], {}
    start = time.time()
    deadline = start + cmd.get("timeout", 60)
    quiet_since = None if cmd.get("subscribe") else start
    while time.time() < deadline and (count is None or len(out) < count):
        m = c.poll(0.2)
        if quiet_since is None and c.assignment():
            quiet_since = time.time()
        if m is None or m.error():
            if quiet_since is not None and time.time() - quiet_since > cmd.get("idle", 3):
                break
            continue
        quiet_since = time.time()
        out.append({"partition": m.partition(), "offset": m.offset(), "key": tohex(m.key()),
                    "value": tohex(m.value()), "timestamp": m.timestamp()[1],
                    "headers": [[k, tohex(v)] for k, v in (m.headers() or [])]})
        last[m.partition()] = m.offset()
    committed = {str(p): o + 1 for p, o in last.items()}
    if cmd.get("commit", True) and last:
        meta = {"metadata": cmd["metadata"]} if cmd.get("metadata") is not None else {}
        c.commit(offsets=[TopicPartition(cmd["topic"], p, o + 1, **meta)
                          for p, o in last.items()], asynchronous=False)
    c.close()
    return {"records": out, "committed": committed, "seconds": time.time() - start}


def hold(cmd):
    """Joins consumer group cmd["group"] on cmd["topic"] (subscribe), commits the offsets in
    cmd["commit"] ([[partition, offset], ...]) once assigned, then stays an active member for
    cmd["hold"] seconds (polling, committing nothing else) and leaves."""
    c = Consumer({"bootstrap.servers": cmd["bootstrap"], "group.id": cmd["group"],
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.subscribe([cmd["topic"]])
    start = time.time()
    while not c.assignment() and time.time() - start < cmd.get("timeout", 60):
        c.poll(0.2)
    assigned = time.time() - start
    if not c.assignment():
        c.close()
        return {"assigned": False, "seconds": assigned}
    c.commit(offsets=[TopicPartition(cmd["topic"], p, o) for p, o in cmd.get("commit", [])],
             asynchronous=False)
    until = time.time() + cmd["hold"]
    while time.time() < until:
        c.poll(0.2)
    c.close()
    return {"assigned": True, "seconds": assigned}


def main():
    cmd = json.load(sys.stdin)
    op = {"produce": produce, "produce_txn": produce_txn, "consume": consume,
          "group_consume": group_consume, "hold": hold}[cmd["op"]]
    json.dump(op(cmd), sys.stdout)


if __name__ == "__main__":
    main()
