//! Metric families with MM2's names (`kmirror_` + the seed's name), one method
//! per observable event, and the flow status behind `/status` and `/healthz`.
//!
//! Figures come from batch headers on the pass-through path (record count,
//! first and max timestamp): record age and replication latency are recorded
//! per batch as the range [now − MaxTimestamp, now − BaseTimestamp], and byte
//! figures are batch bytes (MM2 counts value bytes per record).
//!
//! # References
//! - `mm2-reference.md` §8 (MM2's MBeans, tags and how each metric is measured).
//! - Kafka `SampledStat`: min/max/avg/rate over 2 × 30 s samples.

pub mod http;
pub mod window;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::Serialize;

use window::Window;

/// Labels of a remote topic-partition, as MM2's MirrorSourceConnector MBeans.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct PartitionLabels {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// Remote topic name (e.g. `A.orders`).
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

/// Labels of a checkpointed group-partition (MirrorCheckpointConnector).
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct CheckpointLabels {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// Consumer group.
    pub group: String,
    /// Downstream topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

/// Labels of a batch counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BatchLabels {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// `passthrough`, `rebuilt` or `dropped`.
    pub path: String,
    /// Why a batch was rebuilt or dropped (empty for pass-through).
    pub reason: String,
}

/// Labels of a sync leaf's health.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SyncLabels {
    /// Source cluster alias.
    pub source: String,
    /// Target cluster alias.
    pub target: String,
    /// `progress`, `offset-syncs` (data path, written when records were
    /// replicated); `topic-configs`, `acls`, `heartbeats`, `checkpoints`,
    /// `group-offsets` (leaves, one report per timer round).
    pub sync: String,
}

type GaugeF = Gauge<f64, AtomicU64>;

/// (name, type, help) of every registered family.
type Declared = Vec<(String, &'static str, String)>;

/// Registers a family and remembers its name, type and help, so `render`
/// can declare it even before its first series.
fn register(
    r: &mut Registry,
    d: &mut Declared,
    name: &str,
    kind: &'static str,
    help: &str,
    metric: impl prometheus_client::registry::Metric,
) {
    r.register(name, help, metric);
    d.push((name.to_owned(), kind, help.to_owned()));
}

/// The value for `l`, cloning the labels only when the entry is new (the
/// events below run once per batch).
fn entry<'a, L: Ord + Clone, V>(
    map: &'a mut BTreeMap<L, V>,
    l: &L,
    new: impl FnOnce() -> V,
) -> &'a mut V {
    if !map.contains_key(l) {
        map.insert(l.clone(), new());
    }
    match map.get_mut(l) {
        Some(v) => v,
        None => unreachable!("inserted above"),
    }
}

/// The age range (youngest, oldest) in ms of a batch with these timestamps.
fn age_range(base_ts: i64, max_ts: i64) -> (f64, f64) {
    let now = now_ms();
    ((now - max_ts) as f64, (now - base_ts.min(max_ts)) as f64)
}

/// Min/max/avg and last-value gauges of one windowed statistic.
#[derive(Debug, Clone)]
struct Stat<
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
> {
    last: Family<L, GaugeF>,
    min: Family<L, GaugeF>,
    max: Family<L, GaugeF>,
    avg: Family<L, GaugeF>,
}

impl<L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>
    Default for Stat<L>
{
    fn default() -> Self {
        Self {
            last: Family::default(),
            min: Family::default(),
            max: Family::default(),
            avg: Family::default(),
        }
    }
}

impl<L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static>
    Stat<L>
{
    fn register(&self, r: &mut Registry, d: &mut Declared, name: &str, help: &str) {
        register(r, d, name, "gauge", help, self.last.clone());
        register(
            r,
            d,
            &format!("{name}_min"),
            "gauge",
            &format!("{help} (window minimum)"),
            self.min.clone(),
        );
        register(
            r,
            d,
            &format!("{name}_max"),
            "gauge",
            &format!("{help} (window maximum)"),
            self.max.clone(),
        );
        register(
            r,
            d,
            &format!("{name}_avg"),
            "gauge",
            &format!("{help} (window average)"),
            self.avg.clone(),
        );
    }

    fn set(&self, l: &L, w: &Window, now: Instant) {
        let s = w.summary(now);
        self.last.get_or_create(l).set(w.last());
        self.min.get_or_create(l).set(s.min);
        self.max.get_or_create(l).set(s.max);
        self.avg.get_or_create(l).set(s.avg);
    }
}

#[derive(Debug)]
struct PartitionWindows {
    records: Window,
    bytes: Window,
    record_age: Window,
    latency: Window,
}

/// One acknowledged batch, as the data path reports it.
#[derive(Debug, Clone, Copy)]
pub struct AckedBatch<'a> {
    /// Records in the batch.
    pub records: u64,
    /// Batch bytes.
    pub bytes: u64,
    /// First timestamp (batch header).
    pub base_timestamp: i64,
    /// Max timestamp (batch header).
    pub max_timestamp: i64,
    /// `passthrough` or `rebuilt`.
    pub path: &'a str,
    /// Why rebuilt (empty for pass-through).
    pub reason: &'a str,
}

/// Health of one flow, for `/status` and `/healthz`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FlowStatus {
    /// `source->target`.
    pub flow: String,
    /// Both clusters answered the last probe.
    pub connected: bool,
    /// Why not, when not.
    pub reason: Option<String>,
    /// Records acknowledged by the target since start.
    pub records: u64,
    /// Batch bytes acknowledged since start.
    pub bytes: u64,
    /// Total lag in records.
    pub lag_records: i64,
    /// Per partition: (remote topic, partition, lag records, lag seconds).
    pub partitions: Vec<PartitionStatus>,
    /// Scale-out membership, when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupStatus>,
}

/// This process's place in a flow's scale-out group, for `/status`.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct GroupStatus {
    /// Group generation of the current assignment (-1: none).
    pub generation: i32,
    /// This process leads the group (runs discovery, syncs, heartbeats).
    pub leader: bool,
    /// Source partitions assigned to this process.
    pub partitions: usize,
    /// This process runs the flow's checkpoints and group offset sync.
    pub checkpoints: bool,
    /// Settings in which this process's file differs from the leader's
    /// (the leader's decide); empty when they agree.
    pub config_differs_from_leader: Vec<String>,
}

/// One partition's line in `/status`.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionStatus {
    /// Remote topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Next source offset acknowledged.
    pub position: i64,
    /// Source high watermark minus position.
    pub lag_records: i64,
    /// Recovery point: seconds of source data not yet on the target.
    pub lag_seconds: f64,
}

#[derive(Debug)]
struct PartitionState {
    position: i64,
    high_watermark: i64,
    /// When the partition was last fully caught up.
    caught_up_at: Option<SystemTime>,
    /// Timestamp (ms) of the oldest fetched record not yet acknowledged.
    oldest_unacked_ms: Option<i64>,
    /// When this process first ran the partition: the recovery point's floor
    /// until it is first caught up (records behind the position at start are
    /// at least that old).
    started_at: SystemTime,
}

impl Default for PartitionState {
    fn default() -> Self {
        Self {
            position: 0,
            high_watermark: 0,
            caught_up_at: None,
            oldest_unacked_ms: None,
            started_at: SystemTime::now(),
        }
    }
}

/// Kafka's `metrics.num.samples` default.
pub const DEFAULT_NUM_SAMPLES: usize = 2;
/// Kafka's `metrics.sample.window.ms` default.
pub const DEFAULT_SAMPLE_WINDOW: Duration = Duration::from_secs(30);

/// A metric-window setting that is not a usable number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsConfigError {
    /// Not a whole number of at least 1 (in Java's `int` range for
    /// `metrics.num.samples`, `long` for `metrics.sample.window.ms`).
    #[error("{key} = {value}: expected a whole number of at least 1")]
    NotPositive {
        /// The key.
        key: &'static str,
        /// Its value as written.
        value: String,
    },
}

/// `metrics.num.samples` and `metrics.sample.window.ms` as `setting` returns
/// them (kmirror reads the file's top-level keys), else Kafka's defaults
/// (2 × 30000 ms): the window behind every min/max/avg and rate.
pub fn window_settings(
    setting: impl Fn(&str) -> Option<String>,
) -> Result<(usize, Duration), MetricsConfigError> {
    let read = |key: &'static str| -> Result<Option<i64>, MetricsConfigError> {
        let Some(value) = setting(key) else {
            return Ok(None);
        };
        let max = if key == "metrics.num.samples" {
            i64::from(i32::MAX)
        } else {
            i64::MAX
        };
        match value.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
            _ => Err(MetricsConfigError::NotPositive { key, value }),
        }
    };
    let samples = read("metrics.num.samples")?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_NUM_SAMPLES);
    let window = read("metrics.sample.window.ms")?
        .and_then(|n| u64::try_from(n).ok())
        .map_or(DEFAULT_SAMPLE_WINDOW, Duration::from_millis);
    Ok((samples, window))
}

/// A running sync's series (`kmirror_sync_last_success_timestamp_seconds`,
/// `kmirror_sync_errors_total`): created at 0 ("never succeeded", "no
/// error") with the handle, so alerts see the first error and a sync that
/// never succeeds; the gauge is removed when the last handle for these labels
/// is dropped (the sync stopped here, e.g. leadership moved to another
/// process), so a stopped sync does not turn stale.
#[derive(Debug)]
pub struct SyncHandle {
    metrics: Arc<Metrics>,
    labels: SyncLabels,
}

impl SyncHandle {
    /// One round of the sync ended: `ok` when nothing in it failed.
    pub fn ran(&self, ok: bool) {
        self.metrics.sync_ran_labels(&self.labels, ok);
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        self.metrics.sync_stopped(&self.labels);
    }
}

/// Every metric and status of the process.
#[derive(Debug)]
pub struct Metrics {
    /// The Prometheus registry (all families declared at start-up).
    registry: Registry,
    record_count: Family<PartitionLabels, Counter>,
    byte_count: Family<PartitionLabels, Counter>,
    record_rate: Family<PartitionLabels, GaugeF>,
    byte_rate: Family<PartitionLabels, GaugeF>,
    record_age: Stat<PartitionLabels>,
    latency: Stat<PartitionLabels>,
    checkpoint_latency: Stat<CheckpointLabels>,
    lag_records: Family<PartitionLabels, Gauge<i64, AtomicI64>>,
    lag_seconds: Family<PartitionLabels, GaugeF>,
    batches: Family<BatchLabels, Counter>,
    lost: Family<PartitionLabels, Counter>,
    sync_last_success: Family<SyncLabels, GaugeF>,
    sync_errors: Family<SyncLabels, Counter>,
    /// Windowed figures per partition.
    windows: Mutex<BTreeMap<PartitionLabels, PartitionWindows>>,
    /// Windowed checkpoint latency.
    checkpoint_windows: Mutex<BTreeMap<CheckpointLabels, Window>>,
    /// Per-partition lag state of the partitions this process runs.
    partitions: Mutex<BTreeMap<PartitionLabels, PartitionState>>,
    /// Partitions this process stopped running at least once: their
    /// counters stay and still count in `/status`.
    stopped: Mutex<BTreeSet<PartitionLabels>>,
    /// Live [`SyncHandle`]s per sync.
    sync_handles: Mutex<HashMap<SyncLabels, usize>>,
    /// Flow health by name.
    flows: Mutex<BTreeMap<String, FlowStatus>>,
    /// `metrics.num.samples`.
    num_samples: usize,
    /// `metrics.sample.window.ms`.
    sample_window: Duration,
    /// (name, type, help) of every family, to declare empty ones too.
    declared: Declared,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(DEFAULT_NUM_SAMPLES, DEFAULT_SAMPLE_WINDOW)
    }
}

impl Metrics {
    /// Metrics whose window is `metrics.num.samples` × `metrics.sample.window.ms`
    /// as `setting` returns them ([`window_settings`]).
    pub fn from_settings(
        setting: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, MetricsConfigError> {
        let (num_samples, sample_window) = window_settings(setting)?;
        Ok(Self::new(num_samples, sample_window))
    }

    /// The window: (`metrics.num.samples`, `metrics.sample.window.ms`).
    pub fn window_config(&self) -> (usize, Duration) {
        (self.num_samples, self.sample_window)
    }

    /// Declares every family so a fresh process already shows HELP and TYPE lines.
    pub fn new(num_samples: usize, sample_window: Duration) -> Self {
        let mut registry = Registry::default();
        let m = Self {
            registry: Registry::default(),
            record_count: Family::default(),
            byte_count: Family::default(),
            record_rate: Family::default(),
            byte_rate: Family::default(),
            record_age: Stat::default(),
            latency: Stat::default(),
            checkpoint_latency: Stat::default(),
            lag_records: Family::default(),
            lag_seconds: Family::default(),
            batches: Family::default(),
            lost: Family::default(),
            sync_last_success: Family::default(),
            sync_errors: Family::default(),
            windows: Mutex::default(),
            checkpoint_windows: Mutex::default(),
            partitions: Mutex::default(),
            stopped: Mutex::default(),
            sync_handles: Mutex::default(),
            flows: Mutex::default(),
            num_samples,
            sample_window,
            declared: Vec::new(),
        };
        let mut declared = Declared::new();
        let (r, d) = (&mut registry, &mut declared);
        register(
            r,
            d,
            "kmirror_record_count",
            "counter",
            "Records acknowledged by the target (MM2 record-count)",
            m.record_count.clone(),
        );
        register(
            r,
            d,
            "kmirror_record_rate",
            "gauge",
            "Records per second acknowledged over the metric window (MM2 record-rate)",
            m.record_rate.clone(),
        );
        register(
            r,
            d,
            "kmirror_byte_count",
            "counter",
            "Batch bytes acknowledged by the target (MM2 byte-count counts value bytes)",
            m.byte_count.clone(),
        );
        register(
            r,
            d,
            "kmirror_byte_rate",
            "gauge",
            "Batch bytes per second over the metric window (MM2 byte-rate)",
            m.byte_rate.clone(),
        );
        m.record_age.register(
            r,
            d,
            "kmirror_record_age_ms",
            "Age of records when fetched, ms (MM2 record-age-ms)",
        );
        m.latency.register(
            r,
            d,
            "kmirror_replication_latency_ms",
            "Record timestamp to target acknowledgement, ms (MM2 replication-latency-ms)",
        );
        m.checkpoint_latency.register(
            r,
            d,
            "kmirror_checkpoint_latency_ms",
            "Checkpoint record timestamp to target acknowledgement, ms (MM2 checkpoint-latency-ms)",
        );
        register(
            r,
            d,
            "kmirror_lag_records",
            "gauge",
            "Source high watermark minus replicated position",
            m.lag_records.clone(),
        );
        register(
            r,
            d,
            "kmirror_lag_seconds",
            "gauge",
            "Age of the oldest record not yet acknowledged by the target, or time since last caught up (recovery point)",
            m.lag_seconds.clone(),
        );
        register(
            r,
            d,
            "kmirror_batches",
            "counter",
            "Batches by path: passthrough stays zero-copy; rebuilt and dropped say why",
            m.batches.clone(),
        );
        register(
            r,
            d,
            "kmirror_upstream_lost_records",
            "counter",
            "Source records lost before replication (retention, re-created or truncated topic)",
            m.lost.clone(),
        );
        register(
            r,
            d,
            "kmirror_sync_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful run of each sync",
            m.sync_last_success.clone(),
        );
        register(
            r,
            d,
            "kmirror_sync_errors",
            "counter",
            "Failed runs of each sync",
            m.sync_errors.clone(),
        );
        Self {
            registry,
            declared,
            ..m
        }
    }

    fn window(&self) -> Window {
        Window::new(self.num_samples, self.sample_window)
    }

    /// A batch was fetched (record age at poll time).
    pub fn batch_fetched(&self, l: &PartitionLabels, records: u64, base_ts: i64, max_ts: i64) {
        let (young, old) = age_range(base_ts, max_ts);
        let mut w = lock(&self.windows);
        let e = entry(&mut w, l, || self.new_windows());
        e.record_age.record_n(
            (young + old) / 2.0 * records as f64,
            records,
            young,
            old,
            Instant::now(),
        );
        drop(w);
        let mut p = lock(&self.partitions);
        let st = entry(&mut p, l, PartitionState::default);
        st.oldest_unacked_ms.get_or_insert(base_ts.min(max_ts));
    }

    fn new_windows(&self) -> PartitionWindows {
        PartitionWindows {
            records: self.window(),
            bytes: self.window(),
            record_age: self.window(),
            latency: self.window(),
        }
    }

    /// A batch was acknowledged by the target.
    pub fn batch_acked(&self, l: &PartitionLabels, b: &AckedBatch<'_>) {
        let AckedBatch {
            records,
            bytes,
            base_timestamp: base_ts,
            max_timestamp: max_ts,
            path,
            reason,
        } = *b;
        entry(&mut lock(&self.partitions), l, PartitionState::default);
        self.record_count.get_or_create(l).inc_by(records);
        self.byte_count.get_or_create(l).inc_by(bytes);
        self.count_batch(&l.source, &l.target, path, reason);
        let (young, old) = age_range(base_ts, max_ts);
        let t = Instant::now();
        let mut w = lock(&self.windows);
        let e = entry(&mut w, l, || self.new_windows());
        e.records.record_n(records as f64, records, 0.0, 0.0, t);
        e.bytes.record_n(bytes as f64, 1, 0.0, 0.0, t);
        e.latency
            .record_n((young + old) / 2.0 * records as f64, records, young, old, t);
    }

    /// A batch was dropped (control, aborted, empty, already forwarded).
    pub fn count_batch(&self, source: &str, target: &str, path: &str, reason: &str) {
        self.batches
            .get_or_create(&BatchLabels {
                source: source.to_owned(),
                target: target.to_owned(),
                path: path.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// The partition's acknowledged position and the source high watermark.
    pub fn position(
        &self,
        l: &PartitionLabels,
        position: i64,
        high_watermark: i64,
        next_unacked_ts: Option<i64>,
    ) {
        let mut p = lock(&self.partitions);
        let st = entry(&mut p, l, PartitionState::default);
        st.position = position;
        st.high_watermark = st.high_watermark.max(high_watermark);
        st.oldest_unacked_ms = next_unacked_ts;
        if st.position >= st.high_watermark {
            st.caught_up_at = Some(SystemTime::now());
        }
    }

    /// The engine (re)started the partition at `position`. Its lag state is
    /// reset (a re-created or truncated source log has another high
    /// watermark); when it was last caught up and when this process first ran
    /// it are kept. The lost-records series and the series of `syncs` (the
    /// data path's `progress`, `offset-syncs`) are created at 0, so
    /// Prometheus' `increase()` sees their first change.
    pub fn partition_started(&self, l: &PartitionLabels, position: i64, syncs: &[&str]) {
        let mut p = lock(&self.partitions);
        let st = entry(&mut p, l, PartitionState::default);
        *st = PartitionState {
            position,
            caught_up_at: st.caught_up_at,
            started_at: st.started_at,
            ..PartitionState::default()
        };
        drop(p);
        drop(self.lost.get_or_create(l));
        for sync in syncs {
            self.sync_declared(&SyncLabels {
                source: l.source.clone(),
                target: l.target.clone(),
                sync: (*sync).to_owned(),
            });
        }
    }

    /// This process no longer runs the partition (scale-out handed it to
    /// another): its gauges (lag, rates, ages, latencies) and `/status` line
    /// go, so sums over processes count each partition once; its counters
    /// stay, as they count what this process did.
    pub fn partition_stopped(&self, l: &PartitionLabels) {
        lock(&self.partitions).remove(l);
        lock(&self.windows).remove(l);
        lock(&self.stopped).insert(l.clone());
        for f in [&self.record_rate, &self.byte_rate, &self.lag_seconds] {
            f.remove(l);
        }
        self.lag_records.remove(l);
        for s in [&self.record_age, &self.latency] {
            for f in [&s.last, &s.min, &s.max, &s.avg] {
                f.remove(l);
            }
        }
    }

    /// The source's log end offset as a ListOffsets read it (the integrity
    /// check), so lag keeps growing while fetching is paused (target down,
    /// buffers full). Ignored for a partition not running here.
    pub fn high_watermark(&self, l: &PartitionLabels, high_watermark: i64) {
        let mut p = lock(&self.partitions);
        if let Some(st) = p.get_mut(l) {
            st.high_watermark = st.high_watermark.max(high_watermark);
            if st.position >= st.high_watermark {
                st.caught_up_at = Some(SystemTime::now());
            }
        }
    }

    /// Source records were lost before replication.
    pub fn lost(&self, l: &PartitionLabels, records: u64) {
        self.lost.get_or_create(l).inc_by(records);
    }

    /// A checkpoint was acknowledged; `timestamp_ms` is the record's timestamp.
    pub fn checkpoint_acked(&self, l: &CheckpointLabels, timestamp_ms: i64) {
        let v = (now_ms() - timestamp_ms) as f64;
        lock(&self.checkpoint_windows)
            .entry(l.clone())
            .or_insert_with(|| self.window())
            .record(v, Instant::now());
    }

    /// A sync ran: `ok` sets its last-success time, else counts an error.
    /// Both series exist afterwards (last success 0 = never).
    pub fn sync_ran(&self, source: &str, target: &str, sync: &str, ok: bool) {
        self.sync_ran_labels(
            &SyncLabels {
                source: source.to_owned(),
                target: target.to_owned(),
                sync: sync.to_owned(),
            },
            ok,
        );
    }

    fn sync_ran_labels(&self, l: &SyncLabels, ok: bool) {
        self.sync_declared(l);
        if ok {
            self.sync_last_success
                .get_or_create(l)
                .set(now_ms() as f64 / 1000.0);
        } else {
            self.sync_errors.get_or_create(l).inc();
        }
    }

    /// Creates a sync's series at 0 unless they exist.
    fn sync_declared(&self, l: &SyncLabels) {
        if self.sync_last_success.get(l).is_none() {
            drop(self.sync_last_success.get_or_create(l));
        }
        if self.sync_errors.get(l).is_none() {
            drop(self.sync_errors.get_or_create(l));
        }
    }

    /// A sync starts running here; see [`SyncHandle`].
    pub fn sync_started(self: &Arc<Self>, source: &str, target: &str, sync: &str) -> SyncHandle {
        let labels = SyncLabels {
            source: source.to_owned(),
            target: target.to_owned(),
            sync: sync.to_owned(),
        };
        *lock(&self.sync_handles).entry(labels.clone()).or_default() += 1;
        self.sync_declared(&labels);
        SyncHandle {
            metrics: Arc::clone(self),
            labels,
        }
    }

    fn sync_stopped(&self, l: &SyncLabels) {
        let mut h = lock(&self.sync_handles);
        let last = match h.get_mut(l) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            _ => true,
        };
        if last {
            h.remove(l);
            self.sync_last_success.remove(l);
        }
    }

    /// Updates a flow's health.
    pub fn flow_health(&self, flow: &str, connected: bool, reason: Option<String>) {
        let mut f = lock(&self.flows);
        let st = f.entry(flow.to_owned()).or_default();
        st.flow = flow.to_owned();
        st.connected = connected;
        st.reason = reason;
    }

    /// Records a flow's scale-out membership for `/status`.
    pub fn flow_group(&self, flow: &str, group: GroupStatus) {
        lock(&self.flows).entry(flow.to_owned()).or_default().group = Some(group);
    }

    /// Adds a flow that is not running yet (so `/healthz` waits for it).
    pub fn flow_registered(&self, flow: &str) {
        self.flow_health(flow, false, Some("starting".into()));
    }

    /// Brings the windowed gauges up to date (called before each scrape).
    fn refresh(&self) {
        let now = Instant::now();
        for (l, w) in lock(&self.windows).iter() {
            self.record_rate
                .get_or_create(l)
                .set(w.records.summary(now).rate);
            self.byte_rate
                .get_or_create(l)
                .set(w.bytes.summary(now).rate);
            self.record_age.set(l, &w.record_age, now);
            self.latency.set(l, &w.latency, now);
        }
        for (l, w) in lock(&self.checkpoint_windows).iter() {
            self.checkpoint_latency.set(l, w, now);
        }
        let now_ms = now_ms();
        for (l, st) in lock(&self.partitions).iter() {
            let lag = (st.high_watermark - st.position).max(0);
            self.lag_records.get_or_create(l).set(lag);
            self.lag_seconds
                .get_or_create(l)
                .set(lag_seconds(st, lag, now_ms));
        }
    }

    /// The Prometheus/OpenMetrics text of every family.
    pub fn render(&self) -> String {
        self.refresh();
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        // prometheus-client leaves out families without series; declare them
        // anyway so dashboards and alerts work on a fresh process.
        let mut missing = String::new();
        for (name, kind, help) in &self.declared {
            if !out.contains(&format!("# TYPE {name} ")) {
                missing.push_str(&format!("# HELP {name} {help}.\n# TYPE {name} {kind}\n"));
            }
        }
        match out.rfind("# EOF") {
            Some(i) => out.insert_str(i, &missing),
            None => out.push_str(&missing),
        }
        out
    }

    /// The status of every flow with per-partition lag.
    /// Batch bytes the target acknowledged for one partition since start
    /// (scale-out members report their load from it).
    pub fn partition_bytes(&self, l: &PartitionLabels) -> u64 {
        self.byte_count.get(l).map_or(0, |c| c.get())
    }

    pub fn status(&self) -> Vec<FlowStatus> {
        let now_ms = now_ms();
        let mut flows: BTreeMap<String, FlowStatus> = lock(&self.flows).clone();
        for (l, st) in lock(&self.partitions).iter() {
            let name = format!("{}->{}", l.source, l.target);
            let f = flows.entry(name.clone()).or_insert_with(|| FlowStatus {
                flow: name,
                ..FlowStatus::default()
            });
            let lag = (st.high_watermark - st.position).max(0);
            f.lag_records += lag;
            f.partitions.push(PartitionStatus {
                topic: l.topic.clone(),
                partition: l.partition,
                position: st.position,
                lag_records: lag,
                lag_seconds: lag_seconds(st, lag, now_ms),
            });
        }
        let counted: BTreeSet<PartitionLabels> = lock(&self.windows)
            .keys()
            .chain(lock(&self.stopped).iter())
            .cloned()
            .collect();
        for l in &counted {
            if let Some(f) = flows.get_mut(&format!("{}->{}", l.source, l.target)) {
                f.records += self.record_count.get(l).map_or(0, |c| c.get());
                f.bytes += self.byte_count.get(l).map_or(0, |c| c.get());
            }
        }
        flows.into_values().collect()
    }

    /// `None` when every flow is connected, else the reasons.
    pub fn unhealthy(&self) -> Option<String> {
        let f = lock(&self.flows);
        let bad: Vec<String> = f
            .values()
            .filter(|s| !s.connected)
            .map(|s| format!("{}: {}", s.flow, s.reason.clone().unwrap_or_default()))
            .collect();
        if f.is_empty() {
            return Some("no flow running".into());
        }
        (!bad.is_empty()).then(|| bad.join("; "))
    }
}

/// Smallest recovery point shown while records are behind (1 ms): lag in
/// seconds is never 0 while lag in records is not.
const MIN_LAG_SECONDS: f64 = 0.001;

/// The recovery point: the age of the oldest fetched record not yet
/// acknowledged; before such a record is fetched, the time since the
/// partition was last caught up, or, if it never was, since this process
/// first ran it (a lower bound: those records are at least that old).
fn lag_seconds(st: &PartitionState, lag: i64, now_ms: i64) -> f64 {
    if lag == 0 {
        return 0.0;
    }
    let secs = match st.oldest_unacked_ms {
        Some(ts) => (now_ms - ts).max(0) as f64 / 1000.0,
        None => st
            .caught_up_at
            .unwrap_or(st.started_at)
            .elapsed()
            .map_or(0.0, |d| d.as_secs_f64()),
    };
    secs.max(MIN_LAG_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> PartitionLabels {
        PartitionLabels {
            source: "A".into(),
            target: "B".into(),
            topic: "A.orders".into(),
            partition: 0,
        }
    }

    #[test]
    fn every_family_is_declared_before_any_series() {
        let text = Metrics::default().render();
        for name in [
            "kmirror_record_count",
            "kmirror_record_rate",
            "kmirror_byte_count",
            "kmirror_byte_rate",
            "kmirror_record_age_ms",
            "kmirror_record_age_ms_min",
            "kmirror_record_age_ms_max",
            "kmirror_record_age_ms_avg",
            "kmirror_replication_latency_ms",
            "kmirror_replication_latency_ms_avg",
            "kmirror_checkpoint_latency_ms_max",
            "kmirror_lag_records",
            "kmirror_lag_seconds",
            "kmirror_batches",
            "kmirror_upstream_lost_records",
            "kmirror_sync_last_success_timestamp_seconds",
            "kmirror_sync_errors",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing:\n{text}"
            );
        }
    }

    #[test]
    fn acked_batches_count_records_with_total_suffix() {
        let m = Metrics::default();
        let now = now_ms();
        let b = |records, bytes, base_timestamp, max_timestamp, path, reason| AckedBatch {
            records,
            bytes,
            base_timestamp,
            max_timestamp,
            path,
            reason,
        };
        m.batch_acked(
            &labels(),
            &b(10, 1000, now - 50, now - 10, "passthrough", ""),
        );
        m.batch_acked(&labels(), &b(5, 500, now - 5, now, "rebuilt", "renumbered"));
        let text = m.render();
        assert!(
            text.contains(r#"kmirror_record_count_total{source="A",target="B",topic="A.orders",partition="0"} 15"#),
            "{text}"
        );
        assert!(text.contains(
            r#"kmirror_batches_total{source="A",target="B",path="rebuilt",reason="renumbered"} 1"#
        ));
        let s = m.status();
        assert_eq!(s[0].records, 15);
    }

    #[test]
    fn lag_is_high_watermark_minus_position_and_zero_when_caught_up() {
        let m = Metrics::default();
        m.position(&labels(), 90, 100, Some(now_ms() - 2_000));
        let s = m.status();
        assert_eq!(s[0].partitions[0].lag_records, 10);
        assert!(s[0].partitions[0].lag_seconds >= 1.9);
        m.position(&labels(), 100, 100, None);
        assert_eq!(m.status()[0].partitions[0].lag_seconds, 0.0);
    }

    fn series(text: &str, name: &str, labels: &str) -> Option<f64> {
        let prefix = format!("{name}{{{labels}}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.parse().ok())
    }

    const A_ORDERS_0: &str = r#"source="A",target="B",topic="A.orders",partition="0""#;

    #[test]
    fn window_comes_from_the_settings_with_kafka_defaults() {
        let none = |_: &str| None;
        assert_eq!(
            window_settings(none),
            Ok((2, Duration::from_millis(30_000)))
        );
        let set = |k: &str| match k {
            "metrics.num.samples" => Some("4".to_owned()),
            "metrics.sample.window.ms" => Some(" 1500".to_owned()),
            _ => None,
        };
        assert_eq!(window_settings(set), Ok((4, Duration::from_millis(1500))));
        assert_eq!(
            Metrics::from_settings(set).map(|m| m.window_config()),
            Ok((4, Duration::from_millis(1500)))
        );
        for (key, bad) in [
            ("metrics.num.samples", "0"),
            ("metrics.num.samples", "2147483648"),
            ("metrics.num.samples", "two"),
            ("metrics.sample.window.ms", "-1"),
            ("metrics.sample.window.ms", ""),
        ] {
            let e = window_settings(|k: &str| (k == key).then(|| bad.to_owned()));
            assert_eq!(
                e,
                Err(MetricsConfigError::NotPositive {
                    key,
                    value: bad.to_owned()
                }),
                "{key} = {bad}"
            );
        }
        let e = window_settings(|k: &str| (k == "metrics.num.samples").then(|| "0".to_owned()));
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err("metrics.num.samples = 0: expected a whole number of at least 1".to_owned())
        );
    }

    #[test]
    fn a_restarted_partition_forgets_the_old_high_watermark() {
        // Re-created source topic: the old log reached 30, the new one holds 20.
        let m = Metrics::default();
        m.partition_started(&labels(), 0, &[]);
        m.position(&labels(), 30, 30, None);
        m.partition_started(&labels(), 0, &[]);
        m.position(&labels(), 20, 20, None);
        let p = &m.status()[0].partitions[0];
        assert_eq!((p.position, p.lag_records, p.lag_seconds), (20, 0, 0.0));
    }

    #[test]
    fn the_integrity_checks_log_end_keeps_lag_growing_while_fetching_is_paused() {
        let m = Metrics::default();
        m.partition_started(&labels(), 0, &[]);
        m.position(&labels(), 10, 10, None);
        assert_eq!(m.status()[0].partitions[0].lag_records, 0);
        // Target down, buffers full: no chunk arrives, ListOffsets says 50.
        m.high_watermark(&labels(), 50);
        assert_eq!(m.status()[0].partitions[0].lag_records, 40);
        // An older (lower) answer never hides the lag.
        m.high_watermark(&labels(), 45);
        assert_eq!(m.status()[0].partitions[0].lag_records, 40);
        let text = m.render();
        assert_eq!(series(&text, "kmirror_lag_records", A_ORDERS_0), Some(40.0));
        // Not running here: ignored, nothing created.
        let other = PartitionLabels {
            partition: 7,
            ..labels()
        };
        m.high_watermark(&other, 50);
        assert_eq!(m.status()[0].partitions.len(), 1);
    }

    #[test]
    fn lag_seconds_is_not_zero_while_records_are_behind() {
        let m = Metrics::default();
        m.partition_started(&labels(), 0, &[]);
        // Never caught up, nothing in flight: falls back to the start time.
        m.high_watermark(&labels(), 100);
        std::thread::sleep(Duration::from_millis(20));
        let p = &m.status()[0].partitions[0];
        assert_eq!(p.lag_records, 100);
        assert!(p.lag_seconds >= 0.02, "{}", p.lag_seconds);
        // Acknowledged part of it, nothing in flight now: still behind.
        m.position(&labels(), 60, 100, None);
        assert!(m.status()[0].partitions[0].lag_seconds >= 0.02);
        // Record timestamps ahead of this clock still give a non-zero lag.
        m.position(&labels(), 60, 100, Some(now_ms() + 60_000));
        assert!(m.status()[0].partitions[0].lag_seconds > 0.0);
        // Caught up: 0.
        m.position(&labels(), 100, 100, None);
        assert_eq!(m.status()[0].partitions[0].lag_seconds, 0.0);
    }

    #[test]
    fn a_started_partition_and_its_syncs_show_zero_series_at_once() {
        let m = Metrics::default();
        m.partition_started(&labels(), 5, &["progress", "offset-syncs"]);
        let text = m.render();
        assert_eq!(
            series(&text, "kmirror_upstream_lost_records_total", A_ORDERS_0),
            Some(0.0),
            "{text}"
        );
        for sync in ["progress", "offset-syncs"] {
            let l = format!(r#"source="A",target="B",sync="{sync}""#);
            assert_eq!(
                series(&text, "kmirror_sync_last_success_timestamp_seconds", &l),
                Some(0.0),
                "{text}"
            );
            assert_eq!(series(&text, "kmirror_sync_errors_total", &l), Some(0.0));
        }
        assert_eq!(m.status()[0].partitions[0].position, 5);
        // A loss afterwards is a change Prometheus sees; a restart keeps the count.
        m.lost(&labels(), 3);
        m.partition_started(&labels(), 9, &[]);
        assert_eq!(
            series(
                &m.render(),
                "kmirror_upstream_lost_records_total",
                A_ORDERS_0
            ),
            Some(3.0)
        );
    }

    #[test]
    fn a_partition_handed_away_leaves_its_counters_only() {
        let m = Metrics::default();
        let now = now_ms();
        m.flow_registered("A->B");
        m.partition_started(&labels(), 0, &[]);
        m.batch_fetched(&labels(), 10, now - 10, now);
        m.batch_acked(
            &labels(),
            &AckedBatch {
                records: 10,
                bytes: 100,
                base_timestamp: now - 10,
                max_timestamp: now,
                path: "passthrough",
                reason: "",
            },
        );
        m.position(&labels(), 10, 50, None);
        let text = m.render();
        assert_eq!(series(&text, "kmirror_lag_records", A_ORDERS_0), Some(40.0));
        m.partition_stopped(&labels());
        let text = m.render();
        for gauge in [
            "kmirror_lag_records",
            "kmirror_lag_seconds",
            "kmirror_record_rate",
            "kmirror_byte_rate",
            "kmirror_record_age_ms",
            "kmirror_record_age_ms_max",
            "kmirror_replication_latency_ms_avg",
        ] {
            assert_eq!(series(&text, gauge, A_ORDERS_0), None, "{gauge}:\n{text}");
        }
        assert_eq!(
            series(&text, "kmirror_record_count_total", A_ORDERS_0),
            Some(10.0)
        );
        let s = m.status();
        assert!(s[0].partitions.is_empty());
        assert_eq!((s[0].records, s[0].bytes, s[0].lag_records), (10, 100, 0));
        // Handed back later: runs again from its saved position.
        m.partition_started(&labels(), 10, &[]);
        assert_eq!(m.status()[0].partitions[0].position, 10);
        assert_eq!(m.status()[0].records, 10);
    }

    #[test]
    fn a_sync_handle_declares_its_series_and_removes_the_gauge_when_the_last_one_drops() {
        let m = Arc::new(Metrics::default());
        let l = r#"source="A",target="B",sync="heartbeats""#;
        let h = m.sync_started("A", "B", "heartbeats");
        let text = m.render();
        assert_eq!(
            series(&text, "kmirror_sync_last_success_timestamp_seconds", l),
            Some(0.0),
            "never succeeded yet:\n{text}"
        );
        assert_eq!(series(&text, "kmirror_sync_errors_total", l), Some(0.0));
        h.ran(false);
        assert_eq!(
            series(&m.render(), "kmirror_sync_errors_total", l),
            Some(1.0)
        );
        h.ran(true);
        let last = series(
            &m.render(),
            "kmirror_sync_last_success_timestamp_seconds",
            l,
        );
        assert!(last.is_some_and(|t| t > 1.6e9), "{last:?}");
        // A second handle (a leader that came back before the old task ended)
        // keeps the series alive when the first drops.
        let h2 = m.sync_started("A", "B", "heartbeats");
        drop(h);
        assert!(
            series(
                &m.render(),
                "kmirror_sync_last_success_timestamp_seconds",
                l
            )
            .is_some()
        );
        drop(h2);
        let text = m.render();
        assert_eq!(
            series(&text, "kmirror_sync_last_success_timestamp_seconds", l),
            None
        );
        assert_eq!(series(&text, "kmirror_sync_errors_total", l), Some(1.0));
    }

    #[test]
    fn sync_ran_creates_both_series() {
        let m = Metrics::default();
        m.sync_ran("A", "B", "progress", true);
        let text = m.render();
        assert_eq!(
            series(
                &text,
                "kmirror_sync_errors_total",
                r#"source="A",target="B",sync="progress""#
            ),
            Some(0.0)
        );
    }

    #[test]
    fn healthz_needs_every_flow_connected() {
        let m = Metrics::default();
        assert!(m.unhealthy().is_some());
        m.flow_registered("A->B");
        assert!(m.unhealthy().unwrap().contains("starting"));
        m.flow_health("A->B", true, None);
        assert!(m.unhealthy().is_none());
    }
}
