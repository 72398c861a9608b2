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
//! Offset syncs: one exact pair per forwarded batch, for its last record, and one more for
//! the first record of a batch that starts a new stretch: the first batch a partition
//! forwards after a (re)start, or one that does not continue the previous batch (source
//! rewound, other records landed in between on the target). So every group offset from
//! the first forwarded record on translates, exactly at batch boundaries (on a target that
//! was empty at start, translated offset = source offset there), and never past the record
//! the group would read next (see [`batch_syncs`]).
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

use super::produce::{Completed, Mapping};
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
    /// Last record of the last batch forwarded per partition since this hub started.
    forwarded: BTreeMap<Tp, Forwarded>,
}

/// Most offset syncs held while the syncs cluster does not take them.
const MAX_QUEUED_SYNCS: usize = 65_536;
/// Syncs kept per partition when the queue is cut down.
const KEPT_PER_PARTITION: usize = 64;

/// Keeps the queue of unwritten syncs bounded while the syncs cluster is
/// down: past [`MAX_QUEUED_SYNCS`], only the newest [`KEPT_PER_PARTITION`] of
/// each partition stay. Any subset of true pairs translates correctly (never
/// ahead); fewer pairs only make a failing-over group re-read more.
fn bound_queued(queued: &mut Vec<OffsetSync>) {
    if queued.len() <= MAX_QUEUED_SYNCS {
        return;
    }
    let mut kept: HashMap<(String, i32), usize> = HashMap::new();
    let mut out: Vec<OffsetSync> = Vec::with_capacity(queued.len().min(MAX_QUEUED_SYNCS));
    for s in queued.drain(..).rev() {
        let n = kept.entry((s.topic.clone(), s.partition)).or_insert(0);
        if *n < KEPT_PER_PARTITION {
            *n += 1;
            out.push(s);
        }
    }
    out.reverse();
    *queued = out;
}

/// The last record a partition forwarded: its source offset and where it landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Forwarded {
    /// Source offset of the record.
    pub source: i64,
    /// Its offset on the target.
    pub target: i64,
}

/// The offset syncs `(upstream, downstream)` for one acknowledged batch, oldest first, given
/// the partition's previous forwarded batch (`None` after a (re)start), and what becomes
/// the previous one.
///
/// Always the exact pair of the batch's last record, so a group that read whole batches
/// resumes exactly at the next record. Also the exact pair of its first record when the
/// batch starts a new stretch, so offsets inside it translate too (MM2's rule answers
/// `d + 1` for a group past a sync, and nothing below the oldest sync):
/// - the first batch since the hub started (offset 0 of a fresh flow otherwise has no sync
///   at or below it: no checkpoint, and a consumer failing over with
///   `auto.offset.reset=latest` would skip records);
/// - the source went back (`first <= previous source`: resent after a restart, rewound),
///   where the syncs store starts a new history;
/// - the batch did not land right after the previous one on the target (records of another
///   producer, or a re-created topic): the previous sync's `d + 1` is then behind, still
///   safe, but the first pair makes the start of the batch exact.
///
/// A batch that continues the previous one needs no first pair: the previous sync already
/// translates every offset up to this batch's first record to its exact position (a gap in
/// the source offsets, from compaction or transaction markers, changes nothing there).
/// Every pair is where a record really landed, so translation is never ahead.
pub fn batch_syncs(
    previous: Option<Forwarded>,
    m: &Mapping,
) -> (Vec<(i64, i64)>, Option<Forwarded>) {
    if m.records < 1 {
        return (Vec::new(), previous);
    }
    let last = Forwarded {
        source: m.last_source_offset,
        target: m.target_base_offset + i64::from(m.records) - 1,
    };
    let new_stretch = previous
        .is_none_or(|p| m.first_source_offset <= p.source || m.target_base_offset != p.target + 1);
    let mut out = Vec::with_capacity(2);
    if new_stretch && m.first_source_offset < m.last_source_offset {
        out.push((m.first_source_offset, m.target_base_offset));
    }
    out.push((last.source, last.target));
    (out, Some(last))
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
        // Exact pairs for every forwarded batch (see `batch_syncs`), so a group
        // that fails over re-reads at most the batch it stopped in. MM2
        // throttles with offset.lag.max (~100 records of drift); a pair costs
        // ~30 bytes, written in bulk, so kmirror does not.
        let previous = st.forwarded.get(tp).copied();
        let (pairs, last) = batch_syncs(previous, m);
        if let Some(last) = last {
            st.forwarded.insert(tp.clone(), last);
        }
        st.queued
            .extend(pairs.into_iter().map(|(up, down)| OffsetSync {
                topic: tp.0.clone(),
                partition: tp.1,
                upstream_offset: up,
                downstream_offset: down,
            }));
        bound_queued(&mut st.queued);
        drop(st);
        self.notify.notify_one();
    }

    /// Saves `next` as a partition's position now, before anything of it is
    /// forwarded (a start the source's log alone would not reproduce, such
    /// as `auto.offset.reset=latest`: a restart must not move it).
    pub async fn save_start(&self, tp: &Tp, next: i64) -> Result<(), ClientError> {
        {
            let mut st = self.lock();
            st.positions.insert(tp.clone(), next);
            st.dirty.push(tp.clone());
        }
        self.write_progress().await
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
        tracing::debug!(
            syncs = syncs.len(),
            ok = res.is_ok(),
            "offset syncs written"
        );
        self.report("offset-syncs", res.is_ok());
        if res.is_err() {
            // Put them back so the next round retries.
            let mut st = self.lock();
            st.queued.splice(0..0, syncs);
            bound_queued(&mut st.queued);
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
        tracing::debug!(
            positions = positions.len(),
            ok = res.is_ok(),
            "progress saved"
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritten_syncs_stay_bounded_keeping_each_partitions_newest() {
        let sync = |p: i32, n: i64| OffsetSync {
            topic: "t".to_owned(),
            partition: p,
            upstream_offset: n,
            downstream_offset: n,
        };
        let mut q: Vec<OffsetSync> = (0..40_000).flat_map(|n| [sync(0, n), sync(1, n)]).collect();
        bound_queued(&mut q);
        assert_eq!(q.len(), 2 * KEPT_PER_PARTITION);
        let p0: Vec<i64> = q
            .iter()
            .filter(|s| s.partition == 0)
            .map(|s| s.upstream_offset)
            .collect();
        assert_eq!(p0, (40_000 - 64..40_000).collect::<Vec<_>>());
        let mut small: Vec<OffsetSync> = (0..10).map(|n| sync(0, n)).collect();
        bound_queued(&mut small);
        assert_eq!(small.len(), 10);
    }
    use crate::forward::classify::Path;
    use crate::sync::offsets::{PartitionSyncs, SourceOffset, SyncPoint, TargetOffset};

    fn mapping(first: i64, last: i64, target_base: i64, records: i32) -> Mapping {
        Mapping {
            first_source_offset: first,
            last_source_offset: last,
            target_base_offset: target_base,
            records,
            bytes: 0,
            max_timestamp: 0,
            base_timestamp: 0,
            path: Path::PassThrough,
            possible_duplicates: false,
        }
    }

    /// Forwards contiguous batches of `sizes` records from source offset `from`, landing at
    /// `target_at`, through `batch_syncs`, into a syncs store (as the checkpoint task reads
    /// them). Returns the store and each batch's first source offset.
    fn forward(
        syncs: &mut PartitionSyncs,
        previous: &mut Option<Forwarded>,
        sizes: &[i64],
        from: i64,
        target_at: i64,
    ) -> Vec<i64> {
        let (mut up, mut down) = (from, target_at);
        let mut firsts = Vec::new();
        for &n in sizes {
            let m = mapping(up, up + n - 1, down, n as i32);
            let (pairs, last) = batch_syncs(*previous, &m);
            *previous = last;
            for (u, d) in pairs {
                syncs.apply(SyncPoint {
                    upstream: SourceOffset(u),
                    downstream: TargetOffset(d),
                });
            }
            firsts.push(up);
            up += n;
            down += n;
        }
        firsts
    }

    fn tr(p: &PartitionSyncs, g: i64) -> Option<i64> {
        p.translate(SourceOffset(g)).map(|t| t.0)
    }

    #[test]
    fn first_batch_after_a_start_also_syncs_its_first_record() {
        let (pairs, last) = batch_syncs(None, &mapping(0, 9, 0, 10));
        assert_eq!(pairs, [(0, 0), (9, 9)]);
        assert_eq!(
            last,
            Some(Forwarded {
                source: 9,
                target: 9
            })
        );
        // The next batch continues it: only its last record.
        let (pairs, _) = batch_syncs(last, &mapping(10, 14, 10, 5));
        assert_eq!(pairs, [(14, 14)]);
        // A source gap (compaction, markers) with the target contiguous changes nothing.
        let (pairs, _) = batch_syncs(last, &mapping(13, 14, 10, 2));
        assert_eq!(pairs, [(14, 11)]);
        // Other records landed in between on the target: new stretch.
        let (pairs, _) = batch_syncs(last, &mapping(10, 14, 17, 5));
        assert_eq!(pairs, [(10, 17), (14, 21)]);
        // Source resent from 5 after a restart (or rewound): new stretch.
        let (pairs, _) = batch_syncs(last, &mapping(5, 9, 10, 5));
        assert_eq!(pairs, [(5, 10), (9, 14)]);
        // A one-record first batch has one pair.
        let (pairs, _) = batch_syncs(None, &mapping(42, 42, 3, 1));
        assert_eq!(pairs, [(42, 3)]);
        // Nothing for a batch without records.
        assert_eq!(batch_syncs(last, &mapping(10, 9, 10, 0)), (vec![], last));
    }

    #[test]
    fn offsets_inside_the_first_batch_translate_never_ahead() {
        // Empty target at start: exact offsets are the source offsets.
        let mut p = PartitionSyncs::default();
        let mut prev = None;
        let sizes = [10, 10, 25, 1, 4];
        let firsts = forward(&mut p, &mut prev, &sizes, 0, 0);
        let end: i64 = sizes.iter().sum();
        // Offset 0 of a fresh flow: exact.
        assert_eq!(tr(&p, 0), Some(0));
        // Inside the first batch: translatable, never ahead, at most the batch re-read.
        for g in 1..9 {
            assert_eq!(tr(&p, g), Some(1), "g={g}");
        }
        // The last record of every batch has its exact pair.
        for (f, n) in firsts.iter().zip(sizes) {
            assert_eq!(tr(&p, f + n - 1), Some(f + n - 1));
        }
        // Batch boundaries (a group that read whole batches) and the end: the identity.
        for g in firsts.iter().copied().chain([end]) {
            assert_eq!(tr(&p, g), Some(g), "boundary g={g}");
        }
        // Every offset: never ahead, never before the batch holding it.
        for g in 0..=end {
            let t = tr(&p, g).expect("every offset from the start translates");
            assert!(t <= g, "ahead at g={g}: {t}");
            let batch_start = firsts.iter().rev().find(|&&f| f <= g).copied().unwrap_or(0);
            assert!(t >= batch_start, "more than one batch re-read at g={g}");
        }
    }

    #[test]
    fn a_flow_started_mid_log_translates_from_its_first_record() {
        // Progress resumed at source 500; the target already holds 7 foreign records.
        let mut p = PartitionSyncs::default();
        let mut prev = None;
        forward(&mut p, &mut prev, &[20, 5], 500, 7);
        assert_eq!(tr(&p, 499), None, "before the first forwarded record");
        assert_eq!(tr(&p, 500), Some(7));
        assert_eq!(tr(&p, 510), Some(8));
        assert_eq!(tr(&p, 520), Some(27));
        assert_eq!(tr(&p, 525), Some(32));
        // A restart that resends 510.. (progress was behind) starts a new stretch, exact at
        // its first record; offsets before it are not translated into the old copy.
        forward(&mut p, &mut prev, &[10, 5], 510, 32);
        assert_eq!(tr(&p, 510), Some(32));
        assert_eq!(tr(&p, 511), Some(33));
        assert_eq!(tr(&p, 520), Some(42));
        assert_eq!(tr(&p, 525), Some(47));
        assert_eq!(tr(&p, 505), None);
    }
}
