//! Step 5 of the data path: acknowledged positions become saved progress (on
//! the target) and MM2-format offset syncs (exact, from produce acks).
//!
//! Progress uses the record layout MM2's Connect worker writes for
//! MirrorSourceConnector (`["MirrorSourceConnector",{"cluster":..,"partition":..,
//! "topic":..}]` → `{"offset":last}`), in kmirror's own compacted topic on the
//! target, so a restart (even after kill -9) resumes where the last flush left.
//! Duplicate bound after a crash: the records acknowledged within one
//! `offset.flush.interval.ms` before it; a clean stop flushes and re-sends none.
//!
//! # References
//! - `mm2-reference.md` §2.3 (offset-sync bytes), §2.4 (Connect offsets JSON).
//! - `zero-copy-forwarding.md` §5.1 (MM2's sync rules), §6.5 (exact mapping).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use kmirror_protocol::batch::builder::BatchBuilder;
use kmirror_protocol::batch::records::{self, Record};
use kmirror_protocol::batch::{Compression, RawBatch, batches};
use kmirror_protocol::client::api::fetch::{FetchPosition, FetchSession, IsolationLevel};
use kmirror_protocol::client::api::offsets::OffsetSpec;
use kmirror_protocol::client::{Client, ClientError};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::produce::Completed;
use crate::internal_topics::{self, OffsetSync};

/// A source topic-partition.
pub type Tp = (String, i32);

/// Where and how progress and syncs are written.
#[derive(Debug, Clone)]
pub struct ProgressConfig {
    /// Source cluster alias (in progress keys).
    pub source_alias: String,
    /// Progress topic on the target.
    pub progress_topic: String,
    /// How often progress is written (`offset.flush.interval.ms`).
    pub flush_interval: Duration,
    /// Emit offset syncs at all (`emit.offset-syncs.enabled`).
    pub emit_offset_syncs: bool,
    /// Offset-syncs topic (`mm2-offset-syncs.<other>.internal`).
    pub offset_syncs_topic: String,
}

#[derive(Debug, Default)]
struct HubState {
    /// Next source offset per partition, as acknowledged.
    positions: BTreeMap<Tp, i64>,
    /// Positions changed since the last flush.
    dirty: Vec<Tp>,
    /// Syncs to write now.
    queued: Vec<OffsetSync>,
}

/// Collects acknowledgements of one flow and writes progress and syncs.
#[derive(Debug)]
pub struct ProgressHub {
    /// Settings.
    config: ProgressConfig,
    /// Target cluster (progress topic).
    target: Client,
    /// Cluster holding the offset-syncs topic.
    syncs_cluster: Client,
    /// Shared state.
    state: Mutex<HubState>,
    /// Wakes the writer when a sync is queued.
    notify: Notify,
    /// Last success and failures of progress and offset-sync writes.
    metrics: Option<(std::sync::Arc<crate::metrics::Metrics>, String)>,
    /// Scale-out group generation written with progress (-1: none).
    generation: std::sync::atomic::AtomicI32,
}

impl ProgressHub {
    /// A hub writing progress to `target` and syncs to `syncs_cluster`.
    pub fn new(config: ProgressConfig, target: Client, syncs_cluster: Client) -> Self {
        Self {
            config,
            target,
            syncs_cluster,
            state: Mutex::default(),
            notify: Notify::new(),
            metrics: None,
            generation: std::sync::atomic::AtomicI32::new(-1),
        }
    }

    /// Scale-out: progress written from now on carries `generation`.
    pub fn set_generation(&self, generation: i32) {
        self.generation
            .store(generation, std::sync::atomic::Ordering::Relaxed);
    }

    /// Reports each write's outcome to `metrics` as syncs of flow `source->target`
    /// (`target_alias` completes the labels).
    pub fn with_metrics(
        mut self,
        metrics: std::sync::Arc<crate::metrics::Metrics>,
        target_alias: &str,
    ) -> Self {
        self.metrics = Some((metrics, target_alias.to_owned()));
        self
    }

    fn report(&self, sync: &str, ok: bool) {
        if let Some((m, target)) = &self.metrics {
            m.sync_ran(&self.config.source_alias, target, sync, ok);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        match self.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Records one completed entry of partition `tp` (called in source order).
    pub fn completed(&self, tp: &Tp, done: &Completed) {
        let mut st = self.lock();
        st.positions.insert(tp.clone(), done.next_source_offset);
        st.dirty.push(tp.clone());
        let Some(m) = &done.mapping else { return };
        if !self.config.emit_offset_syncs {
            return;
        }
        // One exact pair per forwarded batch (its last record), so a group
        // that fails over re-reads at most the batch it stopped in. MM2
        // throttles with offset.lag.max (~100 records of drift); a pair costs
        // ~30 bytes, written in bulk, so kmirror does not.
        let up = m.last_source_offset;
        let down = m.target_base_offset + i64::from(m.records) - 1;
        st.queued.push(OffsetSync {
            topic: tp.0.clone(),
            partition: tp.1,
            upstream_offset: up,
            downstream_offset: down,
        });
        drop(st);
        self.notify.notify_one();
    }

    /// Acknowledged next source offset of a partition, if any.
    pub fn position(&self, tp: &Tp) -> Option<i64> {
        self.lock().positions.get(tp).copied()
    }

    /// Writes queued syncs now.
    async fn write_syncs(&self) -> Result<(), ClientError> {
        let syncs: Vec<OffsetSync> = std::mem::take(&mut self.lock().queued);
        if syncs.is_empty() {
            return Ok(());
        }
        let recs: Vec<Record> = syncs
            .iter()
            .filter_map(|s| {
                let key = s.encode_key().ok()?;
                Some(Record::new(Some(&key), Some(&s.encode_value()), now_ms()))
            })
            .collect();
        let res = write_records(&self.syncs_cluster, &self.config.offset_syncs_topic, recs).await;
        self.report("offset-syncs", res.is_ok());
        if res.is_err() {
            // Put them back so the next round retries.
            self.lock().queued.splice(0..0, syncs);
        }
        res
    }

    /// Writes changed positions to the progress topic.
    pub async fn write_progress(&self) -> Result<(), ClientError> {
        let positions: Vec<(Tp, i64)> = {
            let mut st = self.lock();
            let mut dirty = std::mem::take(&mut st.dirty);
            dirty.sort();
            dirty.dedup();
            dirty
                .into_iter()
                .filter_map(|tp| st.positions.get(&tp).map(|p| (tp, *p)))
                .collect()
        };
        if positions.is_empty() {
            return Ok(());
        }
        let recs: Vec<Record> = positions
            .iter()
            .map(|((t, p), next)| {
                let key = internal_topics::source_offset_key(&self.config.source_alias, t, *p);
                // MM2 stores the last replicated offset; we resume at +1.
                let value = match self.generation.load(std::sync::atomic::Ordering::Relaxed) {
                    g if g >= 0 => {
                        internal_topics::source_offset_value_with_generation(next - 1, g)
                    }
                    _ => internal_topics::source_offset_value(next - 1),
                };
                Record::new(Some(&key), Some(&value), now_ms())
            })
            .collect();
        let res = write_records(&self.target, &self.config.progress_topic, recs).await;
        self.report("progress", res.is_ok());
        if res.is_err() {
            let mut st = self.lock();
            st.dirty.extend(positions.into_iter().map(|(tp, _)| tp));
        }
        res
    }

    /// Writes everything pending: syncs and progress.
    pub async fn flush(&self) -> Result<(), ClientError> {
        let a = self.write_syncs().await;
        let b = self.write_progress().await;
        a.and(b)
    }

    /// Writes syncs as they are queued and progress every flush interval,
    /// until `cancel`; the caller flushes once more after its partitions stop.
    pub async fn run(&self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.config.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = self.notify.notified() => {
                    if let Err(e) = self.write_syncs().await {
                        tracing::warn!(error = %e, "writing offset syncs failed; will retry");
                    }
                }
                _ = tick.tick() => {
                    if let Err(e) = self.flush().await {
                        tracing::warn!(error = %e, "saving progress failed; will retry");
                    }
                }
            }
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes records to partition 0 of `topic` (MM2 writes its internal records there).
async fn write_records(client: &Client, topic: &str, recs: Vec<Record>) -> Result<(), ClientError> {
    let mut b = BatchBuilder::new(Compression::None);
    for r in recs {
        b.push(r);
    }
    let bytes = b.build().map_err(|e| ClientError::MissingInResponse {
        api: kmirror_protocol::kafka_protocol::messages::ApiKey::Produce,
        resource: format!("batch for {topic}: {e}"),
    })?;
    let topics = [topic.to_owned()];
    client
        .retry(&topics, || {
            client.produce(topic, 0, vec![bytes.clone()], 30_000)
        })
        .await
        .map(|_| ())
}

/// Reads saved progress (next source offset per partition) of `source_alias`
/// from partition 0 of `topic`; empty when the topic is empty or missing.
pub async fn load_progress(
    target: &Client,
    topic: &str,
    source_alias: &str,
) -> Result<HashMap<Tp, i64>, ClientError> {
    let mut out = HashMap::new();
    if target.leader(topic, 0).await.is_err() {
        return Ok(out);
    }
    let tp = [(topic.to_owned(), 0)];
    let end = match target
        .list_offsets(&tp, OffsetSpec::Latest, IsolationLevel::ReadUncommitted)
        .await?
        .pop()
    {
        Some((_, r)) => r?,
        None => return Ok(out),
    };
    let leader = target.leader(topic, 0).await?;
    let mut session = FetchSession::new(target.clone(), leader, IsolationLevel::ReadUncommitted);
    session.max_wait = Duration::from_millis(100);
    let mut offset = 0;
    let mut idle = 0;
    let mut generations: HashMap<Tp, i32> = HashMap::new();
    while offset < end && idle < 20 {
        let resp = session
            .fetch(&[FetchPosition {
                topic: topic.to_owned(),
                partition: 0,
                fetch_offset: offset,
                partition_max_bytes: 1 << 20,
            }])
            .await?;
        let before = offset;
        for p in resp {
            if let Some(e) = p.error {
                return Err(e);
            }
            for raw in batches(p.records) {
                let Ok(RawBatch::V2(b)) = raw else { break };
                if b.is_control() || b.last_offset() < offset {
                    continue;
                }
                offset = b.last_offset() + 1;
                let Ok(recs) = records::decode(&b) else {
                    continue;
                };
                for r in recs {
                    let (Some(k), Some(v)) = (r.key, r.value) else {
                        continue;
                    };
                    let (Ok(Some(key)), Ok(Some(last))) = (
                        internal_topics::parse_source_offset_key(&k),
                        internal_topics::parse_source_offset_value(&v),
                    ) else {
                        continue;
                    };
                    if key.cluster != source_alias {
                        continue;
                    }
                    // A lower group generation never overrides a higher one:
                    // a fenced process's late write does not move the position.
                    let generation =
                        internal_topics::parse_source_offset_generation(&v).unwrap_or(-1);
                    let tp = (key.topic, key.partition);
                    if generations.get(&tp).is_none_or(|g| *g <= generation) {
                        generations.insert(tp.clone(), generation);
                        out.insert(tp, last + 1);
                    }
                }
            }
        }
        idle = if offset == before { idle + 1 } else { 0 };
    }
    Ok(out)
}
