//! The data path end to end: librdkafka produces into a source cluster,
//! kmirror replicates, librdkafka consumes from the target and compares.

use std::time::Duration;

use kmirror::engine::{FlowPlan, run_flow};
use kmirror_protocol::client::api::fetch::IsolationLevel;
use kmirror_protocol::client::api::offsets::OffsetSpec;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::harness::{Broker, oracle, topic_name};
use crate::protocol::{client, create, sample_records};

/// A running flow, stopped (and awaited) on `stop`.
pub struct Running {
    cancel: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub fn start(plan: FlowPlan) -> Self {
        let cancel = CancellationToken::new();
        let c = cancel.clone();
        let task = tokio::spawn(async move {
            run_flow(plan, c).await.expect("flow runs");
        });
        Self { cancel, task }
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("flow stops within 15 s")
            .expect("flow task");
    }
}

pub fn fast_plan(src: &Broker, s: &str, dst: &Broker, t: &str) -> FlowPlan {
    let mut plan = FlowPlan::with_defaults(s, &src.bootstrap, t, &dst.bootstrap);
    plan.refresh_topics_interval = Duration::from_millis(500);
    plan.fetch.max_wait = Duration::from_millis(100);
    plan.progress.flush_interval = Duration::from_millis(200);
    plan
}

/// Waits until `topic` on `b` holds `n` records across `partitions` (by the
/// target's latest offsets; kmirror writes contiguous batches, so tansu's
/// high watermark quirk does not apply to single-record checks done by the oracle).
pub async fn wait_for_records(
    b: &Broker,
    topic: &str,
    partitions: i32,
    n: usize,
) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let out = oracle::call(
            &json!({"op": "consume", "bootstrap": b.bootstrap, "topic": topic,
            "partitions": partitions, "expect": n, "timeout": 5}),
        );
        let recs = out["records"].as_array().cloned().unwrap_or_default();
        if recs.len() >= n || tokio::time::Instant::now() > deadline {
            return recs;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Compares oracle records per partition, in order.
pub fn assert_same(got: &[serde_json::Value], want: &[serde_json::Value], partitions: i32) {
    assert_eq!(got.len(), want.len(), "record count");
    for p in 0..partitions {
        let g: Vec<_> = got.iter().filter(|r| r["partition"] == p).collect();
        let w: Vec<_> = want.iter().filter(|r| r["partition"] == p).collect();
        assert_eq!(g.len(), w.len(), "partition {p} count");
        for (a, b) in g.iter().zip(&w) {
            for k in ["key", "value", "timestamp", "headers"] {
                assert_eq!(a[k], b[k], "partition {p} field {k}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_passive_replicates_every_codec_exactly() {
    let a = Broker::start(1);
    let b = Broker::start(2);
    let ca = client(&a).await;
    let mut topics = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let t = topic_name(&format!("ap-{codec}"));
        create(&ca, &t, 3).await;
        let recs = sample_records(300, 3);
        let r = oracle::call(
            &json!({"op": "produce", "bootstrap": a.bootstrap, "topic": t,
            "records": recs, "config": {"compression.type": codec}}),
        );
        assert_eq!(r["errors"], json!([]));
        topics.push((t, recs, codec));
    }
    let flow = Running::start(fast_plan(&a, "A", &b, "B"));
    let cb = client(&b).await;
    for (t, recs, codec) in &topics {
        let remote = format!("A.{t}");
        let got = wait_for_records(&b, &remote, 3, recs.len()).await;
        assert_same(&got, recs, 3);
        // Target batches carry the source codec: the batch was forwarded as is.
        let tps: Vec<(String, i32)> = (0..3).map(|p| (remote.clone(), p)).collect();
        let ends = cb
            .list_offsets(&tps, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
            .await
            .unwrap();
        assert!(
            ends.iter().all(|(_, r)| *r.as_ref().unwrap() > 0),
            "{codec}"
        );
        let leader = cb.leader(&remote, 0).await.unwrap();
        let mut s = kmirror_protocol::client::api::fetch::FetchSession::new(
            cb.clone(),
            leader,
            IsolationLevel::ReadUncommitted,
        );
        let resp = s
            .fetch(&[kmirror_protocol::client::api::fetch::FetchPosition {
                topic: remote.clone(),
                partition: 0,
                fetch_offset: 0,
                partition_max_bytes: 1 << 20,
            }])
            .await
            .unwrap();
        let first = kmirror_protocol::batch::batches(resp[0].records.clone())
            .next()
            .unwrap()
            .unwrap();
        let kmirror_protocol::batch::RawBatch::V2(v) = first else {
            panic!()
        };
        assert_eq!(v.compression().unwrap().name(), *codec, "target codec");
    }
    flow.stop().await;
}
