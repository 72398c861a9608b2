//! Consumer-group failover: source offsets translated through MM2 offset syncs (pure functions),
//! checkpoints written to `<source>.checkpoints.internal` on the target, and group offset sync.
//!
//! # Translation
//!
//! The data path writes offset syncs `(u, d)`: "source record `u` was written at target offset
//! `d`", taken from produce acknowledgements, so every sync is exact: one for the last record of
//! every forwarded batch, and one for the first record of the first batch a partition forwards
//! after a (re)start or after a discontinuity (`forward::progress::batch_syncs`). A group's
//! committed source offset `g` (the next record it would read) is translated with MM2's rule
//! (`OffsetSyncStore.translateDownstream`, Kafka 3.5+): take the newest sync with `u <= g`; if
//! `u == g` the answer is `d`, otherwise `d + 1`. No sync at or below `g` means no answer (no
//! checkpoint). The answer is never ahead of the record the group would read next, whatever
//! subset of syncs is known: records `u+1 ..` land after `d`.
//!
//! # Re-read bound
//!
//! A consumer resuming from a translated offset re-reads the records between the sync used and
//! `g`: at most `g - u - 1` records, where `u` is the newest sync at or below `g`.
//!
//! * With a sync for every forwarded batch, that is **less than one forwarded batch** (a batch
//!   the data path coalesced or split counts as the forwarded one), and the translation is
//!   **exact at batch boundaries**: a group that stopped after a whole batch resumes at exactly
//!   the next record; on a target topic that was empty at start, at exactly `g`. Offsets inside
//!   a batch translate to its first record (`+1` inside the first batch of a stretch). From the
//!   first forwarded record on, every offset translates.
//! * Memory is bounded: at most [`MAX_SYNCS_PER_PARTITION`] syncs per partition. The newest
//!   [`DENSE_SYNCS`] are all kept, so the one-batch bound holds for a group within the newest
//!   `DENSE_SYNCS - 1` batches; older syncs are thinned so that gaps grow with the distance from the
//!   head (roughly geometrically, like MM2's 64 exponentially spaced slots), and the oldest
//!   sync is kept so the start of the stretch stays translatable. A group far behind re-reads
//!   a fraction of its lag instead of one batch.
//! * Syncs are lost only by restarts of the checkpoint task meeting a compacted offset-syncs
//!   topic (its key is the partition, so compaction may keep only the newest), which makes
//!   older offsets coarser or untranslatable, never ahead.
//! * After a downstream or upstream rewind (topic truncated or re-created, records resent after
//!   a restart) older syncs are dropped, so groups behind the rewind get no checkpoint rather
//!   than a wrong one.
//!
//! # Group offset sync
//!
//! With `sync.group.offsets.enabled`, the latest checkpoints are committed on the target for
//! groups that are absent there (`Dead`) or `Empty`; a group in any other state has members
//! and is left alone (Kafka would refuse the commit with `UNKNOWN_MEMBER_ID` anyway). For an
//! `Empty` group, a partition whose target offset is already at or past the checkpoint is
//! skipped, so a target offset is never moved backwards (MM2's rule). Like MM2, a consumer that
//! joins between the check and the commit is protected only by the broker's refusal.
//!
//! # References
//! - `mm2-reference.md` §2.2 (checkpoint bytes), §6.2–§6.5 (OffsetSyncStore, translation,
//!   checkpoint emission, group offset sync), §8 (`checkpoint-latency-ms`), §4.1 (filters).
//! - Kafka `OffsetSyncStore.translateDownstream`, `MirrorCheckpointTask` (`checkpoint`,
//!   `checkpointsForGroup`, `renameTopicPartition`, `syncGroupOffset`, `refreshIdleConsumerGroupOffset`),
//!   `CheckpointStore`, `MirrorClient.remoteConsumerOffsets`; KAFKA-12468, KAFKA-14797
//!   (conservative translation), KIP-545 (group offset sync).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kmirror_protocol::batch::records::Record;
use kmirror_protocol::client::api::groups::{CommittedOffset, GroupDescription};
use kmirror_protocol::client::{Client, ClientError};
use kmirror_protocol::error::ResponseError;
use tokio_util::sync::CancellationToken;

use super::io::{self, PartitionReader};
use crate::internal_topics::{Checkpoint, InternalTopicError, OffsetSync};
use crate::policy::{GroupFilter, ReplicationPolicy, TopicFilter};

/// Result alias for this module.
pub type Result<T, E = OffsetsError> = std::result::Result<T, E>;

/// `emit.checkpoints.interval.seconds` default (MM2 `MirrorCheckpointConfig`).
pub const DEFAULT_EMIT_CHECKPOINTS_INTERVAL: Duration = Duration::from_secs(60);

/// Most syncs kept per partition (MM2's `OffsetSyncStore` keeps 64 too): about 1 KiB per
/// partition. See the module docs, "Re-read bound".
pub const MAX_SYNCS_PER_PARTITION: usize = 64;

/// The newest syncs of a partition that are never thinned: a group whose next record is in one
/// of the newest `DENSE_SYNCS - 1` forwarded batches re-reads less than one batch.
pub const DENSE_SYNCS: usize = 32;

/// A checkpoint or group-sync round could not be completed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OffsetsError {
    /// A cluster refused or did not answer.
    #[error("flow {flow}: {what} on cluster {cluster}")]
    Cluster {
        /// `source->target`.
        flow: String,
        /// Alias of the cluster asked.
        cluster: String,
        /// What was being done.
        what: String,
        /// Cause (boxed: a `ClientError` is large).
        #[source]
        source: Box<ClientError>,
    },
    /// A checkpoint does not fit MM2's record format (a name longer than 32767 bytes).
    #[error("flow {flow}: cannot encode the checkpoint of group {group} for {topic}-{partition}")]
    Encode {
        /// `source->target`.
        flow: String,
        /// Consumer group.
        group: String,
        /// Downstream topic.
        topic: String,
        /// Partition.
        partition: i32,
        /// Cause (boxed to keep the error small).
        #[source]
        source: Box<InternalTopicError>,
    },
}

/// An offset in a **source** partition (a committed group offset, an offset sync's upstream
/// side). Kept apart from [`TargetOffset`] so the two can never be mixed up silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceOffset(pub i64);

/// An offset in a **target** partition (a translated offset, an offset sync's downstream side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetOffset(pub i64);

/// One offset sync of one partition: source record `upstream` was written at `downstream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncPoint {
    /// Offset of the record on the source.
    pub upstream: SourceOffset,
    /// Offset the same record got on the target.
    pub downstream: TargetOffset,
}

impl From<&OffsetSync> for SyncPoint {
    fn from(s: &OffsetSync) -> Self {
        Self {
            upstream: SourceOffset(s.upstream_offset),
            downstream: TargetOffset(s.downstream_offset),
        }
    }
}

/// MM2's `translateDownstream` given the sync it picked (the newest with `upstream <= group`):
/// `downstream` when the group is exactly at the synced record, `downstream + 1` when it is past
/// it, and `None` when the sync is newer than the group offset (MM2's `-1`, no checkpoint).
pub fn translate_downstream(sync: SyncPoint, group: SourceOffset) -> Option<TargetOffset> {
    if sync.upstream > group {
        None
    } else if sync.upstream == group {
        Some(sync.downstream)
    } else {
        Some(TargetOffset(sync.downstream.0.saturating_add(1)))
    }
}

/// The syncs known for one source partition, ordered by upstream offset.
#[derive(Debug, Clone, Default)]
pub struct PartitionSyncs {
    /// Strictly increasing upstream (and non-decreasing downstream) offsets, at most
    /// [`MAX_SYNCS_PER_PARTITION`] entries; the last one is the newest sync applied.
    syncs: Vec<SyncPoint>,
}

impl PartitionSyncs {
    /// Adds a sync read from the offset-syncs topic (in topic order).
    ///
    /// A sync whose upstream offset is below the newest one (source rewound, MM2's rule) or
    /// whose downstream offset is below it (target truncated or re-created; MM2 keeps the old
    /// syncs, we drop them so no checkpoint points into a log that no longer exists) starts a
    /// new history. A sync with the same upstream offset replaces the older one (a restart that
    /// re-sent the record: the newer copy is the one followed by the rest of the data).
    pub fn apply(&mut self, sync: SyncPoint) {
        match self.syncs.last() {
            Some(n) if sync.upstream < n.upstream || sync.downstream < n.downstream => {
                self.syncs.clear();
            }
            Some(n) if sync.upstream == n.upstream => {
                self.syncs.pop();
            }
            _ => {}
        }
        self.syncs.push(sync);
        if self.syncs.len() > MAX_SYNCS_PER_PARTITION {
            self.thin();
        }
    }

    /// Drops one sync older than the newest [`DENSE_SYNCS`], never the oldest: the one whose
    /// removal leaves the smallest gap relative to that gap's distance from the newest sync, so
    /// gaps grow with age. Fewer syncs only make translation more conservative, never ahead.
    fn thin(&mut self) {
        let Some(head) = self.syncs.last().map(|s| i128::from(s.upstream.0)) else {
            return;
        };
        let up = |i: usize| i128::from(self.syncs[i].upstream.0);
        let last_candidate = self.syncs.len().saturating_sub(DENSE_SYNCS + 1);
        // Removing i merges the gaps (i-1, i) and (i, i+1): cost = gap / distance.
        let cost = |i: usize| (up(i + 1) - up(i - 1), (head - up(i + 1)).max(1));
        let Some(victim) = (1..=last_candidate).min_by(|&a, &b| {
            let ((ga, da), (gb, db)) = (cost(a), cost(b));
            // ga/da vs gb/db without division; offsets fit i64, products fit i128.
            (ga * db).cmp(&(gb * da))
        }) else {
            return;
        };
        self.syncs.remove(victim);
    }

    /// Translates a committed source offset (see the module docs); `None` when no sync is at or
    /// below it.
    pub fn translate(&self, group: SourceOffset) -> Option<TargetOffset> {
        let at_or_below = self.syncs.partition_point(|s| s.upstream <= group);
        let sync = *self.syncs.get(at_or_below.checked_sub(1)?)?;
        translate_downstream(sync, group)
    }

    /// Number of syncs kept.
    pub fn len(&self) -> usize {
        self.syncs.len()
    }

    /// True when no sync is known.
    pub fn is_empty(&self) -> bool {
        self.syncs.is_empty()
    }

    /// The syncs kept, oldest first.
    pub fn syncs(&self) -> impl Iterator<Item = SyncPoint> + '_ {
        self.syncs.iter().copied()
    }
}

/// Every partition's syncs, fed from the offset-syncs topic: kmirror's `OffsetSyncStore`.
#[derive(Debug, Clone, Default)]
pub struct OffsetSyncStore {
    /// Upstream topic → partition → syncs.
    topics: BTreeMap<String, BTreeMap<i32, PartitionSyncs>>,
}

impl OffsetSyncStore {
    /// Adds one decoded offset-sync record.
    pub fn apply(&mut self, sync: &OffsetSync) {
        self.topics
            .entry(sync.topic.clone())
            .or_default()
            .entry(sync.partition)
            .or_default()
            .apply(SyncPoint::from(sync));
    }

    /// Translates group offset `group` of source partition `topic`-`partition`.
    pub fn translate(
        &self,
        topic: &str,
        partition: i32,
        group: SourceOffset,
    ) -> Option<TargetOffset> {
        self.partition(topic, partition)?.translate(group)
    }

    /// The syncs of one source partition.
    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionSyncs> {
        self.topics.get(topic)?.get(&partition)
    }

    /// Source topics with at least one sync: the topics this flow has replicated.
    pub fn topics(&self) -> impl Iterator<Item = &str> + '_ {
        self.topics.keys().map(String::as_str)
    }
}

/// Identifies a checkpoint: MM2's compaction key (group, downstream topic, partition).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CheckpointKey {
    /// Consumer group.
    pub group: String,
    /// Downstream (target) topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
}

impl From<&Checkpoint> for CheckpointKey {
    fn from(cp: &Checkpoint) -> Self {
        Self {
            group: cp.consumer_group_id.clone(),
            topic: cp.topic.clone(),
            partition: cp.partition,
        }
    }
}

/// MM2's "is this checkpoint worth emitting" test: there is none yet, or the group was reset
/// on the source (upstream offset went backwards), or the translated offset moved forward.
/// An equal or smaller translation without an upstream reset is skipped, so checkpoints are
/// monotonic.
pub fn is_newer_checkpoint(previous: Option<&Checkpoint>, next: &Checkpoint) -> bool {
    previous.is_none_or(|p| {
        next.upstream_offset < p.upstream_offset || next.downstream_offset > p.downstream_offset
    })
}

/// The name on the target of source topic `topic` for checkpoints (MM2
/// `renameTopicPartition`): a topic that came from the target itself (`B.orders` in flow
/// `A->B`) maps back to its original name, anything else to its remote name (`A.orders`).
pub fn downstream_topic(
    policy: &ReplicationPolicy,
    source_alias: &str,
    target_alias: &str,
    topic: &str,
) -> String {
    if policy.topic_source(topic) == Some(target_alias) {
        policy.original_topic(topic).to_owned()
    } else {
        policy.format_remote_topic(source_alias, topic)
    }
}

/// Naming and filtering shared by checkpoint computation.
#[derive(Debug, Clone)]
pub struct CheckpointNaming {
    /// Source cluster alias.
    pub source_alias: String,
    /// Target cluster alias.
    pub target_alias: String,
    /// How remote topics are named.
    pub policy: ReplicationPolicy,
    /// `topics` / `topics.exclude`: MM2 checkpoints only topics its topic filter accepts.
    pub topic_filter: TopicFilter,
}

/// The checkpoints of one group: each committed source offset of a filtered, translatable
/// partition, with its translation and the commit's metadata.
pub fn checkpoints_for_group(
    naming: &CheckpointNaming,
    store: &OffsetSyncStore,
    group: &str,
    committed: &[CommittedOffset],
) -> Vec<Checkpoint> {
    committed
        .iter()
        .filter(|c| naming.topic_filter.should_replicate_topic(&c.topic))
        .filter_map(|c| {
            let to = store.translate(&c.topic, c.partition, SourceOffset(c.offset))?;
            Some(Checkpoint {
                consumer_group_id: group.to_owned(),
                topic: downstream_topic(
                    &naming.policy,
                    &naming.source_alias,
                    &naming.target_alias,
                    &c.topic,
                ),
                partition: c.partition,
                upstream_offset: c.offset,
                downstream_offset: to.0,
                metadata: c.metadata.clone(),
            })
        })
        .collect()
}

/// A group as seen on the target, for the group offset sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetGroup {
    /// No such group (`Dead`): every checkpoint is written.
    Absent,
    /// No members; its committed offsets by (topic, partition).
    Empty {
        /// Offsets committed on the target.
        committed: BTreeMap<(String, i32), i64>,
    },
    /// Has members (or is rebalancing): left alone.
    Active {
        /// The state the target reported.
        state: String,
    },
}

impl TargetGroup {
    /// Classifies a DescribeGroups answer; offsets of an `Empty` group are filled in by the
    /// caller. A group listing members is active whatever its state says.
    pub fn from_description(d: &GroupDescription) -> Self {
        match d.state.as_str() {
            _ if !d.members.is_empty() => Self::Active {
                state: d.state.clone(),
            },
            "Dead" => Self::Absent,
            "Empty" => Self::Empty {
                committed: BTreeMap::new(),
            },
            other => Self::Active {
                state: other.to_owned(),
            },
        }
    }
}

/// The offsets to commit on the target for a group's checkpoints, as MM2's `syncGroupOffset`:
/// all for an absent group, none for an active one, and for an empty group those partitions
/// whose target offset is missing, negative, or behind the checkpoint (never backwards).
pub fn offsets_to_sync(
    target: &TargetGroup,
    checkpoints: &[&Checkpoint],
) -> Vec<(String, i32, i64, Option<String>)> {
    let entry = |cp: &Checkpoint| {
        (
            cp.topic.clone(),
            cp.partition,
            cp.downstream_offset,
            Some(cp.metadata.clone()),
        )
    };
    match target {
        TargetGroup::Active { .. } => Vec::new(),
        TargetGroup::Absent => checkpoints.iter().map(|cp| entry(cp)).collect(),
        TargetGroup::Empty { committed } => checkpoints
            .iter()
            .filter(|cp| {
                committed
                    .get(&(cp.topic.clone(), cp.partition))
                    .is_none_or(|&at| at < cp.downstream_offset)
            })
            .map(|cp| entry(cp))
            .collect(),
    }
}

/// The last observed checkpoint latency of one group-partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointLatency {
    /// Target acknowledgement time minus the checkpoint record's timestamp (the time its
    /// group's offsets were read), ms: MM2's `checkpoint-latency-ms`.
    pub latency_ms: i64,
    /// The checkpoint record's timestamp (ms since the epoch).
    pub timestamp_ms: i64,
    /// When the target acknowledged it (ms since the epoch).
    pub acked_at_ms: i64,
}

/// Checkpoint latency per (group, downstream topic, partition), for the metrics endpoint.
/// Get a flow's instance with [`checkpoint_stats`].
#[derive(Debug, Default)]
pub struct CheckpointStats {
    /// Last value per group-partition.
    latest: Mutex<BTreeMap<CheckpointKey, CheckpointLatency>>,
}

impl CheckpointStats {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<CheckpointKey, CheckpointLatency>> {
        match self.latest.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Records that a checkpoint stamped `timestamp_ms` was acknowledged at `acked_at_ms`.
    pub fn record(&self, key: CheckpointKey, timestamp_ms: i64, acked_at_ms: i64) {
        self.lock().insert(
            key,
            CheckpointLatency {
                latency_ms: acked_at_ms.saturating_sub(timestamp_ms),
                timestamp_ms,
                acked_at_ms,
            },
        );
    }

    /// The last latency of one group-partition.
    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<CheckpointLatency> {
        self.lock()
            .get(&CheckpointKey {
                group: group.to_owned(),
                topic: topic.to_owned(),
                partition,
            })
            .copied()
    }

    /// Every group-partition's last latency, ordered by key.
    pub fn snapshot(&self) -> Vec<(CheckpointKey, CheckpointLatency)> {
        self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }
}

/// The checkpoint statistics of flow `source->target` in this process (created on first use;
/// the checkpoint emitter of that flow records into it).
pub fn checkpoint_stats(flow: &str) -> Arc<CheckpointStats> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<String, Arc<CheckpointStats>>>> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Mutex::default);
    let mut map = match registry.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    };
    Arc::clone(map.entry(flow.to_owned()).or_default())
}

/// What the checkpoint emitter of one flow needs.
#[derive(Debug, Clone)]
pub struct CheckpointConfig {
    /// Aliases, policy and topic filter.
    pub naming: CheckpointNaming,
    /// `groups` / `groups.exclude`.
    pub group_filter: GroupFilter,
    /// Offset-syncs topic (partition 0 is read), on the cluster given to [`CheckpointEmitter::new`].
    pub offset_syncs_topic: String,
    /// `offset-syncs.topic.location=source` (MM2's default): which cluster errors name.
    pub offset_syncs_on_source: bool,
    /// Checkpoints topic on the target (`ReplicationPolicy::checkpoints_topic(source)`).
    pub checkpoints_topic: String,
    /// `checkpoints.topic.replication.factor`, used when the topic is created.
    pub checkpoints_topic_replication_factor: i16,
    /// `emit.checkpoints.interval.seconds`.
    pub emit_checkpoints_interval: Duration,
    /// `refresh.groups.interval.seconds`; `None` when `refresh.groups.enabled=false` (groups
    /// are then listed once, at start).
    pub refresh_groups_interval: Option<Duration>,
    /// `sync.group.offsets.interval.seconds`; `None` when `sync.group.offsets.enabled=false`.
    pub sync_group_offsets_interval: Option<Duration>,
}

impl CheckpointConfig {
    /// `source->target`, for logs and errors.
    pub fn flow(&self) -> String {
        format!("{}->{}", self.naming.source_alias, self.naming.target_alias)
    }
}

/// One offset committed on the target by the group offset sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncedOffset {
    /// Consumer group.
    pub group: String,
    /// Target topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset committed.
    pub offset: i64,
}

/// Called for every checkpoint the target acknowledged, with its key, its record timestamp and
/// the acknowledgement time (ms since the epoch): where the engine feeds its metrics.
pub type AckObserver = Arc<dyn Fn(&CheckpointKey, i64, i64) + Send + Sync>;

/// An optional [`AckObserver`] (a newtype so the emitter can derive `Debug`).
#[derive(Clone, Default)]
struct OnAcked(Option<AckObserver>);

impl std::fmt::Debug for OnAcked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// Called after every round of [`CheckpointEmitter::run`] with the sync it belongs to
/// ([`CHECKPOINTS_SYNC`] or [`GROUP_OFFSETS_SYNC`]) and whether nothing in it failed (a group
/// skipped after an error fails the round): where the engine feeds its per-sync metrics.
pub type RoundObserver = Arc<dyn Fn(&'static str, bool) + Send + Sync>;

/// Checkpoint rounds: offset syncs read, groups listed, checkpoints written.
pub const CHECKPOINTS_SYNC: &str = "checkpoints";
/// Group offset sync rounds (`sync.group.offsets.enabled`).
pub const GROUP_OFFSETS_SYNC: &str = "group-offsets";

/// An optional [`RoundObserver`] (a newtype so the emitter can derive `Debug`).
#[derive(Clone, Default)]
struct OnRound(Option<RoundObserver>);

impl std::fmt::Debug for OnRound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Some(..)" } else { "None" })
    }
}

/// The checkpoint task of one flow: reads offset syncs, lists groups, writes checkpoints and,
/// if enabled, commits group offsets on the target.
#[derive(Debug)]
pub struct CheckpointEmitter {
    /// Settings.
    config: CheckpointConfig,
    /// Source cluster: groups and their committed offsets.
    source: Client,
    /// Target cluster: checkpoints topic, group offset sync.
    target: Client,
    /// Cluster holding the offset-syncs topic (`offset-syncs.topic.location`).
    syncs_cluster: Client,
    /// Reader of the offset-syncs topic, kept between rounds.
    syncs_reader: PartitionReader,
    /// Translation state.
    store: OffsetSyncStore,
    /// Groups passing the filter, as of the last refresh.
    groups: BTreeSet<String>,
    /// Latest checkpoint per key, loaded from the checkpoints topic at start and updated when
    /// the target acknowledges new ones (MM2's `CheckpointStore`).
    last: BTreeMap<CheckpointKey, Checkpoint>,
    /// Latency of acknowledged checkpoints.
    stats: Arc<CheckpointStats>,
    /// Told about every acknowledged checkpoint.
    on_acked: OnAcked,
    /// Told the outcome of every round.
    on_round: OnRound,
    /// Groups or partitions the last checkpoint or group-sync round skipped after an error.
    skipped: usize,
}

impl CheckpointEmitter {
    /// An emitter for `config`; offset syncs are read from `syncs_cluster`.
    pub fn new(
        config: CheckpointConfig,
        source: Client,
        target: Client,
        syncs_cluster: Client,
    ) -> Self {
        let stats = checkpoint_stats(&config.flow());
        let syncs_reader = PartitionReader::new(config.offset_syncs_topic.clone());
        Self {
            config,
            source,
            target,
            syncs_cluster,
            syncs_reader,
            store: OffsetSyncStore::default(),
            groups: BTreeSet::new(),
            last: BTreeMap::new(),
            stats,
            on_acked: OnAcked::default(),
            on_round: OnRound::default(),
            skipped: 0,
        }
    }

    /// Calls `observer` for every checkpoint the target acknowledges (besides recording its
    /// latency in [`checkpoint_stats`]).
    pub fn on_acked(mut self, observer: AckObserver) -> Self {
        self.on_acked = OnAcked(Some(observer));
        self
    }

    /// Calls `observer` after every round of [`CheckpointEmitter::run`].
    pub fn on_round(mut self, observer: RoundObserver) -> Self {
        self.on_round = OnRound(Some(observer));
        self
    }

    fn cluster_error(
        &self,
        target_side: bool,
        what: impl Into<String>,
    ) -> impl FnOnce(ClientError) -> OffsetsError {
        let n = &self.config.naming;
        let flow = self.config.flow();
        let cluster = if target_side {
            n.target_alias.clone()
        } else {
            n.source_alias.clone()
        };
        let what = what.into();
        move |source| OffsetsError::Cluster {
            flow,
            cluster,
            what,
            source: Box::new(source),
        }
    }

    /// The translation state.
    pub fn store(&self) -> &OffsetSyncStore {
        &self.store
    }

    /// The groups checkpointed, as of the last refresh.
    pub fn groups(&self) -> &BTreeSet<String> {
        &self.groups
    }

    /// Latest checkpoint per key.
    pub fn checkpoints(&self) -> &BTreeMap<CheckpointKey, Checkpoint> {
        &self.last
    }

    /// Creates the checkpoints topic if missing and loads the checkpoints already in it (so a
    /// restart neither re-emits nor moves them backwards). A failed load is logged and the
    /// emitter starts empty, as MM2 does.
    pub async fn start(&mut self) -> Result<()> {
        let topic = self.config.checkpoints_topic.clone();
        io::ensure_compacted_topic(
            &self.target,
            &topic,
            self.config.checkpoints_topic_replication_factor,
        )
        .await
        .map_err(self.cluster_error(true, format!("creating {topic}")))?;
        match read_checkpoints(&self.target, &topic).await {
            Ok(all) => {
                self.last = all
                    .into_iter()
                    .filter(|(k, _)| self.config.group_filter.should_replicate_group(&k.group))
                    .collect();
            }
            Err(e) => {
                tracing::warn!(flow = %self.config.flow(), topic = %topic, error = %e,
                    "cannot load existing checkpoints; starting without them");
            }
        }
        Ok(())
    }

    /// Lists the source's consumer groups (as Kafka's admin `listConsumerGroups`: protocol
    /// type `consumer` or none) that pass `groups`/`groups.exclude`. Returns how many.
    pub async fn refresh_groups(&mut self) -> Result<usize> {
        let listed = self
            .source
            .list_groups()
            .await
            .map_err(self.cluster_error(false, "listing consumer groups"))?;
        let groups: BTreeSet<String> = listed
            .into_iter()
            .filter(|g| g.protocol_type.is_empty() || g.protocol_type == "consumer")
            .map(|g| g.group_id)
            .filter(|g| self.config.group_filter.should_replicate_group(g))
            .collect();
        for g in groups.difference(&self.groups) {
            tracing::info!(flow = %self.config.flow(), group = %g, "checkpointing consumer group");
        }
        self.groups = groups;
        Ok(self.groups.len())
    }

    /// Reads the offset syncs written since the last call. Returns how many were read.
    pub async fn read_syncs(&mut self) -> Result<usize> {
        let what = format!("reading {}", self.syncs_reader.topic());
        let on_target = !self.config.offset_syncs_on_source;
        let records = self
            .syncs_reader
            .read_to_end(&self.syncs_cluster)
            .await
            .map_err(self.cluster_error(on_target, what))?;
        let mut n = 0;
        for r in records {
            let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
                continue;
            };
            match OffsetSync::decode(k, v) {
                Ok(sync) => {
                    self.store.apply(&sync);
                    n += 1;
                }
                Err(e) => tracing::warn!(flow = %self.config.flow(), offset = r.offset, error = %e,
                    "skipping an unreadable offset sync"),
            }
        }
        Ok(n)
    }

    /// One checkpoint round: for every group, read its committed source offsets, translate,
    /// and write the checkpoints that are newer than the last ones. Returns those written.
    pub async fn emit_checkpoints(&mut self) -> Result<Vec<Checkpoint>> {
        self.skipped = 0;
        let topics: Vec<String> = self
            .store
            .topics()
            .filter(|t| self.config.naming.topic_filter.should_replicate_topic(t))
            .map(str::to_owned)
            .collect();
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let mut pending: Vec<(Checkpoint, i64)> = Vec::new();
        for group in &self.groups {
            let computed_at = io::now_ms();
            // Named topics: the all-topics form is one request on Kafka but broken on tansu
            // 0.6.0, and only topics with offset syncs can be translated anyway.
            let committed = match self.source.offset_fetch(group, Some(&topics)).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(flow = %self.config.flow(), group = %group, error = %e,
                        "cannot read committed offsets; group skipped this round");
                    self.skipped += 1;
                    continue;
                }
            };
            for cp in checkpoints_for_group(&self.config.naming, &self.store, group, &committed) {
                if is_newer_checkpoint(self.last.get(&CheckpointKey::from(&cp)), &cp) {
                    pending.push((cp, computed_at));
                }
            }
        }
        let mut written = Vec::with_capacity(pending.len());
        for chunk in pending.chunks(io::MAX_RECORDS_PER_BATCH) {
            let mut records = Vec::with_capacity(chunk.len());
            let mut encoded = Vec::with_capacity(chunk.len());
            for (cp, at) in chunk {
                match self.checkpoint_record(cp, *at) {
                    Ok(r) => {
                        records.push(r);
                        encoded.push((cp, *at));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "checkpoint skipped");
                        self.skipped += 1;
                    }
                }
            }
            io::write_records(&self.target, &self.config.checkpoints_topic, records)
                .await
                .map_err(self.cluster_error(
                    true,
                    format!("writing to {}", self.config.checkpoints_topic),
                ))?;
            let acked_at = io::now_ms();
            for (cp, at) in encoded {
                let key = CheckpointKey::from(cp);
                if let Some(observe) = &self.on_acked.0 {
                    observe(&key, at, acked_at);
                }
                self.stats.record(key.clone(), at, acked_at);
                self.last.insert(key, cp.clone());
                written.push(cp.clone());
            }
        }
        Ok(written)
    }

    fn checkpoint_record(&self, cp: &Checkpoint, timestamp: i64) -> Result<Record> {
        let encode_err = |source| OffsetsError::Encode {
            flow: self.config.flow(),
            group: cp.consumer_group_id.clone(),
            topic: cp.topic.clone(),
            partition: cp.partition,
            source: Box::new(source),
        };
        let key = cp.encode_key().map_err(encode_err)?;
        let value = cp.encode_value().map_err(encode_err)?;
        Ok(Record::new(Some(&key), Some(&value), timestamp))
    }

    /// One group offset sync round (see the module docs). Returns the offsets committed; a
    /// partition the target refuses (e.g. a consumer joined meanwhile) is logged and left out.
    pub async fn sync_group_offsets(&mut self) -> Result<Vec<SyncedOffset>> {
        self.skipped = 0;
        let mut by_group: BTreeMap<&str, Vec<&Checkpoint>> = BTreeMap::new();
        for (k, cp) in &self.last {
            if self.config.group_filter.should_replicate_group(&k.group) {
                by_group.entry(k.group.as_str()).or_default().push(cp);
            }
        }
        if by_group.is_empty() {
            return Ok(Vec::new());
        }
        let names: Vec<String> = by_group.keys().map(|g| (*g).to_owned()).collect();
        let described = self
            .target
            .describe_groups(&names)
            .await
            .map_err(self.cluster_error(true, "describing consumer groups"))?;
        let mut synced = Vec::new();
        for d in described {
            let Some(checkpoints) = by_group.get(d.group_id.as_str()) else {
                continue;
            };
            let mut state = TargetGroup::from_description(&d);
            if let TargetGroup::Empty { committed } = &mut state {
                let topics: Vec<String> = checkpoints
                    .iter()
                    .map(|c| c.topic.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                match self.target.offset_fetch(&d.group_id, Some(&topics)).await {
                    Ok(offsets) => {
                        committed.extend(
                            offsets
                                .into_iter()
                                .map(|o| ((o.topic, o.partition), o.offset)),
                        );
                    }
                    Err(e) => {
                        tracing::warn!(flow = %self.config.flow(), group = %d.group_id, error = %e,
                            "cannot read the group's offsets on the target; not synced this round");
                        self.skipped += 1;
                        continue;
                    }
                }
            }
            if let TargetGroup::Active { state } = &state {
                tracing::debug!(flow = %self.config.flow(), group = %d.group_id, state = %state,
                    "group active on the target; offsets left alone");
                continue;
            }
            let offsets = offsets_to_sync(&state, checkpoints);
            if offsets.is_empty() {
                continue;
            }
            let results = match self
                .target
                .offset_commit(&d.group_id, -1, "", &offsets)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(flow = %self.config.flow(), group = %d.group_id, error = %e,
                        "cannot commit the group's offsets on the target");
                    self.skipped += 1;
                    continue;
                }
            };
            for ((topic, partition, result), (_, _, offset, _)) in results.into_iter().zip(&offsets)
            {
                match result {
                    Ok(()) => synced.push(SyncedOffset {
                        group: d.group_id.clone(),
                        topic,
                        partition,
                        offset: *offset,
                    }),
                    Err(e) if e.code() == Some(ResponseError::UnknownMemberId) => {
                        tracing::info!(flow = %self.config.flow(), group = %d.group_id,
                            "group became active on the target; offsets left alone");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(flow = %self.config.flow(), group = %d.group_id,
                            topic = %topic, partition, error = %e, "offset not synced");
                        self.skipped += 1;
                    }
                }
            }
        }
        Ok(synced)
    }

    /// Runs until `cancel`: start (retried), list groups, then checkpoint every
    /// `emit.checkpoints.interval`, re-list groups every `refresh.groups.interval` and sync
    /// group offsets every `sync.group.offsets.interval` (first one interval after start).
    /// Round failures are logged and retried at the next tick; `cancel` interrupts a round.
    pub async fn run(mut self, cancel: CancellationToken) {
        let flow = self.config.flow();
        let on_round = self.on_round.clone();
        let report = move |sync: &'static str, ok: bool| {
            if let Some(observe) = &on_round.0 {
                observe(sync, ok);
            }
        };
        let emit_every = self.config.emit_checkpoints_interval.max(MIN_INTERVAL);
        loop {
            match cancel.run_until_cancelled(self.start()).await {
                None => return,
                Some(Ok(())) => break,
                Some(Err(e)) => {
                    tracing::warn!(flow = %flow, error = %e, "checkpoints not started; will retry");
                    report(CHECKPOINTS_SYNC, false);
                }
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(emit_every) => {}
            }
        }
        let listed = match cancel.run_until_cancelled(self.refresh_groups()).await {
            None => return,
            Some(Ok(_)) => true,
            Some(Err(e)) => {
                tracing::warn!(flow = %flow, error = %e, "listing groups failed; will retry");
                report(CHECKPOINTS_SYNC, false);
                false
            }
        };
        let mut emit = tokio::time::interval(emit_every);
        emit.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let configured = self.config.refresh_groups_interval;
        let mut refresh = refresh_schedule(configured, listed, emit_every).map(later_interval);
        let mut sync = self.config.sync_group_offsets_interval.map(later_interval);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = emit.tick() => {
                    let round = async {
                        self.read_syncs().await?;
                        self.emit_checkpoints().await
                    };
                    let outcome = cancel.run_until_cancelled(round).await;
                    if let Some(r) = &outcome {
                        report(CHECKPOINTS_SYNC, r.is_ok() && self.skipped == 0);
                    }
                    match outcome {
                        None => return,
                        Some(Ok(written)) if !written.is_empty() => {
                            tracing::debug!(flow = %flow, checkpoints = written.len(), "checkpoints written");
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => tracing::warn!(flow = %flow, error = %e, "checkpoint round failed; will retry"),
                    }
                }
                _ = tick(&mut refresh) => {
                    let listed = match cancel.run_until_cancelled(self.refresh_groups()).await {
                        None => return,
                        Some(Ok(_)) => true,
                        Some(Err(e)) => {
                            tracing::warn!(flow = %flow, error = %e, "listing groups failed; will retry");
                            report(CHECKPOINTS_SYNC, false);
                            false
                        }
                    };
                    if refresh_schedule(configured, listed, emit_every).is_none() {
                        refresh = None;
                    }
                }
                _ = tick(&mut sync) => {
                    let outcome = cancel.run_until_cancelled(self.sync_group_offsets()).await;
                    if let Some(r) = &outcome {
                        report(GROUP_OFFSETS_SYNC, r.is_ok() && self.skipped == 0);
                    }
                    match outcome {
                        None => return,
                        Some(Ok(synced)) if !synced.is_empty() => {
                            tracing::debug!(flow = %flow, offsets = synced.len(), "group offsets synced to the target");
                        }
                        Some(Ok(_)) => {}
                        Some(Err(e)) => tracing::warn!(flow = %flow, error = %e, "group offset sync failed; will retry"),
                    }
                }
            }
        }
    }
}

/// How often groups are listed from now on, given the last listing's outcome: every
/// `refresh.groups.interval` when refreshing is enabled (`configured`); when it is disabled
/// (groups are listed once, at start, as MM2 does), a failed listing is retried every `retry`
/// until one succeeds, then never again. Without the retry a source that was down at start
/// would never get a checkpoint.
fn refresh_schedule(
    configured: Option<Duration>,
    listed: bool,
    retry: Duration,
) -> Option<Duration> {
    configured.or((!listed).then_some(retry))
}

/// Shortest interval honoured (a zero `*.interval.seconds` would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// An interval whose first tick is one period from now (MM2 schedules refreshes that way).
fn later_interval(period: Duration) -> tokio::time::Interval {
    let period = period.max(MIN_INTERVAL);
    let mut i = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// Ticks `interval`, or never when there is none.
async fn tick(interval: &mut Option<tokio::time::Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Reads every checkpoint in partition 0 of `topic` on `client` and keeps the latest per key,
/// as MM2's `MirrorClient.remoteConsumerOffsets` and `CheckpointStore` do. Unreadable records
/// are skipped; a missing topic reads as empty.
pub async fn read_checkpoints(
    client: &Client,
    topic: &str,
) -> std::result::Result<BTreeMap<CheckpointKey, Checkpoint>, ClientError> {
    let mut reader = PartitionReader::new(topic);
    let mut out = BTreeMap::new();
    for r in reader.read_to_end(client).await? {
        let (Some(k), Some(v)) = (r.key.as_deref(), r.value.as_deref()) else {
            continue;
        };
        match Checkpoint::decode(k, v) {
            Ok(cp) => {
                out.insert(CheckpointKey::from(&cp), cp);
            }
            Err(e) => {
                tracing::warn!(topic, offset = r.offset, error = %e, "skipping an unreadable checkpoint");
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(u: i64, d: i64) -> SyncPoint {
        SyncPoint {
            upstream: SourceOffset(u),
            downstream: TargetOffset(d),
        }
    }

    fn tr(p: &PartitionSyncs, g: i64) -> Option<i64> {
        p.translate(SourceOffset(g)).map(|t| t.0)
    }

    #[test]
    fn translate_downstream_is_exact_at_the_sync_and_one_past_it_after() {
        assert_eq!(
            translate_downstream(sp(100, 200), SourceOffset(100)),
            Some(TargetOffset(200))
        );
        assert_eq!(
            translate_downstream(sp(100, 200), SourceOffset(150)),
            Some(TargetOffset(201))
        );
        assert_eq!(translate_downstream(sp(100, 200), SourceOffset(99)), None);
    }

    #[test]
    fn mm2_offset_sync_store_vectors() {
        // OffsetSyncStoreTest.testOffsetTranslation (mm2-reference §6.3).
        let mut p = PartitionSyncs::default();
        p.apply(sp(100, 200));
        assert_eq!(tr(&p, 150), Some(201));
        p.apply(sp(150, 251));
        assert_eq!(tr(&p, 150), Some(251));
        assert_eq!(tr(&p, 5), None);
        p.apply(sp(200, 10)); // downstream truncated
        assert_eq!(tr(&p, 200), Some(10));
        // Deliberate difference: MM2 would still answer 252 for 151 from the pre-truncation
        // sync; that offset is past the end of the truncated log, so we give none.
        assert_eq!(tr(&p, 151), None);
        p.apply(sp(20, 20)); // upstream rewound
        assert_eq!(tr(&p, 20), Some(20));
        assert_eq!(tr(&p, 19), None);
        assert_eq!(tr(&p, 200), Some(21));
    }

    /// A simulated replication: batches of `batch_sizes` records, source gaps (compaction,
    /// markers) before some batches, target starting at `target_start`. Returns each batch as
    /// (its source offsets, the target offset of its first record).
    fn replicate(
        batch_sizes: &[i64],
        source_gaps: &[i64],
        target_start: i64,
    ) -> Vec<(Vec<i64>, i64)> {
        let mut up = 0;
        let mut down = target_start;
        let mut out = Vec::new();
        for (i, &n) in batch_sizes.iter().enumerate() {
            up += source_gaps.get(i).copied().unwrap_or(0);
            let ups: Vec<i64> = (up..up + n).collect();
            out.push((ups, down));
            up += n;
            down += n;
        }
        out
    }

    /// Target offset of the first replicated record with source offset >= g (or one past the
    /// last replicated record): where a consumer must resume to miss nothing and re-read nothing.
    fn exact(batches: &[(Vec<i64>, i64)], g: i64) -> i64 {
        for (ups, first_down) in batches {
            if let Some(i) = ups.iter().position(|&u| u >= g) {
                return first_down + i as i64;
            }
        }
        let (ups, first_down) = batches.last().unwrap();
        first_down + ups.len() as i64
    }

    fn per_batch_syncs(batches: &[(Vec<i64>, i64)]) -> PartitionSyncs {
        let mut p = PartitionSyncs::default();
        for (ups, first_down) in batches {
            let n = ups.len() as i64;
            p.apply(sp(*ups.last().unwrap(), first_down + n - 1));
        }
        p
    }

    #[test]
    fn exact_at_batch_boundaries_and_never_ahead_inside_a_batch() {
        let sizes = [5, 1, 17, 3, 40, 2, 9];
        let batches = replicate(&sizes, &[0, 0, 3, 0, 1, 0, 0], 7);
        let p = per_batch_syncs(&batches);
        for w in batches.windows(2) {
            // A group that consumed a whole batch resumes exactly at the next one.
            let boundary = w[0].0.last().unwrap() + 1;
            assert_eq!(
                tr(&p, boundary),
                Some(exact(&batches, boundary)),
                "g={boundary}"
            );
        }
        for (ups, first_down) in &batches[1..] {
            for &g in ups {
                let t = tr(&p, g).unwrap();
                assert!(t <= exact(&batches, g), "ahead at g={g}");
                // Re-reads stay within this batch: never before its first record.
                assert!(t >= *first_down, "more than one batch re-read at g={g}");
            }
        }
    }

    #[test]
    fn identity_when_the_target_was_empty() {
        let batches = replicate(&[10, 10, 25, 1, 4], &[], 0);
        let p = per_batch_syncs(&batches);
        for (ups, _) in &batches {
            let next = ups.last().unwrap() + 1;
            assert_eq!(tr(&p, next), Some(next));
            assert_eq!(tr(&p, *ups.last().unwrap()), Some(*ups.last().unwrap()));
        }
    }

    #[test]
    fn never_ahead_with_sparse_syncs_gaps_and_foreign_records() {
        // xorshift: deterministic pseudo-random scenarios.
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move |m: u64| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % m
        };
        for _ in 0..200 {
            let mut up = next(50) as i64;
            let mut down = next(50) as i64;
            let mut batches = Vec::new();
            let mut p = PartitionSyncs::default();
            for _ in 0..60 {
                up += if next(4) == 0 { next(5) as i64 } else { 0 }; // compaction / markers
                down += if next(6) == 0 { next(3) as i64 } else { 0 }; // foreign producer
                let n = 1 + next(20) as i64;
                let ups: Vec<i64> = (up..up + n).collect();
                // Any subset of the exact pairs may be known (throttling, thinning).
                if next(3) != 0 {
                    p.apply(sp(up + n - 1, down + n - 1));
                }
                batches.push((ups, down));
                up += n;
                down += n;
            }
            for g in 0..up + 3 {
                if let Some(t) = tr(&p, g) {
                    assert!(t <= exact(&batches, g), "ahead at g={g}");
                }
            }
        }
    }

    #[test]
    fn syncs_are_capped_dense_near_the_head_and_never_ahead() {
        // Batches of 10, identity (empty target at start), first record of the first batch
        // synced too, as the data path does.
        let mut p = PartitionSyncs::default();
        p.apply(sp(0, 0));
        let total: i64 = 20_000;
        for b in 0..total {
            p.apply(sp(b * 10 + 9, b * 10 + 9));
            assert!(p.len() <= MAX_SYNCS_PER_PARTITION);
        }
        assert_eq!(p.len(), MAX_SYNCS_PER_PARTITION);
        let head = total * 10;
        // The newest DENSE_SYNCS - 1 batches (the one before them holds the oldest dense sync):
        // exact at every boundary, less than a batch re-read.
        for b in (total - DENSE_SYNCS as i64 + 1)..total {
            assert_eq!(tr(&p, b * 10), Some(b * 10), "boundary of batch {b}");
            for g in b * 10..b * 10 + 10 {
                assert!(tr(&p, g).unwrap() >= b * 10, "g={g}");
            }
        }
        // The oldest sync is kept: offset 0 still translates exactly.
        assert_eq!(tr(&p, 0), Some(0));
        // Older offsets: never ahead; the re-read grows with the lag, a fraction of it.
        let mut worst = 0.0f64;
        for g in (0..=head).step_by(97).chain([head]) {
            let t = tr(&p, g).expect("everything from the first sync translates");
            assert!(t <= g, "ahead at g={g}");
            let lag = (head - g).max(1) as f64;
            worst = worst.max((g - t) as f64 / lag);
        }
        assert!(worst < 0.5, "re-read up to {worst:.2} x the lag");
    }

    #[test]
    fn thinning_stays_conservative_with_gaps_and_foreign_records() {
        let mut s = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move |m: u64| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % m
        };
        let (mut up, mut down) = (0i64, 0i64);
        let mut batches = Vec::new();
        let mut p = PartitionSyncs::default();
        for _ in 0..600 {
            up += if next(4) == 0 { next(50) as i64 } else { 0 };
            down += if next(6) == 0 { next(3) as i64 } else { 0 };
            let n = 1 + next(40) as i64;
            p.apply(sp(up, down));
            p.apply(sp(up + n - 1, down + n - 1));
            assert!(p.len() <= MAX_SYNCS_PER_PARTITION);
            batches.push(((up..up + n).collect::<Vec<_>>(), down));
            up += n;
            down += n;
        }
        for g in 0..up + 3 {
            if let Some(t) = tr(&p, g) {
                assert!(t <= exact(&batches, g), "ahead at g={g}");
            }
        }
    }

    #[test]
    fn a_failed_group_listing_is_retried_even_when_refresh_is_disabled() {
        let retry = Duration::from_secs(5);
        let every = Some(Duration::from_secs(600));
        // refresh.groups.enabled=false: listed once; a failure is retried until one succeeds.
        assert_eq!(refresh_schedule(None, true, retry), None);
        assert_eq!(refresh_schedule(None, false, retry), Some(retry));
        // Enabled: the configured interval whatever happened.
        assert_eq!(refresh_schedule(every, true, retry), every);
        assert_eq!(refresh_schedule(every, false, retry), every);
    }

    #[test]
    fn a_restart_that_resends_keeps_the_newer_copy() {
        let mut p = PartitionSyncs::default();
        p.apply(sp(90, 90));
        p.apply(sp(100, 100));
        // Restart resent 81..=100 at 101..=120.
        p.apply(sp(100, 120));
        assert_eq!(tr(&p, 100), Some(120));
        assert_eq!(tr(&p, 101), Some(121));
        assert_eq!(tr(&p, 95), Some(91));
    }

    fn cp(group: &str, up: i64, down: i64) -> Checkpoint {
        Checkpoint {
            consumer_group_id: group.into(),
            topic: "A.t".into(),
            partition: 0,
            upstream_offset: up,
            downstream_offset: down,
            metadata: String::new(),
        }
    }

    #[test]
    fn checkpoints_are_monotonic_unless_the_group_was_reset() {
        assert!(is_newer_checkpoint(None, &cp("g", 10, 10)));
        let prev = cp("g", 10, 10);
        assert!(is_newer_checkpoint(Some(&prev), &cp("g", 12, 11)));
        assert!(!is_newer_checkpoint(Some(&prev), &cp("g", 12, 10)));
        assert!(!is_newer_checkpoint(Some(&prev), &cp("g", 10, 10)));
        // Downstream went back without an upstream reset (fewer syncs known): skipped.
        assert!(!is_newer_checkpoint(Some(&prev), &cp("g", 11, 9)));
        // Group reset on the source: emitted even though it moves back.
        assert!(is_newer_checkpoint(Some(&prev), &cp("g", 3, 3)));
    }

    #[test]
    fn downstream_topic_follows_mm2_rename() {
        let p = ReplicationPolicy::default();
        assert_eq!(downstream_topic(&p, "A", "B", "orders"), "A.orders");
        assert_eq!(downstream_topic(&p, "A", "B", "C.orders"), "A.C.orders");
        // Failback: a topic that came from the target maps back to its own name.
        assert_eq!(downstream_topic(&p, "A", "B", "B.orders"), "orders");
        let id = ReplicationPolicy::identity(Some("A"));
        assert_eq!(downstream_topic(&id, "A", "B", "orders"), "orders");
    }

    fn committed(topic: &str, partition: i32, offset: i64, metadata: &str) -> CommittedOffset {
        CommittedOffset {
            topic: topic.into(),
            partition,
            offset,
            metadata: metadata.into(),
            leader_epoch: -1,
        }
    }

    #[test]
    fn checkpoint_copies_commit_metadata_and_skips_what_cannot_be_translated() {
        let naming = CheckpointNaming {
            source_alias: "A".into(),
            target_alias: "B".into(),
            policy: ReplicationPolicy::default(),
            topic_filter: TopicFilter::default(),
        };
        let mut store = OffsetSyncStore::default();
        for (t, p, u, d) in [
            ("orders", 0, 9, 19),
            ("orders", 1, 50, 50),
            ("x.internal", 0, 0, 0),
        ] {
            store.apply(&OffsetSync {
                topic: t.into(),
                partition: p,
                upstream_offset: u,
                downstream_offset: d,
            });
        }
        let got = checkpoints_for_group(
            &naming,
            &store,
            "g1",
            &[
                committed("orders", 0, 10, "meta"),
                committed("orders", 1, 7, ""), // older than every sync
                committed("x.internal", 0, 1, ""), // excluded by topics.exclude
                committed("unknown", 0, 1, ""), // no syncs
            ],
        );
        assert_eq!(
            got,
            vec![Checkpoint {
                consumer_group_id: "g1".into(),
                topic: "A.orders".into(),
                partition: 0,
                upstream_offset: 10,
                downstream_offset: 20,
                metadata: "meta".into(),
            }]
        );
    }

    fn desc(state: &str, members: usize) -> GroupDescription {
        GroupDescription {
            group_id: "g".into(),
            state: state.into(),
            protocol_type: String::new(),
            protocol: String::new(),
            members: (0..members)
                .map(
                    |i| kmirror_protocol::client::api::groups::MemberDescription {
                        member_id: format!("m{i}"),
                        group_instance_id: None,
                        client_id: String::new(),
                        client_host: String::new(),
                        metadata: Default::default(),
                        assignment: Default::default(),
                    },
                )
                .collect(),
        }
    }

    #[test]
    fn target_group_state_decides_who_is_left_alone() {
        assert_eq!(
            TargetGroup::from_description(&desc("Dead", 0)),
            TargetGroup::Absent
        );
        assert!(matches!(
            TargetGroup::from_description(&desc("Empty", 0)),
            TargetGroup::Empty { .. }
        ));
        for state in [
            "Stable",
            "PreparingRebalance",
            "CompletingRebalance",
            "Unknown",
            "",
        ] {
            assert!(matches!(
                TargetGroup::from_description(&desc(state, 0)),
                TargetGroup::Active { .. }
            ));
        }
        // Members win over a state that says otherwise.
        assert!(matches!(
            TargetGroup::from_description(&desc("Empty", 1)),
            TargetGroup::Active { .. }
        ));
    }

    #[test]
    fn group_offset_sync_never_moves_a_target_offset_backwards() {
        let mut a = cp("g", 10, 10);
        let mut b = cp("g", 20, 20);
        b.partition = 1;
        let mut c = cp("g", 30, 30);
        c.partition = 2;
        let mut d = cp("g", 40, 40);
        d.partition = 3;
        d.metadata = "m".into();
        let cps = [&a, &b, &c, &d];
        let committed: BTreeMap<(String, i32), i64> = [
            (("A.t".to_owned(), 0), 5),  // behind: written
            (("A.t".to_owned(), 1), 20), // equal: skipped
            (("A.t".to_owned(), 2), 99), // ahead (consumed on the target): skipped
        ]
        .into_iter()
        .collect();
        let got = offsets_to_sync(&TargetGroup::Empty { committed }, &cps);
        assert_eq!(
            got,
            vec![
                ("A.t".to_owned(), 0, 10, Some(String::new())),
                ("A.t".to_owned(), 3, 40, Some("m".to_owned())), // absent: written
            ]
        );
        assert_eq!(offsets_to_sync(&TargetGroup::Absent, &cps).len(), 4);
        let active = TargetGroup::Active {
            state: "Stable".into(),
        };
        assert!(offsets_to_sync(&active, &cps).is_empty());
        a.downstream_offset = 0;
        assert_eq!(offsets_to_sync(&TargetGroup::Absent, &[&a])[0].2, 0);
    }

    #[test]
    fn checkpoint_stats_keep_the_last_latency_per_partition() {
        let s = checkpoint_stats("stats-test-A->stats-test-B");
        s.record(CheckpointKey::from(&cp("g", 1, 1)), 1_000, 1_040);
        s.record(CheckpointKey::from(&cp("g", 2, 2)), 2_000, 2_015);
        let l = checkpoint_stats("stats-test-A->stats-test-B")
            .get("g", "A.t", 0)
            .unwrap();
        assert_eq!(
            (l.latency_ms, l.timestamp_ms, l.acked_at_ms),
            (15, 2_000, 2_015)
        );
        assert_eq!(s.snapshot().len(), 1);
        assert!(checkpoint_stats("other->flow").snapshot().is_empty());
    }
}
