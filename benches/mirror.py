"""Macro bench: kmirror vs a librdkafka consume-and-produce mirror, same data,
same brokers, one run. Reports records/s, MB/s, CPU seconds and peak RSS of
each mirror process (os.wait4 rusage), and the ratios.

Usage: mirror.py KMIRROR_BIN TANSU_BIN [RECORDS] [VALUE_BYTES] [CODEC] [MODE]
MODE: peer (default), coalesce, or scale (one vs two scale-out processes and
the failover time of a kill -9).
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

PARTITIONS = 4


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_tansu(bin_):
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    p = subprocess.Popen([bin_, "broker", "--listener-url", url, "--advertised-listener-url", url,
                          "--storage-engine", "memory://tansu/"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "error"})
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return p, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("tansu did not start")


def count(bootstrap, topic):
    """Records in the topic. tansu 0.6.0 reports the high watermark as the
    last batch's base offset + 1, so read the last batch to find the true end."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-count", "enable.auto.commit": False})
    total = 0
    for p in range(PARTITIONS):
        try:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
        except Exception:
            continue
        end = hi
        if hi > lo:
            c.assign([TopicPartition(topic, p, hi - 1)])
            wait = 5.0  # the first fetch includes connecting
            while True:
                msgs = c.consume(100000, wait)
                wait = 0.3
                if not msgs:
                    break
                for m in msgs:
                    if not m.error():
                        end = max(end, m.offset() + 1)
        total += end - lo
    c.close()
    return total


def wait_copied(proc, bootstrap, topic, want, timeout=600, scrape=None):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if scrape:
            import urllib.request
            try:
                urllib.request.urlopen(f"http://{scrape}/metrics", timeout=2).read()
            except OSError:
                pass
        if count(bootstrap, topic) >= want:
            return time.time() - t0
        if proc.poll() is not None:
            raise RuntimeError("mirror exited early")
        time.sleep(0.2)
    raise RuntimeError("mirror did not finish in time")


def stop(proc):
    # Peak RSS from /proc (VmHWM of the exec'd image): rusage's ru_maxrss
    # also counts the forked Python parent's pages before exec.
    hwm = 0.0
    try:
        for line in open(f"/proc/{proc.pid}/status"):
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024.0
    except OSError:
        pass
    proc.send_signal(signal.SIGTERM)
    _, status, ru = os.wait4(proc.pid, 0)
    return ru.ru_utime + ru.ru_stime, hwm


PEER = r'''
import sys
from confluent_kafka import Consumer, Producer
src, dst, topic, out = sys.argv[1:5]
c = Consumer({"bootstrap.servers": src, "group.id": "peer", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "fetch.max.bytes": 52428800})
p = Producer({"bootstrap.servers": dst, "linger.ms": 5, "enable.idempotence": True,
              "compression.type": "lz4", "batch.size": 1000000})
c.subscribe([topic])
while True:
    msgs = c.consume(10000, 0.5)
    for m in msgs:
        if m.error():
            continue
        while True:
            try:
                p.produce(out, key=m.key(), value=m.value(), headers=m.headers(),
                          partition=m.partition(), timestamp=m.timestamp()[1])
                break
            except BufferError:
                p.poll(0.05)
    p.poll(0)
'''


def acked(addr):
    """kmirror_record_count_total summed over a process's series (0 if down)."""
    import urllib.request
    try:
        text = urllib.request.urlopen(f"http://{addr}/metrics", timeout=1).read().decode()
    except OSError:
        return 0
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines()
               if l.startswith("kmirror_record_count_total{") and "heartbeats" not in l)


def scale_run(kmirror, tansu, abs_, have, n, processes, extra, kill_one=None):
    """kmirror with scale.out.enabled in `processes` processes into a fresh
    target: wall time, total CPU, partitions per process (from each log's last
    grant). With kill_one=(producer, more), kill -9 one process once copied,
    produce `more` records and time until they are all on the target."""
    c, target = start_tansu(tansu)
    extra.append(c)
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "mm2.properties")
    with open(cfg, "w") as f:
        f.write(f"clusters = A, B\nA.bootstrap.servers = {abs_}\nB.bootstrap.servers = {target}\n"
                "A->B.enabled = true\nscale.out.enabled = true\nrefresh.topics.interval.seconds = 1\n")
    env = {**os.environ, "RUST_LOG": "kmirror=info", "NO_COLOR": "1"}
    procs, logs, addrs = [], [], []
    t0 = time.time()
    for i in range(processes):
        log = os.path.join(d, f"p{i}.log")
        logs.append(log)
        addrs.append(f"127.0.0.1:{free_port()}")
        procs.append(subprocess.Popen([kmirror, "run", cfg, "--metrics-addr", addrs[-1]],
                                      stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env))
    # Throughput from the first replicated record on (records acknowledged by
    # the target, summed over the processes' /metrics), so the group's join
    # (tansu delays a first rebalance by ~5 s) is reported apart.
    first = None
    while True:
        got = sum(acked(a) for a in addrs)
        if got > 0 and first is None:
            first = time.time()
        if got >= have:
            break
        if time.time() - t0 > 600:
            raise RuntimeError("scale-out run did not finish")
        time.sleep(0.05)
    secs = time.time() - first
    join = first - t0
    shares = []
    for log in logs:
        grants = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in open(log) if " joined " in l]
        m = re.search(r"partitions=(\d+)", grants[-1]) if grants else None
        shares.append(int(m.group(1)) if m else None)
    failover = None
    if kill_one is not None:
        prod, more = kill_one
        procs[0].kill()
        procs[0].wait()
        killed = time.time()
        payload = b"y" * 100
        for i in range(more):
            while True:
                try:
                    prod.produce("bench", key=b"f%d" % i, value=payload, partition=i % PARTITIONS)
                    break
                except BufferError:
                    prod.poll(0.05)
        prod.flush(120)
        want = count(abs_, "bench")
        wait_copied(procs[1], target, "A.bench", want)
        failover = time.time() - killed
        procs = procs[1:]
    cpu = sum(stop(p)[0] for p in procs)
    return secs, cpu, shares, failover, join


def main():
    kmirror, tansu = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    codec = sys.argv[5] if len(sys.argv) > 5 else "lz4"
    # "coalesce": tiny source batches (batch.size 256), kmirror with coalescing
    # off (KMIRROR_COALESCE_BYTES=0) and on; no peer.
    mode = sys.argv[6] if len(sys.argv) > 6 else "peer"
    a, abs_ = start_tansu(tansu)
    b, bbs = start_tansu(tansu)
    extra = []
    try:
        # Keep the admin clients alive until their futures resolve.
        admin_a = AdminClient({"bootstrap.servers": abs_})
        admin_a.create_topics([NewTopic("bench", PARTITIONS, 1)])["bench"].result()
        admin_b = AdminClient({"bootstrap.servers": bbs})
        admin_b.create_topics([NewTopic("peer.bench", PARTITIONS, 1)])["peer.bench"].result()
        prod = Producer({"bootstrap.servers": abs_, "linger.ms": 0 if mode == "coalesce" else 20,
                         "compression.type": codec,
                         "batch.size": 256 if mode == "coalesce" else 1000000})
        payload = (b"x" * 40 + bytes(range(256)) * 8)[:size]
        for i in range(n):
            while True:
                try:
                    prod.produce("bench", key=str(i).encode(), value=payload, partition=i % PARTITIONS)
                    break
                except BufferError:
                    prod.poll(0.05)
        prod.flush(120)
        have = count(abs_, "bench")
        mb = n * (size + 8) / 1e6
        results = {}
        # kmirror, then kmirror again into another target with the metrics
        # endpoint on and scraped every 0.2 s (its cost on the data path).
        runs = (("kmirror", bbs, False, None), ("kmirror+metrics", None, True, None))
        if mode == "scale":
            # One process vs two on the same flow; then the failover time of a
            # kill -9 (expect session.timeout.ms plus a rebalance).
            print(f"records={n} value_bytes={size} codec={codec} partitions={PARTITIONS} scale-out")
            rows = {}
            for procs in (1, 2):
                secs, cpu, shares, _, join = scale_run(kmirror, tansu, abs_, have, n, procs, extra)
                rows[procs] = (secs, cpu)
                print(f"{procs} process(es): {n/secs:10.0f} records/s (first record after {join:5.1f} s, then {secs:6.2f} s)"
                      f"  cpu {cpu:6.2f} s = {cpu/n*1e6:6.2f} us/record  partitions per process {shares}")
            print(f"two vs one: throughput x{rows[1][0]/rows[2][0]:.2f}, cpu x{rows[2][1]/rows[1][1]:.2f}")
            _, _, _, failover, _ = scale_run(kmirror, tansu, abs_, have, n, 2, extra, kill_one=(prod, 2000))
            print(f"kill -9 of one of two processes: the rest flows again within {failover:.1f} s")
            return
        if mode == "coalesce":
            runs = (("kmirror no-coalesce", bbs, False, "0"), ("kmirror coalesce", None, False, "65536"))
        for name, target, metrics, coalesce in runs:
            if target is None:
                c, target = start_tansu(tansu)
                extra.append(c)
            with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as f:
                f.write(f"clusters = A, B\nA.bootstrap.servers = {abs_}\nB.bootstrap.servers = {target}\n"
                        "A->B.enabled = true\nB->A.enabled = false\n")
                cfg = f.name
            args = [kmirror, "run", cfg]
            scrape = None
            if metrics:
                scrape = f"127.0.0.1:{free_port()}"
                args += ["--metrics-addr", scrape]
            env = dict(os.environ)
            if coalesce is not None:
                env["KMIRROR_COALESCE_BYTES"] = coalesce
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
            secs = wait_copied(proc, target, "A.bench", have, scrape=scrape)
            cpu, rss = stop(proc)
            results[name] = (secs, cpu, rss)
        if mode == "coalesce":
            print(f"records={n} value_bytes={size} codec={codec} tiny source batches (batch.size=256)")
            for name, (secs, cpu, rss) in results.items():
                print(f"{name:>20}: {n/secs:10.0f} records/s  cpu {cpu:6.2f} s  peak rss {rss:7.1f} MiB  wall {secs:6.2f} s")
            off, on = results["kmirror no-coalesce"], results["kmirror coalesce"]
            print(f"coalescing: throughput x{off[0]/on[0]:.2f}, cpu x{on[1]/off[1]:.2f}")
            return
        # librdkafka peer
        proc = subprocess.Popen([sys.executable, "-c", PEER, abs_, bbs, "bench", "peer.bench"])
        secs = wait_copied(proc, bbs, "peer.bench", have)
        cpu, rss = stop(proc)
        results["librdkafka"] = (secs, cpu, rss)
        print(f"records={n} value_bytes={size} codec={codec} partitions={PARTITIONS} (source high watermark {have})")
        for name, (secs, cpu, rss) in results.items():
            print(f"{name:>10}: {n/secs:10.0f} records/s {mb/secs:8.1f} MB/s  cpu {cpu:6.2f} s  peak rss {rss:7.1f} MiB  wall {secs:6.2f} s")
        k, l, m = results["kmirror"], results["librdkafka"], results["kmirror+metrics"]
        print(f"ratios kmirror/librdkafka: throughput x{l[0]/k[0]:.2f}, cpu x{k[1]/l[1]:.3f}, rss x{k[2]/l[2]:.3f}")
        print(f"metrics endpoint cost: cpu x{m[1]/k[1]:.3f}, wall x{m[0]/k[0]:.3f}, rss x{m[2]/k[2]:.3f}")
        print(json.dumps(results))
    finally:
        for p in [a, b] + extra:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
