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

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64};
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
    /// `offset-syncs`, `progress`, `checkpoints`, `topic-configs`, `acls`, ...
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

#[derive(Debug, Default)]
struct PartitionState {
    position: i64,
    high_watermark: i64,
    /// When the partition was last fully caught up.
    caught_up_at: Option<SystemTime>,
    /// Timestamp (ms) of the oldest fetched record not yet acknowledged.
    oldest_unacked_ms: Option<i64>,
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
    /// Per-partition lag state.
    partitions: Mutex<BTreeMap<PartitionLabels, PartitionState>>,
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
        // Kafka's metrics.num.samples and metrics.sample.window.ms defaults.
        Self::new(2, Duration::from_secs(30))
    }
}

impl Metrics {
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

    /// A sync leaf ran.
    pub fn sync_ran(&self, source: &str, target: &str, sync: &str, ok: bool) {
        let l = SyncLabels {
            source: source.to_owned(),
            target: target.to_owned(),
            sync: sync.to_owned(),
        };
        if ok {
            self.sync_last_success
                .get_or_create(&l)
                .set(now_ms() as f64 / 1000.0);
        } else {
            self.sync_errors.get_or_create(&l).inc();
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
        for (l, _) in lock(&self.windows).iter() {
            if let Some(f) = flows.get_mut(&format!("{}->{}", l.source, l.target)) {
                f.records += self.record_count.get_or_create(l).get();
                f.bytes += self.byte_count.get_or_create(l).get();
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

fn lag_seconds(st: &PartitionState, lag: i64, now_ms: i64) -> f64 {
    if lag == 0 {
        return 0.0;
    }
    if let Some(ts) = st.oldest_unacked_ms {
        return ((now_ms - ts).max(0)) as f64 / 1000.0;
    }
    st.caught_up_at
        .and_then(|t| t.elapsed().ok())
        .map_or(0.0, |d| d.as_secs_f64())
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
