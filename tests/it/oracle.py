"""librdkafka (confluent-kafka) as the independent oracle for integration tests.

Reads one JSON command on stdin, prints one JSON answer on stdout.
  {"op": "produce", "bootstrap": B, "topic": T, "records": [...], "config": {...}}
  {"op": "consume", "bootstrap": B, "topic": T, "partitions": N, "expect": K, "timeout": S}
Records are {"partition", "key", "value", "headers": [[k, v]], "timestamp"} with
bytes as hex strings (null allowed).
"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition


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

    for r in cmd["records"]:
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
    c = Consumer({"bootstrap.servers": cmd["bootstrap"], "group.id": "oracle-%d" % time.time_ns(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                  "isolation.level": cmd.get("isolation", "read_committed")})
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


def main():
    cmd = json.load(sys.stdin)
    op = {"produce": produce, "produce_txn": produce_txn, "consume": consume}[cmd["op"]]
    json.dump(op(cmd), sys.stdout)


if __name__ == "__main__":
    main()
