"""Macro bench: kmirror vs a librdkafka consume-and-produce mirror, same data,
same brokers, one run.

Usage: mirror.py KMIRROR_BIN TANSU_BIN [RECORDS] [VALUE_BYTES] [CODEC] [MODE]
MODE: peer (default), coalesce, or scale (one vs two scale-out processes and
the failover time of a kill -9).

The peer ("librdkafka") is a Python per-record loop over confluent-kafka
(librdkafka): consume(), then produce() of every record to the same partition
with its key, value, headers and timestamp, the producer compressing with the
CODEC the source was written with (kmirror keeps the source batches' codec), no
group (assign() of every partition from the beginning, no commits). Its Python
per-record cost and the interpreter's memory count against it, so it is a lower
bound for a native librdkafka mirror (kcat, MirrorMaker 2's Java clients would
do better), not MM2 itself.

Both mirrors start with no group to join: tansu delays a group's first
rebalance by about 5 s, which would swamp a 200k-record copy. The peer uses
assign(); kmirror runs with `scale.out.enabled = false` in peer and coalesce
modes (one process per flow, no group). Scale mode keeps scale-out on and
reports the join apart.

Every mirror is timed the same way, from its target topic (class Watch): the
bench process polls the target partitions' high watermarks (one ListOffsets
every ~10 ms) and, when a partition goes quiet, reads its last batch to see
whether it ends with the source partition's last record. Reported per mirror:
  - first: seconds from the process's start to the first record on the target
    (start-up: connecting, kmirror's InitProducerId, its internal topics,
    discovery; Python, librdkafka and InitProducerId for the peer). The bench
    creates both target topics (`A.bench`, `peer.bench`) before the mirror
    starts, so neither pays for it and the watch sees them from the start;
  - wall: seconds from the process's start to the last record on the target;
  - steady: records / (last - first) seconds, the throughput without start-up;
  - cpu: user+system seconds of the whole process life (os.wait4 rusage, start
    and SIGTERM shutdown included) and of the steady span alone (/proc/PID/stat
    sampled at each watermark poll), both also per record;
  - peak RSS (VmHWM, read before SIGTERM).
Each mirror writes into a fresh target broker. The values are one repeated
200-byte pattern, so lz4/zstd/gzip batches are tiny: kmirror forwards them
compressed while the peer decompresses and recompresses every record; the
`none` codec is the closer comparison. Timings have the watermark
poll's resolution (~10-20 ms) and the bench process (Python, on the same
machine) costs some CPU while it watches.

confluent-kafka's consume(n, timeout) (2.16.1, scripts/setup.sh) waits until
it has n records or the timeout has passed, so the bench's own readers call it
with 10-50 ms timeouts in a loop.
"""
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

PARTITIONS = 4
TICKS = os.sysconf("SC_CLK_TCK")
TRACE = bool(os.environ.get("MIRROR_BENCH_TRACE"))  # each watermark poll to stderr


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


def ends(bootstrap, topic):
    """{partition: (records, key of the last record)}. tansu 0.6.0 reports the
    high watermark as the last batch's base offset + 1, so read the last batch
    to find the true end."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-count", "enable.auto.commit": False})
    out = {}
    for p in range(PARTITIONS):
        try:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
        except Exception:
            out[p] = (0, None)
            continue
        end, key = hi, None
        if hi > lo:
            c.assign([TopicPartition(topic, p, hi - 1)])
            got, deadline = False, time.time() + 5.0  # the first fetch includes connecting
            while time.time() < deadline:
                # consume(n, t) waits for n records or t seconds: keep t short.
                msgs = c.consume(100000, 0.05)
                if not msgs and got:
                    break
                for m in msgs:
                    if not m.error() and m.offset() + 1 >= end:
                        got, end, key = True, m.offset() + 1, m.key()
        out[p] = (end - lo, key)
    c.close()
    return out


def create_topic(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})  # alive until the future resolves
    admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result()


def count(bootstrap, topic):
    return sum(n for n, _ in ends(bootstrap, topic).values())


def proc_cpu(pids):
    """User+system CPU seconds so far of these processes (all their threads)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            pass
    return total


def scrape_metrics(addr):
    import urllib.request
    try:
        urllib.request.urlopen(f"http://{addr}/metrics", timeout=2).read()
    except OSError:
        pass


class Watch:
    """Times a mirror from its target topic, the same way whatever the mirror.

    Polls the target partitions' high watermarks (one ListOffsets for all) every
    ~10 ms and notes when each one last changed, with the mirror processes' CPU
    at that moment. A partition whose watermark stayed put for two polls has its
    last batch read on a thread (from high watermark - 1): it is done when that
    batch ends with the source partition's last record (by key; in-order copy,
    so robust to re-sent duplicates). The copy ends at the last change of the
    last partition."""

    def __init__(self, bootstrap, topic, last_keys):
        self.topic = topic
        self.last = last_keys
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self.tail = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watch",
                              "enable.auto.commit": False, "fetch.wait.max.ms": 5})
        self.checks = 0
        self.dt = 0.0
        # Last batches are read on a thread (a fresh assignment's first fetch
        # can take ~0.2 s), so the watermark polls keep their pace meanwhile.
        self.asks, self.answers = queue.Queue(), queue.Queue()
        threading.Thread(target=self.checker, daemon=True).start()

    def checker(self):
        while (parts := self.asks.get()) is not None:
            self.answers.put((parts, self.finished(parts)))
        self.tail.close()

    def marks(self):
        fs = self.admin.list_offsets({TopicPartition(self.topic, p): OffsetSpec.latest() for p in self.last},
                                     request_timeout=2)
        out = {}
        for tp, f in fs.items():
            try:
                out[tp.partition] = f.result().offset
            except KafkaException:
                out[tp.partition] = 0  # the remote topic does not exist yet
        return out

    def finished(self, parts):
        """The partitions (of {partition: high watermark}) whose last batch ends
        with the source's last record."""
        self.checks += 1
        self.tail.assign([TopicPartition(self.topic, p, hi - 1) for p, hi in parts.items()])
        key, got = {}, set()
        deadline = time.time() + 2.0
        while time.time() < deadline:
            # consume(n, t) waits for n records or t seconds: short t, and
            # done after a call that brings nothing once every partition
            # has answered (a fetch brings a whole batch).
            msgs = self.tail.consume(100000, 0.01)
            if not msgs and len(got) == len(parts):
                break
            for m in msgs:
                if not m.error():
                    got.add(m.partition())
                    key[m.partition()] = m.key()
        self.tail.unassign()
        return {p for p in parts if p in key and key[p] == self.last[p]}

    def run(self, procs, t0, timeout=600, scrape=None):
        """(first, end): each (seconds since t0, CPU seconds of procs then)."""
        try:
            return self.watch(procs, t0, timeout, scrape)
        finally:
            self.asks.put(None)

    def watch(self, procs, t0, timeout, scrape):
        pids = [p.pid for p in procs]
        first, polls, started = None, 0, time.time()
        prev, changed, quiet, checked, done = {}, {}, {}, {}, set()
        asked = False
        next_scrape = 0.0
        while True:
            if time.time() - t0 > timeout:
                raise RuntimeError("mirror did not finish in time")
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("mirror exited early")
            if scrape and time.time() >= next_scrape:
                scrape_metrics(scrape)
                next_scrape = time.time() + 0.2
            marks = self.marks()
            now = time.time()
            polls += 1
            self.dt = (now - started) / polls  # mean poll interval: the timing's resolution
            point = (now - t0, proc_cpu(pids))
            if TRACE:
                print(f"watch {self.topic} {point[0]:7.3f}s cpu {point[1]:5.2f} {marks} done {sorted(done)}",
                      file=sys.stderr)
            if first is None and any(hi > 0 for hi in marks.values()):
                first = point
            for p, hi in marks.items():
                if hi != prev.get(p):
                    prev[p], changed[p], quiet[p] = hi, point, 0
                    done.discard(p)
                else:
                    quiet[p] += 1
            if asked and not self.answers.empty():
                parts, fin = self.answers.get()
                asked = False
                done |= {p for p in fin if prev[p] == parts[p]}
                for p, hi in parts.items():
                    checked[p] = (hi, time.time())
            due = {p: hi for p, hi in marks.items()
                   if hi > 0 and p not in done and quiet[p] >= 2
                   and (checked.get(p, (None,))[0] != hi or now - checked[p][1] > 1.0)}
            if due and not asked:
                self.asks.put(due)
                asked = True
            if len(done) == len(self.last):
                return first, max((changed[p] for p in done), key=lambda c: c[0])
            time.sleep(0.01)


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
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
src, dst, topic, out, codec = sys.argv[1:6]
# group.id only because the client requires one: assign() joins no group.
c = Consumer({"bootstrap.servers": src, "group.id": "peer", "enable.auto.commit": False,
              "fetch.max.bytes": 52428800})
p = Producer({"bootstrap.servers": dst, "linger.ms": 5, "enable.idempotence": True,
              "compression.type": codec, "batch.size": 1000000})
parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
c.assign([TopicPartition(topic, n, OFFSET_BEGINNING) for n in parts])
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


def timed(name, args, target, topic, last_keys, n, env=None, scrape=None):
    """Start a mirror process, time it with Watch, stop it; a result dict."""
    watch = Watch(target, topic, last_keys)
    watch.marks()  # connected before the clock starts
    t0 = time.time()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    (first, cpu0), (end, cpu1) = watch.run([proc], t0, scrape=scrape)
    cpu, rss = stop(proc)
    copied = count(target, topic)
    return {"name": name, "first_s": first, "wall_s": end, "steady_s": end - first,
            "steady_rps": n / (end - first) if end > first else float("inf"),
            "cpu_s": cpu, "steady_cpu_s": cpu1 - cpu0, "rss_mib": rss,
            "target_records": copied, "checks": watch.checks, "poll_s": watch.dt}


def kmirror_cfg(abs_, target, scale_out):
    with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as f:
        f.write(f"clusters = A, B\nA.bootstrap.servers = {abs_}\nB.bootstrap.servers = {target}\n"
                "A->B.enabled = true\nB->A.enabled = false\n"
                f"scale.out.enabled = {'true' if scale_out else 'false'}\n")
        return f.name


def scale_run(kmirror, tansu, abs_, last_keys, n, processes, extra, kill_one=None):
    """kmirror with scale.out.enabled in `processes` processes into a fresh
    target: join time, steady seconds (Watch), total CPU, partitions per process
    (from each log's last grant). With kill_one=(producer, more), kill -9 one
    process once copied, produce `more` records and time until they are all on
    the target."""
    c, target = start_tansu(tansu)
    extra.append(c)
    create_topic(target, "A.bench")
    d = tempfile.mkdtemp()
    cfg = os.path.join(d, "mm2.properties")
    with open(cfg, "w") as f:
        f.write(f"clusters = A, B\nA.bootstrap.servers = {abs_}\nB.bootstrap.servers = {target}\n"
                "A->B.enabled = true\nscale.out.enabled = true\nrefresh.topics.interval.seconds = 1\n")
    env = {**os.environ, "RUST_LOG": "kmirror=info", "NO_COLOR": "1"}
    procs, logs = [], []
    watch = Watch(target, "A.bench", last_keys)
    watch.marks()
    t0 = time.time()
    for i in range(processes):
        log = os.path.join(d, f"p{i}.log")
        logs.append(log)
        procs.append(subprocess.Popen([kmirror, "run", cfg, "--metrics-addr", f"127.0.0.1:{free_port()}"],
                                      stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env))
    # Throughput from the first replicated record on, so the group's join
    # (tansu delays a first rebalance by ~5 s) is reported apart.
    (join, _), (end, _) = watch.run(procs, t0)
    secs = max(end - join, watch.dt)  # known to about a poll
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
        after = {p: k for p, (_, k) in ends(abs_, "bench").items()}
        _, (end, _) = Watch(target, "A.bench", after).run(procs[1:], killed)
        failover = end
        procs = procs[1:]
    cpu = sum(stop(p)[0] for p in procs)
    return secs, cpu, shares, failover, join, watch.dt


def resolved(r):
    """Whether the steady span is long enough (4 polls) for its records/s to mean much."""
    return r["steady_s"] >= 4 * r["poll_s"]


def row(r, n, mb):
    s, dt = r["steady_s"], r["poll_s"]
    if resolved(r):
        speed = f"steady {n/s:9.0f} records/s {mb/s:7.1f} MB/s"
    else:
        speed = f"steady >={n/(s + dt):8.0f} records/s (span {s*1e3:.0f} ms, poll {dt*1e3:.0f} ms)"
    return (f"{r['name']:>16}: {speed}"
            f" | first record {r['first_s']:5.2f} s, last {r['wall_s']:6.2f} s from start"
            f" | cpu {r['cpu_s']:6.2f} s = {r['cpu_s']/n*1e6:5.2f} us/rec"
            f" (steady {r['steady_cpu_s']:5.2f} s = {r['steady_cpu_s']/n*1e6:5.2f} us/rec)"
            f" | peak rss {r['rss_mib']:6.1f} MiB | on target {r['target_records']}")


def main():
    kmirror, tansu = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 200_000
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    codec = sys.argv[5] if len(sys.argv) > 5 else "lz4"
    # "coalesce": tiny source batches (batch.size 256), kmirror with coalescing
    # off (KMIRROR_COALESCE_BYTES=0) and on; no peer.
    mode = sys.argv[6] if len(sys.argv) > 6 else "peer"
    a, abs_ = start_tansu(tansu)
    extra = []
    try:
        create_topic(abs_, "bench")
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
        src = ends(abs_, "bench")
        have = sum(c for c, _ in src.values())
        last_keys = {p: k for p, (_, k) in src.items()}
        mb = n * (size + 8) / 1e6
        if mode == "scale":
            # One process vs two on the same flow; then the failover time of a
            # kill -9 (expect session.timeout.ms plus a rebalance).
            print(f"records={n} value_bytes={size} codec={codec} partitions={PARTITIONS} scale-out")
            rows = {}
            for procs in (1, 2):
                secs, cpu, shares, _, join, dt = scale_run(kmirror, tansu, abs_, last_keys, n, procs, extra)
                rows[procs] = (secs, cpu)
                print(f"{procs} process(es): {n/secs:10.0f} records/s (first record after {join:5.1f} s,"
                      f" then {secs:6.2f} s +- {dt:.2f})"
                      f"  cpu {cpu:6.2f} s = {cpu/n*1e6:6.2f} us/record  partitions per process {shares}")
            print(f"two vs one: throughput x{rows[1][0]/rows[2][0]:.2f}, cpu x{rows[2][1]/rows[1][1]:.2f}")
            _, _, _, failover, _, _ = scale_run(kmirror, tansu, abs_, last_keys, n, 2, extra, kill_one=(prod, 2000))
            print(f"kill -9 of one of two processes: the rest flows again within {failover:.1f} s")
            return
        results = {}

        def fresh():
            c, target = start_tansu(tansu)
            extra.append(c)
            return target

        def run_kmirror(name, coalesce=None, metrics=False):
            target = fresh()
            create_topic(target, "A.bench")  # as the peer's: see the docstring
            args = [kmirror, "run", kmirror_cfg(abs_, target, scale_out=False)]
            scrape = None
            if metrics:
                scrape = f"127.0.0.1:{free_port()}"
                args += ["--metrics-addr", scrape]
            env = dict(os.environ)
            if coalesce is not None:
                env["KMIRROR_COALESCE_BYTES"] = coalesce
            results[name] = timed(name, args, target, "A.bench", last_keys, n, env=env, scrape=scrape)

        if mode == "coalesce":
            run_kmirror("kmirror no-coalesce", coalesce="0")
            run_kmirror("kmirror coalesce", coalesce="65536")
            print(f"records={n} value_bytes={size} codec={codec} tiny source batches (batch.size=256)")
            for r in results.values():
                print(row(r, n, mb))
            off, on = results["kmirror no-coalesce"], results["kmirror coalesce"]
            steady = (f"x{off['steady_s']/on['steady_s']:.2f}" if resolved(off) and resolved(on) else
                      "not resolved")
            print(f"coalescing (on vs off): steady throughput {steady},"
                  f" wall-from-start throughput x{off['wall_s']/on['wall_s']:.2f}, cpu x{on['cpu_s']/off['cpu_s']:.2f}")
            return
        # kmirror; the librdkafka peer; kmirror again with the metrics endpoint
        # on and scraped every 0.2 s (its cost on the data path). Each into a
        # fresh target broker, all from the same source broker.
        run_kmirror("kmirror")
        target = fresh()
        create_topic(target, "peer.bench")
        results["librdkafka"] = timed("librdkafka", [sys.executable, "-c", PEER, abs_, target, "bench",
                                                     "peer.bench", codec],
                                      target, "peer.bench", last_keys, n)
        run_kmirror("kmirror+metrics", metrics=True)
        print(f"records={n} value_bytes={size} codec={codec} partitions={PARTITIONS} (source records {have})")
        for r in results.values():
            print(row(r, n, mb))
        k, l, m = results["kmirror"], results["librdkafka"], results["kmirror+metrics"]
        if resolved(k) and resolved(l):
            steady = f"x{l['steady_s']/k['steady_s']:.2f}"
        else:  # the spans are known to a poll each way
            lo = max(l["steady_s"] - l["poll_s"], 0) / (k["steady_s"] + k["poll_s"])
            hi = (l["steady_s"] + l["poll_s"]) / max(k["steady_s"] - k["poll_s"], 1e-9)
            steady = (f"between x{lo:.1f} and x{hi:.1f} (spans {k['steady_s']*1e3:.0f} vs"
                      f" {l['steady_s']*1e3:.0f} ms, poll ~{k['poll_s']*1e3:.0f} ms: too short to resolve)")
            if k["steady_s"] <= k["poll_s"]:
                steady = steady.replace(f" and x{hi:.1f}", " and more")
        print(f"kmirror vs librdkafka peer: steady throughput {steady},"
              f" wall from start x{l['wall_s']/k['wall_s']:.2f} (>1: kmirror faster);"
              f" cpu/record x{k['cpu_s']/l['cpu_s']:.3f} (steady x{k['steady_cpu_s']/l['steady_cpu_s']:.3f}),"
              f" peak rss x{k['rss_mib']/l['rss_mib']:.3f} (<1: kmirror less)")
        print(f"metrics endpoint cost: cpu x{m['cpu_s']/k['cpu_s']:.3f}, wall x{m['wall_s']/k['wall_s']:.3f},"
              f" rss x{m['rss_mib']/k['rss_mib']:.3f}")
        print(json.dumps(results))
    finally:
        for p in [a] + extra:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
