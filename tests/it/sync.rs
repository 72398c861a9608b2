//! Consumer-group failover end to end: librdkafka consumer groups on the source, kmirror's
//! checkpoints, group offset sync and heartbeats on real brokers, librdkafka resuming on the
//! target, and the measured accuracy of offset translation.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kmirror::engine::FlowPlan;
use kmirror::internal_topics::{Checkpoint, Heartbeat, OffsetSync};
use kmirror::policy::TopicFilter;
use kmirror::sync::heartbeats::{self, HeartbeatConfig};
use kmirror::sync::io::PartitionReader;
use kmirror::sync::offsets::{
    self, CheckpointKey, OffsetSyncStore, SourceOffset, SyncPoint, TargetOffset,
};
use kmirror_protocol::batch::builder::BatchBuilder;
use kmirror_protocol::batch::records::Record;
use kmirror_protocol::batch::{Compression, RawBatch, batches};
use kmirror_protocol::client::Client;
use kmirror_protocol::client::api::fetch::{FetchPosition, FetchSession, IsolationLevel};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::forward::{Running, fast_plan, wait_for_records};
use crate::harness::{Broker, not_run, oracle, topic_name};
use crate::protocol::{client, create, sample_records};

/// Poll period of the waits below.
const POLL: Duration = Duration::from_millis(300);

/// `fast_plan` with the leaves' intervals shortened and group offset sync on.
fn sync_plan(src: &Broker, s: &str, dst: &Broker, t: &str) -> FlowPlan {
    let mut plan = fast_plan(src, s, dst, t);
    let mut cfg = plan.config.as_deref().cloned().expect("MM2 defaults parse");
    cfg.emit_heartbeats_interval = Duration::from_millis(500);
    cfg.emit_checkpoints_interval = Duration::from_millis(500);
    cfg.refresh_groups_interval = Duration::from_secs(1);
    cfg.sync_group_offsets_enabled = true;
    cfg.sync_group_offsets_interval = Duration::from_secs(1);
    plan.config = Some(Arc::new(cfg));
    plan
}

/// Polls `f` until it yields a value; fails the test after `timeout`.
async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

/// librdkafka consumer group `group` reads from its committed offsets (up to `count` records,
/// or until idle) and, if `commit`, commits what it read. Returns the records and the offsets
/// committed per partition.
fn group_consume(
    b: &Broker,
    topic: &str,
    partitions: i32,
    group: &str,
    count: Option<usize>,
    commit: bool,
    metadata: Option<&str>,
) -> (Vec<Value>, BTreeMap<i32, i64>) {
    let cmd = json!({"op": "group_consume", "bootstrap": b.bootstrap,
        "topic": topic, "partitions": partitions, "group": group, "count": count,
        "commit": commit, "metadata": metadata, "idle": 3});
    // Off the runtime's workers, so kmirror's tasks keep running on both.
    let out = tokio::task::block_in_place(|| oracle::call(&cmd));
    let committed = out["committed"]
        .as_object()
        .expect("committed map")
        .iter()
        .map(|(p, o)| (p.parse().expect("partition"), o.as_i64().expect("offset")))
        .collect();
    (
        out["records"].as_array().cloned().unwrap_or_default(),
        committed,
    )
}

/// Every record of partition 0 of `topic` on `b` (empty if the topic does not exist).
async fn read_all(c: &Client, topic: &str) -> Vec<Record> {
    PartitionReader::new(topic)
        .read_to_end(c)
        .await
        .unwrap_or_default()
}

async fn heartbeats_in(c: &Client, topic: &str) -> Vec<(Heartbeat, i64)> {
    read_all(c, topic)
        .await
        .into_iter()
        .filter_map(|r| {
            let hb = Heartbeat::decode(r.key.as_deref()?, r.value.as_deref()?).ok()?;
            Some((hb, r.timestamp))
        })
        .collect()
}

async fn sync_store(c: &Client, syncs_topic: &str) -> OffsetSyncStore {
    let mut store = OffsetSyncStore::default();
    for r in read_all(c, syncs_topic).await {
        let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
            continue;
        };
        store.apply(&OffsetSync::decode(k, v).expect("offset sync decodes"));
    }
    store
}

/// Offsets committed by `group` for `topic` on `c`, by partition.
async fn committed_on(c: &Client, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    c.offset_fetch(group, Some(&[topic.to_owned()]))
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|o| (o.partition, o.offset))
        .collect()
}

/// The checkpoint of (`group`, `topic`, `partition`), if any.
fn checkpoint<'a>(
    cps: &'a BTreeMap<CheckpointKey, Checkpoint>,
    group: &str,
    topic: &str,
    partition: i32,
) -> Option<&'a Checkpoint> {
    cps.get(&CheckpointKey {
        group: group.to_owned(),
        topic: topic.to_owned(),
        partition,
    })
}

/// True when `group` has a checkpoint with upstream offset `committed[p]` for every partition.
fn has_checkpoints(
    cps: &BTreeMap<CheckpointKey, Checkpoint>,
    group: &str,
    topic: &str,
    committed: &BTreeMap<i32, i64>,
) -> bool {
    committed.iter().all(|(p, off)| {
        checkpoint(cps, group, topic, *p).is_some_and(|cp| cp.upstream_offset == *off)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_resumes_on_the_target_where_it_left_off_on_the_source() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = &topic_name("failover");
    create(&client(&a).await, t, 2).await;
    let all = sample_records(600, 2);
    let r = oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t,
        "records": all, "flush_every": 30}),
    );
    assert_eq!(r["errors"], json!([]));
    // g1 read 230 of the 600 records before kmirror started.
    let g1 = &topic_name("failover-g1");
    let (_, c1) = group_consume(&a, t, 2, g1, Some(230), true, Some("m1"));
    let c1 = &c1;
    assert_eq!(c1.values().sum::<i64>(), 230, "{c1:?}");
    let plan = sync_plan(&a, "SA", &b, "SB");
    let metrics = Arc::clone(&plan.metrics);
    let flow = Running::start(plan);
    let remote = &format!("SA.{t}");
    assert_eq!(wait_for_records(&b, remote, 2, 600).await.len(), 600);
    // g2 is created while kmirror runs: picked up at the next group refresh.
    let g2 = &topic_name("failover-g2");
    let (_, c2) = group_consume(&a, t, 2, g2, Some(101), true, None);
    let c2 = &c2;
    let g2_committed = Instant::now();
    let (ca, cb) = (&client(&a).await, &client(&b).await);
    let cps_topic = "SA.checkpoints.internal";
    wait_for(
        "a checkpoint of g2",
        Duration::from_secs(30),
        || async move {
            let cps = offsets::read_checkpoints(cb, cps_topic).await.ok()?;
            has_checkpoints(&cps, g2, remote, c2).then_some(())
        },
    )
    .await;
    let g2_commit_to_checkpoint = g2_committed.elapsed();
    // Checkpoints settle on the translation of the offset syncs written so far.
    let (cps, store) = wait_for(
        "checkpoints equal to the translation of the syncs",
        Duration::from_secs(30),
        || async move {
            let cps = offsets::read_checkpoints(cb, cps_topic).await.ok()?;
            let store = sync_store(ca, "mm2-offset-syncs.SB.internal").await;
            let settled = [(g1, c1), (g2, c2)].iter().all(|(g, c)| {
                c.iter().all(|(p, off)| {
                    let want = store.translate(t, *p, SourceOffset(*off));
                    checkpoint(&cps, g, remote, *p).is_some_and(|cp| {
                        cp.upstream_offset == *off
                            && Some(cp.downstream_offset) == want.map(|w| w.0)
                    })
                })
            });
            settled.then_some((cps, store))
        },
    )
    .await;
    // Target empty at start: translation is the identity where exact, never ahead elsewhere.
    let mut distances = Vec::new();
    for (g, c) in [(g1, c1), (g2, c2)] {
        for (p, off) in c {
            let cp = checkpoint(&cps, g, remote, *p).expect("checkpoint");
            assert!(cp.downstream_offset <= *off, "ahead: {cp:?}");
            distances.push(off - cp.downstream_offset);
        }
    }
    let meta = checkpoint(&cps, g1, remote, 0).map(|cp| cp.metadata.clone());
    if meta.as_deref() != Some("m1") {
        assert!(a.is_tansu(), "commit metadata not copied: {meta:?}");
        not_run(
            "group_resumes_on_the_target_where_it_left_off_on_the_source (checkpoint metadata)",
            "OffsetCommit metadata stored and returned by OffsetFetch (tansu 0.6.0 reads back \"\")",
            "sync::offsets::tests::checkpoint_copies_commit_metadata_and_skips_what_cannot_be_translated",
        );
    }
    // Group offset sync: g1 does not exist on the target, so its checkpoints are committed.
    let cps_ref = &cps;
    wait_for(
        "g1's offsets committed on the target",
        Duration::from_secs(30),
        || async move {
            let on_b = committed_on(cb, g1, remote).await;
            c1.keys()
                .all(|p| {
                    on_b.get(p).copied()
                        == checkpoint(cps_ref, g1, remote, *p).map(|cp| cp.downstream_offset)
                })
                .then_some(())
        },
    )
    .await;
    let stats = offsets::checkpoint_stats("SA->SB").snapshot();
    // The same latencies reach the metrics endpoint (MM2's checkpoint-latency-ms).
    let rendered = metrics.render();
    assert!(
        rendered
            .lines()
            .any(|l| l.starts_with("kmirror_checkpoint_latency_ms") && l.contains(g1.as_str())),
        "{rendered}"
    );
    flow.stop().await;

    // `kmirror offsets` prints what the group resumes from.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("mm2.properties");
    std::fs::write(
        &cfg,
        format!(
            "clusters = SA, SB\nSA.bootstrap.servers = {}\nSB.bootstrap.servers = {}\nSA->SB.enabled = true\n",
            a.bootstrap, b.bootstrap
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kmirror"))
        .args([
            "offsets",
            cfg.to_str().unwrap(),
            "--source",
            "SA",
            "--target",
            "SB",
        ])
        .args(["--group", g1, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), c1.len(), "{rows:?}");
    for row in &rows {
        let p = row["partition"].as_i64().unwrap() as i32;
        let cp = checkpoint(&cps, g1, remote, p).unwrap();
        assert_eq!(row["group"], json!(g1));
        assert_eq!(row["topic"], json!(remote));
        assert_eq!(row["offset"], json!(cp.downstream_offset));
        assert_eq!(row["upstream_offset"], json!(cp.upstream_offset));
    }

    // librdkafka in group g1 on the target reads on from the synced offsets.
    let (resumed, _) = group_consume(&b, remote, 2, g1, None, false, None);
    let mut re_read = 0;
    for p in 0..2 {
        let src: Vec<&Value> = all.iter().filter(|r| r["partition"] == p).collect();
        let got: Vec<&Value> = resumed.iter().filter(|r| r["partition"] == p).collect();
        // A partition the group never committed on starts at the earliest offset.
        let start = checkpoint(&cps, g1, remote, p).map_or(0, |cp| cp.downstream_offset);
        let offsets: Vec<i64> = got.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
        // No gap: every record from the synced offset to the end, in order, once.
        assert_eq!(
            offsets,
            (start..src.len() as i64).collect::<Vec<_>>(),
            "partition {p}"
        );
        for (r, o) in got.iter().zip(start..) {
            for k in ["key", "value", "headers", "timestamp"] {
                assert_eq!(r[k], src[o as usize][k], "partition {p} offset {o} {k}");
            }
        }
        let Some(&committed) = c1.get(&p) else {
            continue;
        };
        // Duplicates: only the records between the sync used and the committed offset.
        let sync_used = store
            .partition(t, p)
            .and_then(|s| s.syncs().filter(|s| s.upstream.0 <= committed).last())
            .expect("a sync at or below the committed offset");
        let bound = if sync_used.upstream.0 == committed {
            0
        } else {
            committed - sync_used.upstream.0 - 1
        };
        assert_eq!(committed - start, bound, "partition {p}");
        re_read += committed - start;
    }
    assert_eq!(resumed.len() as i64, 600 - 230 + re_read);
    eprintln!(
        "CHECKPOINTS: distances to the exact offsets {distances:?} (records re-read on failover: \
         {re_read}); g2 commit on the source -> checkpoint visible on the target: {:?}; \
         checkpoint-latency-ms: {:?}",
        g2_commit_to_checkpoint,
        stats.iter().map(|(_, l)| l.latency_ms).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_group_on_the_target_is_left_alone_until_it_is_empty() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let t = &topic_name("active");
    create(&client(&a).await, t, 2).await;
    let remote = &format!("HA.{t}");
    create(&client(&b).await, remote, 2).await;
    let r = oracle::call(
        &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t,
        "records": sample_records(200, 2), "flush_every": 20}),
    );
    assert_eq!(r["errors"], json!([]));
    let g = &topic_name("active-g");
    let (_, c) = group_consume(&a, t, 2, g, Some(120), true, None);
    let c = &c;
    // A member of the same group is active on the target and committed its own offsets:
    // partition 0 behind what the source group reached, partition 1 ahead of it.
    let holder = {
        let cmd = json!({"op": "hold", "bootstrap": b.bootstrap, "topic": remote, "group": g,
            "commit": [[0, 1], [1, 1000]], "hold": 25});
        std::thread::spawn(move || oracle::call(&cmd))
    };
    let cb = &client(&b).await;
    wait_for(
        "the group to be active on the target",
        Duration::from_secs(90),
        || async move {
            let d = cb.describe_groups(std::slice::from_ref(g)).await.ok()?;
            let on_b = committed_on(cb, g, remote).await;
            (d.first()?.state == "Stable" && on_b.get(&1) == Some(&1000)).then_some(())
        },
    )
    .await;
    let flow = Running::start(sync_plan(&a, "HA", &b, "HB"));
    let cps = wait_for(
        "checkpoints of the group",
        Duration::from_secs(30),
        || async move {
            let cps = offsets::read_checkpoints(cb, "HA.checkpoints.internal")
                .await
                .ok()?;
            has_checkpoints(&cps, g, remote, c).then_some(cps)
        },
    )
    .await;
    // Several sync rounds pass while the member is there: its offsets stay as it left them.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let d = cb.describe_groups(std::slice::from_ref(g)).await.unwrap();
        assert_eq!(
            d[0].state, "Stable",
            "the holder left too early for this check"
        );
        let on_b = committed_on(cb, g, remote).await;
        assert_eq!(
            on_b,
            BTreeMap::from([(0, 1), (1, 1000)]),
            "active group changed"
        );
    }
    let held = tokio::task::spawn_blocking(move || holder.join().expect("holder thread"))
        .await
        .unwrap();
    assert_eq!(held["assigned"], json!(true), "{held}");
    // Empty now: partition 0 moves up to the checkpoint; partition 1 is never moved back.
    let cp0 = checkpoint(&cps, g, remote, 0).unwrap().downstream_offset;
    assert!(cp0 > 1, "checkpoint {cp0} would not move partition 0");
    wait_for(
        "partition 0 synced once the group is empty",
        Duration::from_secs(30),
        || async move {
            let on_b = committed_on(cb, g, remote).await;
            (on_b.get(&0) == Some(&cp0)).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(committed_on(cb, g, remote).await.get(&1), Some(&1000));
    flow.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_reach_the_target_and_one_hop_further() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let c = Broker::start(3);
    let flows = [
        Running::start(sync_plan(&a, "A", &b, "B")),
        Running::start(sync_plan(&b, "B", &c, "C")),
    ];
    // What MM2's heartbeat-only herder of the disabled pair B->A writes into A.
    let cancel = CancellationToken::new();
    let herder = tokio::spawn(heartbeats::run(
        HeartbeatConfig {
            source_alias: "B".into(),
            target_alias: "A".into(),
            topic: "heartbeats".into(),
            interval: Duration::from_millis(500),
            replication_factor: -1,
        },
        client(&a).await,
        cancel.clone(),
    ));
    let (cb, cc) = (&client(&b).await, &client(&c).await);
    let pair = |hb: &Heartbeat| {
        (
            hb.source_cluster_alias.clone(),
            hb.target_cluster_alias.clone(),
        )
    };
    let expect = [
        (cb, "heartbeats", ("A", "B")),
        (cb, "A.heartbeats", ("B", "A")),
        (cc, "heartbeats", ("B", "C")),
        (cc, "B.heartbeats", ("A", "B")),
        (cc, "B.A.heartbeats", ("B", "A")),
    ];
    for (client, topic, (s, t)) in expect {
        let what = format!("{s}->{t} heartbeats in {topic}");
        let hbs = wait_for(&what, Duration::from_secs(30), || async move {
            let hbs = heartbeats_in(client, topic).await;
            (!hbs.is_empty()).then_some(hbs)
        })
        .await;
        for (hb, ts) in &hbs {
            assert_eq!(pair(hb), (s.to_owned(), t.to_owned()), "{topic}");
            assert_eq!(hb.timestamp, *ts, "record timestamp is the heartbeat's");
        }
    }
    // They keep coming at emit.heartbeats.interval.
    let before = heartbeats_in(cc, "B.heartbeats").await.len();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(heartbeats_in(cc, "B.heartbeats").await.len() > before);
    cancel.cancel();
    herder.await.unwrap();
    for f in flows {
        f.stop().await;
    }
}

/// Record counts of the batches of `topic`-`partition` on `c`, as (base offset, records).
async fn batch_layout(c: &Client, topic: &str, partition: i32) -> Vec<(i64, i64)> {
    let leader = c.leader(topic, partition).await.unwrap();
    let mut s = FetchSession::new(c.clone(), leader, IsolationLevel::ReadUncommitted);
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut offset = 0;
    for _ in 0..1000 {
        let resp = s
            .fetch(&[FetchPosition {
                topic: topic.into(),
                partition,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
            }])
            .await
            .unwrap();
        let before = offset;
        for p in resp {
            for raw in batches(p.records) {
                let Ok(RawBatch::V2(v)) = raw else { break };
                if v.last_offset() < offset {
                    continue;
                }
                out.push((v.base_offset(), v.last_offset() - v.base_offset() + 1));
                offset = v.last_offset() + 1;
            }
        }
        if offset == before {
            break;
        }
    }
    out
}

/// Distance statistics of translated offsets against the exact ones.
#[derive(Debug, Default)]
struct Accuracy {
    /// Group offsets translated (every offset of every partition, and the end).
    offsets: usize,
    /// Offsets below the first sync: no checkpoint.
    untranslatable: usize,
    /// Offsets translated exactly.
    exact: usize,
    /// Sum of (exact - translated).
    total_distance: i64,
    /// Largest (exact - translated).
    max_distance: i64,
    /// Offsets at a source batch boundary (a group that read whole batches).
    boundaries: usize,
    /// ...of which translated exactly.
    boundaries_exact: usize,
    /// Translations that re-read more than the forwarded batch holding the next record.
    beyond_one_batch: usize,
    /// Source batches produced.
    source_batches: usize,
    /// Offset syncs used.
    syncs: usize,
    /// Forwarded batches on the target.
    batches: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translation_accuracy_over_many_batches_is_measured() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("kmirror=warn")
        .try_init();
    let a = Broker::start(1);
    let b = Broker::start(2);
    let (ca, cb) = (&client(&a).await, &client(&b).await);
    let (s, t) = ("NA", "NB");
    let topic = &topic_name(&format!("accuracy-{s}"));
    create(ca, topic, 2).await;
    // Partition 0 of the remote topic holds 7 records of another producer first; partition 1
    // starts empty, so its exact translation is the identity.
    let remote = &format!("{s}.{topic}");
    create(cb, remote, 2).await;
    let mut foreign = BatchBuilder::new(Compression::None);
    for i in 0..7 {
        foreign.push(Record::new(
            None,
            Some(format!("foreign-{i}").as_bytes()),
            0,
        ));
    }
    cb.produce(remote, 0, vec![foreign.build().unwrap()], 30_000)
        .await
        .unwrap();
    let shifts = [7, 0];
    let mut plan = fast_plan(&a, s, &b, t);
    plan.topic_filter = TopicFilter::new(&[topic.as_str()], &[] as &[&str]).unwrap();
    let flow = Running::start(plan);
    // Many source batches of 1..=60 records, produced while kmirror runs.
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |m: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % m
    };
    let mut boundaries: [Vec<i64>; 2] = Default::default();
    let mut ends = [0i64; 2];
    for round in 0..150 {
        for p in 0..2 {
            let n = 1 + next(60) as i64;
            let mut batch = BatchBuilder::new(Compression::None);
            for k in 0..n {
                let v = format!("r{round}-{k}");
                batch.push(Record::new(None, Some(v.as_bytes()), 1_700_000_000_000));
            }
            ca.produce(topic, p, vec![batch.build().unwrap()], 30_000)
                .await
                .unwrap();
            boundaries[p as usize].push(ends[p as usize]);
            ends[p as usize] += n;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // All replicated (read from the log: tansu 0.6.0's ListOffsets answers the last batch's
    // base offset + 1), and the last syncs written.
    let ends = &ends;
    wait_for(
        "replication to finish",
        Duration::from_secs(60),
        || async move {
            for p in 0..2 {
                let end = batch_layout(cb, remote, p)
                    .await
                    .last()
                    .map_or(0, |(b, n)| b + n);
                if end < ends[p as usize] + shifts[p as usize] {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    flow.stop().await;

    let syncs_topic = format!("mm2-offset-syncs.{t}.internal");
    let mut written: [Vec<SyncPoint>; 2] = Default::default();
    for r in read_all(ca, &syncs_topic).await {
        let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
            continue;
        };
        let sync = OffsetSync::decode(k, v).expect("offset sync decodes");
        if sync.topic == *topic {
            written[sync.partition as usize].push(SyncPoint::from(&sync));
        }
    }
    let store = sync_store(ca, &syncs_topic).await;
    let mut layouts = Vec::new();
    for p in 0..2 {
        layouts.push(batch_layout(cb, remote, p).await);
    }
    let run = Run {
        ends: *ends,
        shifts,
        source_batches: [&boundaries[0], &boundaries[1]],
        layouts: [&layouts[0], &layouts[1]],
    };
    for p in 0..2 {
        let shift = shifts[p];
        let synced: Vec<i64> = written[p].iter().map(|s| s.downstream.0).collect();
        // Every forwarded batch carries the exact pair of its last record...
        let unsynced = layouts[p]
            .iter()
            .filter(|(b, n)| *b >= shift && !synced.contains(&(b + n - 1)))
            .count();
        assert_eq!(
            unsynced, 0,
            "partition {p}: forwarded batches without a sync"
        );
        // ...and the first one also of its first record.
        assert!(
            written[p].contains(&SyncPoint {
                upstream: SourceOffset(0),
                downstream: TargetOffset(shift),
            }),
            "partition {p}: no sync for the first forwarded record: {:?}",
            &written[p][..written[p].len().min(3)]
        );
    }

    // Every sync the data path wrote (an uncapped store): less than one forwarded batch
    // re-read, exact at every source batch boundary, every offset from 0 on translatable.
    let uncapped = |p: i32, g: i64| {
        let sync = written[p as usize]
            .iter()
            .filter(|s| s.upstream.0 <= g)
            .max_by_key(|s| s.upstream)?;
        offsets::translate_downstream(*sync, SourceOffset(g)).map(|t| t.0)
    };
    let all = run.measure(&uncapped, written.iter().map(Vec::len).sum());
    eprintln!("ACCURACY every sync kmirror's data path writes: {all}");
    assert_eq!(all.untranslatable, 0, "offsets before the first sync");
    assert_eq!(all.beyond_one_batch, 0, "more than one batch re-read");
    assert_eq!(
        all.boundaries_exact, all.boundaries,
        "source batch boundaries not exact"
    );

    // The checkpoint task's store (at most MAX_SYNCS_PER_PARTITION per partition): never
    // ahead anywhere, the same answers in the newest DENSE_SYNCS - 1 batches, offset 0 kept.
    let kept = |p: i32| store.partition(topic, p).map_or(0, |s| s.len());
    assert!((0..2).all(|p| kept(p) <= offsets::MAX_SYNCS_PER_PARTITION));
    let capped = |p: i32, g: i64| store.translate(topic, p, SourceOffset(g)).map(|t| t.0);
    let acc = run.measure(&capped, kept(0) + kept(1));
    eprintln!("ACCURACY the checkpoint task's capped store: {acc}");
    assert_eq!(acc.untranslatable, 0, "offsets before the oldest kept sync");
    for p in 0..2i32 {
        let layout = &layouts[p as usize];
        let dense_from = layout[layout.len().saturating_sub(offsets::DENSE_SYNCS - 1)].0;
        for g in (dense_from - shifts[p as usize]).max(0)..=ends[p as usize] {
            assert_eq!(capped(p, g), uncapped(p, g), "partition {p} g={g}");
        }
    }

    // For comparison: the syncs MM2 3.5+'s rule (KAFKA-14797) would keep from these exact
    // pairs: one whenever the downstream offset is offset.lag.max (100) past the last sync + 1.
    let mut mm2 = OffsetSyncStore::default();
    for (p, syncs) in written.iter().enumerate() {
        let mut last: Option<i64> = None;
        for sp in syncs {
            if last.is_none_or(|d| sp.downstream.0 - (d + 1) >= 100) {
                last = Some(sp.downstream.0);
                mm2.apply(&OffsetSync {
                    topic: topic.clone(),
                    partition: p as i32,
                    upstream_offset: sp.upstream.0,
                    downstream_offset: sp.downstream.0,
                });
            }
        }
    }
    let kept = |p: i32| mm2.partition(topic, p).map_or(0, |s| s.len());
    let acc = run.measure(
        &|p, g| mm2.translate(topic, p, SourceOffset(g)).map(|t| t.0),
        kept(0) + kept(1),
    );
    eprintln!("ACCURACY offset.lag.max=100 (MM2 3.5+ sync rule, simulated): {acc}");
}

/// One replicated topic, for measuring translation against the exact offsets.
struct Run<'a> {
    /// Records per source partition.
    ends: [i64; 2],
    /// Foreign records before the replicated ones, per target partition.
    shifts: [i64; 2],
    /// First offset of every source batch, per partition.
    source_batches: [&'a Vec<i64>; 2],
    /// Target batches (base, records), per partition.
    layouts: [&'a Vec<(i64, i64)>; 2],
}

impl Run<'_> {
    /// Translates every possible group offset with `translate(partition, g)` (from `syncs`
    /// offset syncs) and asserts it is never ahead.
    fn measure(&self, translate: &dyn Fn(i32, i64) -> Option<i64>, syncs: usize) -> Accuracy {
        let mut acc = Accuracy {
            syncs,
            ..Accuracy::default()
        };
        for p in 0..2i32 {
            let (shift, layout) = (self.shifts[p as usize], self.layouts[p as usize]);
            acc.source_batches += self.source_batches[p as usize].len();
            acc.batches += layout.iter().filter(|(b, _)| *b >= shift).count();
            for g in 0..=self.ends[p as usize] {
                acc.offsets += 1;
                let exact = g + shift;
                let Some(got) = translate(p, g) else {
                    acc.untranslatable += 1;
                    continue;
                };
                assert!(
                    got <= exact,
                    "ahead at partition {p} g={g}: {got} > {exact}"
                );
                let d = exact - got;
                acc.exact += usize::from(d == 0);
                acc.total_distance += d;
                acc.max_distance = acc.max_distance.max(d);
                if self.source_batches[p as usize].binary_search(&g).is_ok() {
                    acc.boundaries += 1;
                    acc.boundaries_exact += usize::from(d == 0);
                }
                // The forwarded batch holding the next record (or the end).
                let base = layout
                    .iter()
                    .rev()
                    .find(|(b, _)| *b <= exact)
                    .map_or(shift, |(b, _)| *b);
                acc.beyond_one_batch += usize::from(got < base);
            }
        }
        acc
    }
}

impl std::fmt::Display for Accuracy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let translated = (self.offsets - self.untranslatable).max(1) as f64;
        write!(
            f,
            "{} source batches -> {} forwarded batches, {} offset syncs; {} group offsets: {} \
             untranslatable (before the first sync), {} exact ({:.1}%), distance to exact mean \
             {:.2} / max {} records; exact at {}/{} source batch boundaries; {} re-read more \
             than one forwarded batch",
            self.source_batches,
            self.batches,
            self.syncs,
            self.offsets,
            self.untranslatable,
            self.exact,
            100.0 * self.exact as f64 / translated,
            self.total_distance as f64 / translated,
            self.max_distance,
            self.boundaries_exact,
            self.boundaries,
            self.beyond_one_batch,
        )
    }
}
