//! Remote topics beside the data path: the configs a remote topic is created with,
//! partition growth, and MM2's periodic topic-config sync; pure planners, thin runners.
//!
//! The planners ([`creation_configs`], [`plan_incremental`], [`plan_legacy`],
//! [`plan_partitions`], [`after_rejection`]) take what was read from the source
//! and the target and return what to do; they are unit-tested without a broker.
//! The runners ([`create_remote_topic`], [`TopicConfigSync`], [`dry_run`]) read,
//! plan, apply, log and return a [`SyncReport`].
//!
//! Which source configs are copied (MM2's `MirrorSourceConnector.targetConfig`
//! and `DefaultConfigPropertyFilter`): not read-only, not sensitive, not from
//! `server.properties` (`STATIC_BROKER_CONFIG`), not matched by
//! `config.properties.exclude`. A source *default* (`DEFAULT_CONFIG`) becomes a
//! `DELETE` on the target (the target's own default applies) unless
//! `use.defaults.from = source`, in which case its value is copied like any other.
//!
//! Two things go beyond MM2: a key the target already holds with the same value
//! is not sent again, and a key the target refuses (`INVALID_CONFIG`, e.g. a key
//! an older broker does not know) is left out and named once in the log instead
//! of failing the whole topic; the rest still applies.
//!
//! `use.incremental.alter.configs = never` (or `requested` against a broker
//! without IncrementalAlterConfigs) uses the legacy AlterConfigs, which
//! **replaces a topic's whole config**, as MM2 ≤ 3.4 did: keys not copied from
//! the source, `config.properties.exclude` keys set on the target included,
//! revert to the target's defaults.
//!
//! # References
//! - mm2-reference.md §4.2 (creation), §4.3 (config sync), §4.4 (partitions), §7.4 (keys).
//! - Kafka `connect/mirror/.../MirrorSourceConnector.java` (`syncTopicConfigs`,
//!   `targetConfig`, `createNewTopics`, `createNewPartitions`),
//!   `DefaultConfigPropertyFilter.java`; KIP-339 (IncrementalAlterConfigs),
//!   KIP-158/KIP-226 (config sources); Kafka `LogConfig.validateNames`
//!   ("Unknown topic config name: …") for the INVALID_CONFIG messages parsed here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, SystemTime};

use kmirror_protocol::client::api::configs::{AlterOp, ConfigEntry, ConfigOp, ConfigSource};
use kmirror_protocol::client::api::topics::NewTopic;
use kmirror_protocol::client::{Client, ClientError};
use kmirror_protocol::error::ResponseError;
use regex::Regex;
use tokio_util::sync::CancellationToken;

use super::report::{Applied, Rejected, SyncReport};
use crate::config::mm2::{DEFAULT_CONFIG_PROPERTIES_EXCLUDE, FlowConfig, UseDefaultsFrom};
use crate::policy::{self, ReplicationPolicy, TopicFilter};

/// Result alias of this module.
pub type Result<T, E = SyncError> = std::result::Result<T, E>;

/// Wait for CreateTopics / CreatePartitions on the broker (Kafka's admin default).
const ADMIN_TIMEOUT_MS: i32 = 30_000;

/// Shortest sync interval honoured (tests use sub-second intervals; zero would spin).
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Topics per DescribeConfigs request (keeps each answer well under the frame limit).
const DESCRIBE_CHUNK: usize = 100;

/// What the sync modules cannot set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A `config.properties.exclude` item is not a valid regex.
    #[error("config.properties.exclude: invalid regex `{pattern}`")]
    InvalidExclude {
        /// The item as written.
        pattern: String,
        /// Why it does not compile.
        #[source]
        source: regex::Error,
    },
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/// Which source topics a flow replicates and what they are called on the target:
/// the replicate test of mm2-reference §3.4, shared by the config and ACL syncs.
#[derive(Debug, Clone)]
pub struct FlowTopics {
    /// Source cluster alias.
    pub source_alias: String,
    /// Target cluster alias (cycle detection, log lines).
    pub target_alias: String,
    /// Remote topic naming.
    pub policy: ReplicationPolicy,
    /// `topics` / `topics.exclude`.
    pub filter: TopicFilter,
    /// `heartbeats.replication.enabled` (Kafka 4.0+).
    pub heartbeats_replication_enabled: bool,
}

impl FlowTopics {
    /// `source->target`.
    pub fn flow(&self) -> String {
        format!("{}->{}", self.source_alias, self.target_alias)
    }

    /// MM2's `shouldReplicateTopic`: filter (or heartbeats), not internal, no cycle.
    pub fn replicates(&self, topic: &str) -> bool {
        policy::should_replicate_topic_with_heartbeats(
            &self.policy,
            &self.filter,
            &self.target_alias,
            topic,
            self.heartbeats_replication_enabled,
        )
    }

    /// The remote name of a source topic.
    pub fn remote_topic(&self, topic: &str) -> String {
        self.policy.format_remote_topic(&self.source_alias, topic)
    }
}

/// MM2's `DefaultConfigPropertyFilter`: config names never synced.
#[derive(Debug, Clone)]
pub struct ConfigPropertyFilter {
    /// The `config.properties.exclude` items joined and anchored (full match);
    /// `None` for an empty list, which excludes nothing.
    exclude: Option<Regex>,
}

impl ConfigPropertyFilter {
    /// Compiles `config.properties.exclude` items (Java regexes, full match).
    pub fn new<S: AsRef<str>>(exclude: &[S]) -> Result<Self> {
        if exclude.is_empty() {
            return Ok(Self { exclude: None });
        }
        let mut joined = String::from("^(?:");
        for (i, item) in exclude.iter().enumerate() {
            let item = item.as_ref();
            Regex::new(item).map_err(|source| SyncError::InvalidExclude {
                pattern: item.to_owned(),
                source,
            })?;
            if i > 0 {
                joined.push('|');
            }
            joined.push_str(item);
        }
        joined.push_str(")$");
        let re = Regex::new(&joined).map_err(|source| SyncError::InvalidExclude {
            pattern: joined.clone(),
            source,
        })?;
        Ok(Self { exclude: Some(re) })
    }

    /// True when `name` is excluded from sync.
    pub fn excludes(&self, name: &str) -> bool {
        self.exclude.as_ref().is_some_and(|r| r.is_match(name))
    }
}

impl Default for ConfigPropertyFilter {
    /// MM2's default exclusion list (mm2-reference §4.1).
    fn default() -> Self {
        Self::new(&policy::parse_list(DEFAULT_CONFIG_PROPERTIES_EXCLUDE))
            .expect("MM2's default config.properties.exclude is a constant that compiles")
    }
}

/// `use.incremental.alter.configs` (Kafka 3.5–3.9; 4.0 behaves as `required`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncrementalMode {
    /// IncrementalAlterConfigs, legacy AlterConfigs on brokers without it (MM2 3.5+ default).
    #[default]
    Requested,
    /// IncrementalAlterConfigs only; brokers without it are reported, not synced.
    Required,
    /// Legacy AlterConfigs only (replaces each topic's whole config).
    Never,
}

impl IncrementalMode {
    /// Reads the setting; anything but `required` / `never` is `requested`
    /// (the config layer rejects other values).
    pub fn from_setting(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("required") => Self::Required,
            Some("never") => Self::Never,
            _ => Self::Requested,
        }
    }
}

/// What the config planners need from the flow's settings.
#[derive(Debug, Clone)]
pub struct ConfigSyncSettings {
    /// `config.properties.exclude`.
    pub exclude: ConfigPropertyFilter,
    /// `use.defaults.from`.
    pub use_defaults_from: UseDefaultsFrom,
    /// `use.incremental.alter.configs`.
    pub incremental: IncrementalMode,
}

impl Default for ConfigSyncSettings {
    /// MM2's defaults: the default exclusions, target defaults, incremental requested.
    fn default() -> Self {
        Self {
            exclude: ConfigPropertyFilter::default(),
            use_defaults_from: UseDefaultsFrom::Target,
            incremental: IncrementalMode::Requested,
        }
    }
}

impl ConfigSyncSettings {
    /// The settings of one flow.
    pub fn from_flow(f: &FlowConfig) -> Result<Self> {
        Ok(Self {
            exclude: ConfigPropertyFilter::new(&f.config_properties_exclude)?,
            use_defaults_from: f.use_defaults_from,
            incremental: IncrementalMode::from_setting(
                f.settings
                    .get("use.incremental.alter.configs")
                    .map(|(v, _)| v.as_str()),
            ),
        })
    }

    fn defaults_from_source(&self) -> bool {
        self.use_defaults_from == UseDefaultsFrom::Source
    }
}

// ---------------------------------------------------------------------------------------------
// Planners (pure)
// ---------------------------------------------------------------------------------------------

/// True when a source entry takes part in sync at all: not read-only, not
/// sensitive, not from `server.properties`, not excluded by name.
pub fn is_synced(entry: &ConfigEntry, settings: &ConfigSyncSettings) -> bool {
    !entry.read_only
        && !entry.is_sensitive
        && entry.source != ConfigSource::StaticBroker
        && !settings.exclude.excludes(&entry.name)
}

/// True for a value that is Kafka's built-in default on its cluster.
fn is_default(entry: &ConfigEntry) -> bool {
    entry.source == ConfigSource::Default
}

/// The configs a remote topic is created with, sorted by key: the synced
/// source entries that are not defaults (defaults too with
/// `use.defaults.from = source`). Also the whole config the legacy
/// AlterConfigs sends (MM2 `targetConfig(config, incremental = false)`).
pub fn creation_configs(
    source: &[ConfigEntry],
    settings: &ConfigSyncSettings,
) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for e in source {
        if !is_synced(e, settings) || (is_default(e) && !settings.defaults_from_source()) {
            continue;
        }
        if let Some(v) = &e.value {
            out.insert(e.name.clone(), v.clone());
        }
    }
    out.into_iter().collect()
}

/// One incremental change and what the target held before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    /// The operation to send.
    pub op: AlterOp,
    /// The target's value before, if it reported one.
    pub before: Option<String>,
}

/// The IncrementalAlterConfigs operations that bring a remote topic in line
/// with its source topic, sorted by key. MM2 sends one op per synced source
/// entry every interval; ops that would not change the target (same value
/// already there; DELETE of a key the target does not override) are left out.
pub fn plan_incremental(
    source: &[ConfigEntry],
    target: &[ConfigEntry],
    settings: &ConfigSyncSettings,
) -> Vec<ConfigChange> {
    let on_target: HashMap<&str, &ConfigEntry> =
        target.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut wanted: BTreeMap<&str, ConfigChange> = BTreeMap::new();
    for e in source.iter().filter(|e| is_synced(e, settings)) {
        let current = on_target.get(e.name.as_str());
        let before = current.and_then(|t| t.value.clone());
        if is_default(e) && !settings.defaults_from_source() {
            // Only a topic-level override on the target has anything to delete.
            if current.is_some_and(|t| t.source == ConfigSource::DynamicTopic) {
                wanted.insert(
                    &e.name,
                    ConfigChange {
                        op: AlterOp::delete(e.name.clone()),
                        before,
                    },
                );
            }
            continue;
        }
        let Some(value) = &e.value else { continue };
        if before.as_deref() == Some(value.as_str()) {
            continue;
        }
        wanted.insert(
            &e.name,
            ConfigChange {
                op: AlterOp::set(e.name.clone(), value.clone()),
                before,
            },
        );
    }
    wanted.into_values().collect()
}

/// What the planner makes of a source entry: its value, or `None` when the
/// target is to inherit its own default (a DELETE), as [`plan_incremental`]
/// decides. Remembered per pass so that a later DELETE of a target override
/// is told apart from a change on the source.
fn planned_value(e: &ConfigEntry, settings: &ConfigSyncSettings) -> Option<String> {
    if is_default(e) && !settings.defaults_from_source() {
        None
    } else {
        e.value.clone()
    }
}

/// The whole config the legacy AlterConfigs would set on a remote topic, or
/// `None` when the target's topic-level overrides already equal it. Keys the
/// target overrides that the source does not send (excluded keys included)
/// are reset by the broker: AlterConfigs replaces the whole config.
pub fn plan_legacy(
    source: &[ConfigEntry],
    target: &[ConfigEntry],
    settings: &ConfigSyncSettings,
) -> Option<Vec<(String, String)>> {
    let want = creation_configs(source, settings);
    let mut have: Vec<(String, String)> = target
        .iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| e.value.clone().map(|v| (e.name.clone(), v)))
        .collect();
    have.sort();
    (want != have).then_some(want)
}

/// What to do about a remote topic's partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionPlan {
    /// The remote topic does not exist: create it with the source's count.
    Create {
        /// Partition count.
        partitions: i32,
    },
    /// The source has more partitions: raise the target to the source count.
    Grow {
        /// The target's count now.
        from: i32,
        /// The source's count.
        to: i32,
    },
    /// Nothing to do (equal, or the target has more: never shrink).
    Keep,
}

/// MM2's partition rule (mm2-reference §4.4): create missing remote topics
/// with the source count, raise smaller ones to it, never shrink.
pub fn plan_partitions(source_partitions: i32, target_partitions: Option<i32>) -> PartitionPlan {
    match target_partitions {
        None => PartitionPlan::Create {
            partitions: source_partitions,
        },
        Some(t) if t < source_partitions => PartitionPlan::Grow {
            from: t,
            to: source_partitions,
        },
        Some(_) => PartitionPlan::Keep,
    }
}

/// What to do after the target refused a topic's configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Send again without these keys (named in the broker's message).
    Without(Vec<String>),
    /// `INVALID_CONFIG` without a key we sent in the message: find the bad
    /// keys by validating each alone (`validate_only`), then retry without them.
    Probe,
    /// Not a config problem (or nothing left to drop): report, retry next interval.
    GiveUp,
}

/// Decides the retry after the target refused `keys` with `err`.
pub fn after_rejection(err: &ClientError, keys: &[&str]) -> Retry {
    if err.code() != Some(ResponseError::InvalidConfig) || keys.is_empty() {
        return Retry::GiveUp;
    }
    let message = match err {
        ClientError::Broker { message, .. } => message.as_deref(),
        _ => None,
    };
    let named = keys_named_in(message.unwrap_or_default(), keys);
    if named.is_empty() {
        Retry::Probe
    } else {
        Retry::Without(named)
    }
}

/// The `keys` that a broker message names as whole words, e.g. `bogus.key` in
/// Kafka's "Unknown topic config name: bogus.key" or `retention.ms` in
/// "Invalid value x for configuration retention.ms: Not a number of type LONG".
pub fn keys_named_in(message: &str, keys: &[&str]) -> Vec<String> {
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let mut out = Vec::new();
    for &key in keys {
        if key.is_empty() {
            continue;
        }
        let named = message.match_indices(key).any(|(at, _)| {
            let before_ok = message[..at].chars().next_back().is_none_or(|c| !word(c));
            let rest = &message[at + key.len()..];
            let mut after = rest.chars();
            let after_ok = match after.next() {
                None => true,
                // A sentence-ending dot after the key.
                Some('.') => after.next().is_none_or(|c| !word(c)),
                Some(c) => !word(c),
            };
            before_ok && after_ok
        });
        if named && !out.iter().any(|k: &String| k == key) {
            out.push(key.to_owned());
        }
    }
    out
}

/// Whether an applied change reverts a value set on the target, or follows a
/// change on the source (decides the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The source value changed since the last pass: a normal sync.
    SourceChanged,
    /// The source value did not change (or this is the first pass) but the
    /// target held another value: a target override is being reverted.
    RevertsTargetValue,
    /// The target had no value for the key: nothing is lost.
    NewOnTarget,
}

/// Classifies a change from the target's value before it and the source value
/// seen on the previous pass (`None`: not seen before).
pub fn classify_change(
    before: Option<&str>,
    previous_source: Option<Option<&str>>,
    source_now: Option<&str>,
) -> ChangeKind {
    match (before, previous_source) {
        (None, _) => ChangeKind::NewOnTarget,
        (Some(_), Some(prev)) if prev != source_now => ChangeKind::SourceChanged,
        (Some(_), _) => ChangeKind::RevertsTargetValue,
    }
}

/// One line of a dry run for a config change.
pub fn describe_change(target_alias: &str, remote: &str, c: &ConfigChange) -> String {
    match &c.op.op {
        ConfigOp::Set(v) => match &c.before {
            Some(b) => format!(
                "would set {}={v} on {target_alias}: {remote} (now {b})",
                c.op.key
            ),
            None => format!("would set {}={v} on {target_alias}: {remote}", c.op.key),
        },
        ConfigOp::Delete => format!(
            "would delete {} on {target_alias}: {remote} (now {}; the target's default applies)",
            c.op.key,
            c.before.as_deref().unwrap_or("?")
        ),
        _ => format!("would change {} on {target_alias}: {remote}", c.op.key),
    }
}

fn render_configs(configs: &[(String, String)]) -> String {
    if configs.is_empty() {
        return "no configs".to_owned();
    }
    configs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn op_words(op: &AlterOp) -> String {
    match &op.op {
        ConfigOp::Set(v) => format!("set {}={v}", op.key),
        _ => format!("delete {}", op.key),
    }
}

// ---------------------------------------------------------------------------------------------
// Runners
// ---------------------------------------------------------------------------------------------

/// Describes `topics` in chunks; per-topic errors stay per topic.
async fn describe_all(
    client: &Client,
    topics: &[String],
) -> Result<Vec<(String, Result<Vec<ConfigEntry>, ClientError>)>, ClientError> {
    let mut out = Vec::with_capacity(topics.len());
    for chunk in topics.chunks(DESCRIBE_CHUNK) {
        for tc in client.describe_topic_configs(chunk).await? {
            out.push((tc.topic, tc.entries));
        }
    }
    Ok(out)
}

/// A remote topic created by [`create_remote_topic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    /// False when the topic already existed (someone else created it first).
    pub created: bool,
    /// The configs it was created with.
    pub configs: Vec<(String, String)>,
    /// Keys the target refused; the topic was created without them.
    pub dropped: Vec<Rejected>,
}

/// Creates the remote topic of `source_topic` with the source's synced
/// configs (the one creation path: `engine` discovery calls this). A key the
/// target refuses is dropped and named, and creation retried, so no topic
/// stays uncreated over a config key. The outer error is a failed exchange or
/// a refusal that is not about a key.
#[allow(clippy::too_many_arguments)]
pub async fn create_remote_topic(
    source: &Client,
    target: &Client,
    flow: &str,
    source_topic: &str,
    remote: &str,
    partitions: i32,
    replication_factor: i16,
    settings: &ConfigSyncSettings,
) -> Result<CreatedTopic, ClientError> {
    let described = source
        .describe_topic_configs(std::slice::from_ref(&source_topic.to_owned()))
        .await?;
    let entries = match described.into_iter().next() {
        Some(tc) => tc.entries?,
        None => Vec::new(),
    };
    let mut configs = creation_configs(&entries, settings);
    let mut dropped = Vec::new();
    let new_topic = |configs: &[(String, String)]| NewTopic {
        name: remote.to_owned(),
        num_partitions: partitions,
        replication_factor,
        configs: configs.to_vec(),
    };
    // Each round either returns or drops at least one key, so this ends.
    loop {
        let res = target
            .create_topics(&[new_topic(&configs)], ADMIN_TIMEOUT_MS, false)
            .await?
            .into_iter()
            .next()
            .map_or(Ok(()), |(_, r)| r);
        let err = match res {
            Ok(()) => {
                return Ok(CreatedTopic {
                    created: true,
                    configs,
                    dropped,
                });
            }
            Err(e) if e.code() == Some(ResponseError::TopicAlreadyExists) => {
                return Ok(CreatedTopic {
                    created: false,
                    configs,
                    dropped,
                });
            }
            Err(e) => e,
        };
        let keys: Vec<&str> = configs.iter().map(|(k, _)| k.as_str()).collect();
        let bad = match after_rejection(&err, &keys) {
            Retry::GiveUp => return Err(err),
            Retry::Without(bad) => bad,
            Retry::Probe => {
                let mut bad = Vec::new();
                for (k, v) in &configs {
                    let one = [new_topic(&[(k.clone(), v.clone())])];
                    let probe = target.create_topics(&one, ADMIN_TIMEOUT_MS, true).await?;
                    if probe.iter().any(|(_, r)| {
                        r.as_ref().err().and_then(ClientError::code)
                            == Some(ResponseError::InvalidConfig)
                    }) {
                        bad.push(k.clone());
                    }
                }
                if bad.is_empty() {
                    return Err(err);
                }
                bad
            }
        };
        for k in &bad {
            tracing::warn!(flow, topic = remote, key = %k, error = %err, "target refused a topic config; creating the remote topic without it");
            dropped.push(Rejected {
                resource: remote.to_owned(),
                key: Some(k.clone()),
                reason: err.to_string(),
            });
        }
        configs.retain(|(k, _)| !bad.contains(k));
    }
}

/// One replicated topic pair as read for a sync pass.
#[derive(Debug, Clone)]
pub struct TopicPair {
    /// Source topic.
    pub source_topic: String,
    /// Remote topic on the target.
    pub remote_topic: String,
    /// Source configs.
    pub source: Vec<ConfigEntry>,
    /// Target configs.
    pub target: Vec<ConfigEntry>,
}

/// What one read of both clusters found.
#[derive(Debug, Clone, Default)]
pub struct ReadState {
    /// Pairs whose both sides were described.
    pub pairs: Vec<TopicPair>,
    /// Topics that could not be described.
    pub failed: Vec<Rejected>,
    /// Replicated source topics without a remote topic: (source topic, partitions).
    pub missing: Vec<(String, i32)>,
    /// Remote topics with fewer partitions than the source: (remote, from, to).
    pub smaller: Vec<(String, i32, i32)>,
}

/// Lists both clusters and describes the configs of every replicated pair.
pub async fn read_pairs(
    source: &Client,
    target: &Client,
    topics: &FlowTopics,
) -> Result<ReadState, ClientError> {
    let on_source = source.list_topics().await?;
    let on_target = target.list_topics().await?;
    let mut state = ReadState::default();
    let mut src_names = Vec::new();
    let mut remote_names = Vec::new();
    for (name, meta) in &on_source {
        if meta.is_internal || !topics.replicates(name) {
            continue;
        }
        let count = meta.partitions.len() as i32;
        let remote = topics.remote_topic(name);
        match plan_partitions(
            count,
            on_target.get(&remote).map(|m| m.partitions.len() as i32),
        ) {
            PartitionPlan::Create { partitions } => {
                state.missing.push((name.clone(), partitions));
                continue;
            }
            PartitionPlan::Grow { from, to } => state.smaller.push((remote.clone(), from, to)),
            PartitionPlan::Keep => {}
        }
        src_names.push(name.clone());
        remote_names.push(remote);
    }
    let src = describe_all(source, &src_names).await?;
    let dst = describe_all(target, &remote_names).await?;
    for ((source_topic, s), (remote_topic, t)) in src.into_iter().zip(dst) {
        match (s, t) {
            (Ok(source), Ok(target)) => state.pairs.push(TopicPair {
                source_topic,
                remote_topic,
                source,
                target,
            }),
            (Err(e), _) => state.failed.push(Rejected {
                resource: source_topic,
                key: None,
                reason: format!("describing source configs: {e}"),
            }),
            (_, Err(e)) => state.failed.push(Rejected {
                resource: remote_topic,
                key: None,
                reason: format!("describing target configs: {e}"),
            }),
        }
    }
    Ok(state)
}

/// Whether the target gets the legacy AlterConfigs; `Err` names why it gets
/// nothing (`required` against a broker without IncrementalAlterConfigs).
pub async fn use_legacy(
    target: &Client,
    mode: IncrementalMode,
) -> Result<std::result::Result<bool, String>, ClientError> {
    Ok(match mode {
        IncrementalMode::Never => Ok(true),
        IncrementalMode::Requested => Ok(!target.incremental_alter_supported().await?),
        IncrementalMode::Required => {
            if target.incremental_alter_supported().await? {
                Ok(false)
            } else {
                Err("the target broker lacks IncrementalAlterConfigs and use.incremental.alter.configs=required".to_owned())
            }
        }
    })
}

/// The dry run of `kmirror check --connect`: remote topics that would be
/// created (with their configs), grown, and config changes, as lines of text.
/// Reads only.
pub async fn dry_run(
    source: &Client,
    target: &Client,
    topics: &FlowTopics,
    settings: &ConfigSyncSettings,
    sync_configs: bool,
) -> Result<Vec<String>, ClientError> {
    let state = read_pairs(source, target, topics).await?;
    let t = &topics.target_alias;
    let mut out = Vec::new();
    let missing: Vec<String> = state.missing.iter().map(|(s, _)| s.clone()).collect();
    let described = describe_all(source, &missing).await?;
    for ((topic, partitions), (_, entries)) in state.missing.iter().zip(described) {
        let remote = topics.remote_topic(topic);
        match entries {
            Ok(entries) => out.push(format!(
                "would create {remote} on {t} with {partitions} partitions and {}",
                render_configs(&creation_configs(&entries, settings))
            )),
            Err(e) => out.push(format!(
                "would create {remote} on {t} with {partitions} partitions (source configs unreadable: {e})"
            )),
        }
    }
    for (remote, from, to) in &state.smaller {
        out.push(format!("would grow {remote} {from} -> {to} partitions"));
    }
    if !sync_configs {
        out.push("topic-config sync is disabled (sync.topic.configs.enabled=false)".to_owned());
        return Ok(out);
    }
    let legacy = match use_legacy(target, settings.incremental).await? {
        Ok(l) => l,
        Err(why) => {
            out.push(format!("would not sync topic configs: {why}"));
            return Ok(out);
        }
    };
    for p in &state.pairs {
        if legacy {
            if let Some(all) = plan_legacy(&p.source, &p.target, settings) {
                out.push(format!(
                    "would replace all configs of {} on {t} with {} (legacy AlterConfigs: keys not listed revert to the target's defaults, excluded ones too)",
                    p.remote_topic,
                    render_configs(&all)
                ));
            }
        } else {
            for c in plan_incremental(&p.source, &p.target, settings) {
                out.push(describe_change(t, &p.remote_topic, &c));
            }
        }
    }
    for f in &state.failed {
        out.push(format!("cannot plan {f}"));
    }
    Ok(out)
}

/// The periodic topic-config sync of one flow (MM2's `syncTopicConfigs`):
/// at start, then every `sync.topic.configs.interval.seconds`.
#[derive(Debug)]
pub struct TopicConfigSync {
    /// Which topics and their remote names.
    topics: FlowTopics,
    /// Exclusions, defaults, API choice.
    settings: ConfigSyncSettings,
    /// Source cluster (read only).
    source: Client,
    /// Target cluster (altered).
    target: Client,
    /// Source values seen on the previous pass, by (source topic, key): tells
    /// a source change from a target override being reverted.
    seen_source: HashMap<(String, String), Option<String>>,
    /// Messages already logged at warn level (refused keys, failing topics,
    /// reverted overrides): each is logged once, then at debug level.
    logged: HashSet<String>,
    /// When a pass last succeeded.
    last_success: Option<SystemTime>,
}

impl TopicConfigSync {
    /// A sync for `topics` between `source` and `target`.
    pub fn new(
        topics: FlowTopics,
        settings: ConfigSyncSettings,
        source: Client,
        target: Client,
    ) -> Self {
        Self {
            topics,
            settings,
            source,
            target,
            seen_source: HashMap::new(),
            logged: HashSet::new(),
            last_success: None,
        }
    }

    /// True the first time `what` is seen (so it is logged once).
    fn first_time(&mut self, what: String) -> bool {
        self.logged.insert(what)
    }

    /// Runs passes until `cancel`, handing each report to `on_report`.
    pub async fn run(
        mut self,
        interval: Duration,
        cancel: CancellationToken,
        mut on_report: impl FnMut(&SyncReport) + Send,
    ) {
        let mut tick = tokio::time::interval(interval.max(MIN_INTERVAL));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {}
            }
            let report = tokio::select! {
                _ = cancel.cancelled() => return,
                r = self.sync_once() => r,
            };
            on_report(&report);
        }
    }

    /// One pass: read both clusters, plan, apply, report.
    pub async fn sync_once(&mut self) -> SyncReport {
        let flow = self.topics.flow();
        let mut report = SyncReport::new("topic-configs", flow.clone());
        match self.pass(&mut report).await {
            Ok(()) => {}
            Err(e) => {
                if self.first_time(format!("pass: {e}")) {
                    tracing::warn!(flow = %flow, error = %e, "topic-config sync pass failed; retrying next interval");
                }
                report.rejected.push(Rejected {
                    resource: flow.clone(),
                    key: None,
                    reason: e.to_string(),
                });
            }
        }
        report.when = SystemTime::now();
        if report.succeeded() {
            self.last_success = Some(report.when);
        }
        report.last_success = self.last_success;
        report
    }

    async fn pass(&mut self, report: &mut SyncReport) -> Result<(), ClientError> {
        let flow = self.topics.flow();
        let state = read_pairs(&self.source, &self.target, &self.topics).await?;
        for f in state.failed {
            if self.first_time(format!("{f}")) {
                tracing::warn!(flow = %flow, resource = %f.resource, reason = %f.reason, "cannot read topic configs; retrying next interval");
            }
            report.rejected.push(f);
        }
        let legacy = match use_legacy(&self.target, self.settings.incremental).await? {
            Ok(l) => l,
            Err(why) => {
                if self.first_time(why.clone()) {
                    tracing::error!(flow = %flow, "{why}");
                }
                report.rejected.push(Rejected {
                    resource: self.topics.target_alias.clone(),
                    key: None,
                    reason: why,
                });
                return Ok(());
            }
        };
        if legacy {
            let plans: Vec<(String, Vec<(String, String)>)> = state
                .pairs
                .iter()
                .filter_map(|p| {
                    plan_legacy(&p.source, &p.target, &self.settings)
                        .map(|all| (p.remote_topic.clone(), all))
                })
                .collect();
            if !plans.is_empty() && self.first_time("legacy".to_owned()) {
                tracing::warn!(flow = %flow, "syncing topic configs with the legacy AlterConfigs: each remote topic's whole config is replaced, so target overrides of excluded keys are reset");
            }
            self.apply_legacy(plans, report).await?;
        } else {
            let mut plans = Vec::new();
            for p in &state.pairs {
                let changes = plan_incremental(&p.source, &p.target, &self.settings);
                if !changes.is_empty() {
                    self.log_changes(&p.source_topic, &p.remote_topic, &changes);
                    plans.push((
                        p.remote_topic.clone(),
                        changes.into_iter().map(|c| c.op).collect::<Vec<_>>(),
                    ));
                }
            }
            self.apply_incremental(plans, report).await?;
        }
        for p in &state.pairs {
            for e in &p.source {
                self.seen_source.insert(
                    (p.source_topic.clone(), e.name.clone()),
                    planned_value(e, &self.settings),
                );
            }
        }
        Ok(())
    }

    /// Logs what each change does; a reverted target override once per value.
    fn log_changes(&mut self, source_topic: &str, remote: &str, changes: &[ConfigChange]) {
        let flow = self.topics.flow();
        for c in changes {
            let now = match &c.op.op {
                ConfigOp::Set(v) => Some(v.as_str()),
                _ => None,
            };
            let prev = self
                .seen_source
                .get(&(source_topic.to_owned(), c.op.key.clone()))
                .map(Option::as_deref);
            match classify_change(c.before.as_deref(), prev, now) {
                ChangeKind::RevertsTargetValue => {
                    let key = format!("revert {remote} {} {:?} -> {:?}", c.op.key, c.before, now);
                    if self.first_time(key) {
                        tracing::warn!(flow = %flow, topic = remote, key = %c.op.key, old = c.before.as_deref().unwrap_or(""), new = now.unwrap_or("(target default)"), "target topic config differs from the source; setting the source's (MM2 reverts target overrides)");
                    }
                }
                _ => {
                    tracing::info!(flow = %flow, topic = remote, key = %c.op.key, old = c.before.as_deref().unwrap_or(""), new = now.unwrap_or("(target default)"), "syncing topic config");
                }
            }
        }
    }

    /// Logs a refused key once, and records it.
    fn reject_key(&mut self, report: &mut SyncReport, topic: &str, key: &str, err: &ClientError) {
        if self.first_time(format!("key {topic} {key}")) {
            tracing::warn!(flow = %self.topics.flow(), topic, key, error = %err, "target refused a topic config key; syncing the topic without it (retried next interval)");
        }
        report.rejected.push(Rejected {
            resource: topic.to_owned(),
            key: Some(key.to_owned()),
            reason: err.to_string(),
        });
    }

    /// Logs a refused topic once, and records it.
    fn reject_topic(&mut self, report: &mut SyncReport, topic: &str, err: &ClientError) {
        if self.first_time(format!("topic {topic} {err}")) {
            tracing::warn!(flow = %self.topics.flow(), topic, error = %err, "target refused topic config changes; retrying next interval");
        }
        report.rejected.push(Rejected {
            resource: topic.to_owned(),
            key: None,
            reason: err.to_string(),
        });
    }

    async fn apply_incremental(
        &mut self,
        mut pending: Vec<(String, Vec<AlterOp>)>,
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        // Each round drops at least one key of every topic it sends again, so this ends.
        while !pending.is_empty() {
            let results = self
                .target
                .incremental_alter_topic_configs(&pending, false)
                .await?;
            let mut again = Vec::new();
            for ((topic, ops), (_, res)) in pending.into_iter().zip(results) {
                let err = match res {
                    Ok(()) => {
                        report.applied.extend(ops.iter().map(|op| Applied {
                            resource: topic.clone(),
                            change: op_words(op),
                        }));
                        continue;
                    }
                    Err(e) => e,
                };
                let keys: Vec<&str> = ops.iter().map(|o| o.key.as_str()).collect();
                let bad = match after_rejection(&err, &keys) {
                    Retry::Without(bad) => bad,
                    Retry::Probe => {
                        let mut bad = Vec::new();
                        for op in &ops {
                            let one = [(topic.clone(), vec![op.clone()])];
                            let probe = self
                                .target
                                .incremental_alter_topic_configs(&one, true)
                                .await?;
                            if probe.iter().any(|(_, r)| {
                                r.as_ref().err().and_then(ClientError::code)
                                    == Some(ResponseError::InvalidConfig)
                            }) {
                                bad.push(op.key.clone());
                            }
                        }
                        bad
                    }
                    Retry::GiveUp => Vec::new(),
                };
                if bad.is_empty() {
                    self.reject_topic(report, &topic, &err);
                    continue;
                }
                for k in &bad {
                    self.reject_key(report, &topic, k, &err);
                }
                let rest: Vec<AlterOp> =
                    ops.into_iter().filter(|o| !bad.contains(&o.key)).collect();
                if !rest.is_empty() {
                    again.push((topic, rest));
                }
            }
            pending = again;
        }
        Ok(())
    }

    async fn apply_legacy(
        &mut self,
        mut pending: Vec<(String, Vec<(String, String)>)>,
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        // Each round drops at least one key of every topic it sends again, so this ends.
        while !pending.is_empty() {
            let results = self.target.alter_topic_configs(&pending).await?;
            let mut again = Vec::new();
            for ((topic, configs), (_, res)) in pending.into_iter().zip(results) {
                let err = match res {
                    Ok(()) => {
                        report.applied.push(Applied {
                            resource: topic.clone(),
                            change: format!(
                                "replace all configs with {}",
                                render_configs(&configs)
                            ),
                        });
                        continue;
                    }
                    Err(e) => e,
                };
                let keys: Vec<&str> = configs.iter().map(|(k, _)| k.as_str()).collect();
                // AlterConfigs has no per-key validation we could probe with
                // without replacing the config, so only named keys are dropped.
                let bad = match after_rejection(&err, &keys) {
                    Retry::Without(bad) => bad,
                    Retry::Probe | Retry::GiveUp => Vec::new(),
                };
                if bad.is_empty() {
                    self.reject_topic(report, &topic, &err);
                    continue;
                }
                for k in &bad {
                    self.reject_key(report, &topic, k, &err);
                }
                let rest: Vec<(String, String)> = configs
                    .into_iter()
                    .filter(|(k, _)| !bad.contains(k))
                    .collect();
                if !rest.is_empty() {
                    again.push((topic, rest));
                }
            }
            pending = again;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kmirror_protocol::client::api::configs::ConfigSource as S;

    fn e(name: &str, value: &str, source: ConfigSource) -> ConfigEntry {
        ConfigEntry {
            name: name.into(),
            value: Some(value.into()),
            read_only: false,
            is_sensitive: false,
            source,
        }
    }

    fn set(k: &str, v: &str, before: Option<&str>) -> ConfigChange {
        ConfigChange {
            op: AlterOp::set(k, v),
            before: before.map(str::to_owned),
        }
    }

    fn delete(k: &str, before: &str) -> ConfigChange {
        ConfigChange {
            op: AlterOp::delete(k),
            before: Some(before.to_owned()),
        }
    }

    fn from_source() -> ConfigSyncSettings {
        ConfigSyncSettings {
            use_defaults_from: UseDefaultsFrom::Source,
            ..ConfigSyncSettings::default()
        }
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn source_overrides_are_set_and_source_defaults_deleted_on_the_target() {
        let source = [
            e("retention.ms", "1000", S::DynamicTopic),
            e("cleanup.policy", "delete", S::Default),
        ];
        let target = [
            e("retention.ms", "604800000", S::Default),
            e("cleanup.policy", "compact", S::DynamicTopic),
        ];
        assert_eq!(
            plan_incremental(&source, &target, &ConfigSyncSettings::default()),
            vec![
                delete("cleanup.policy", "compact"),
                set("retention.ms", "1000", Some("604800000")),
            ]
        );
    }

    #[test]
    fn a_source_default_the_target_does_not_override_needs_nothing() {
        let source = [e("cleanup.policy", "delete", S::Default)];
        for target in [
            vec![e("cleanup.policy", "delete", S::Default)],
            vec![e("cleanup.policy", "compact", S::DynamicDefaultBroker)],
            vec![],
        ] {
            assert!(plan_incremental(&source, &target, &ConfigSyncSettings::default()).is_empty());
        }
    }

    #[test]
    fn values_inherited_from_dynamic_broker_defaults_are_set() {
        // Not DEFAULT_CONFIG, so MM2 copies them like topic overrides.
        let source = [
            e("retention.ms", "5000", S::DynamicDefaultBroker),
            e("segment.ms", "6000", S::DynamicBroker),
        ];
        assert_eq!(
            plan_incremental(&source, &[], &ConfigSyncSettings::default()),
            vec![
                set("retention.ms", "5000", None),
                set("segment.ms", "6000", None)
            ]
        );
        assert_eq!(
            creation_configs(&source, &ConfigSyncSettings::default()),
            pairs(&[("retention.ms", "5000"), ("segment.ms", "6000")])
        );
    }

    #[test]
    fn default_excludes_are_never_synced_and_target_overrides_of_them_stay() {
        let source = [
            e("min.insync.replicas", "2", S::DynamicTopic),
            e("message.timestamp.type", "LogAppendTime", S::DynamicTopic),
            e("unclean.leader.election.enable", "true", S::DynamicTopic),
            e(
                "follower.replication.throttled.replicas",
                "*",
                S::DynamicTopic,
            ),
            e(
                "leader.replication.throttled.replicas",
                "*",
                S::DynamicTopic,
            ),
            e("message.timestamp.difference.max.ms", "1", S::DynamicTopic),
            e("retention.ms", "1000", S::DynamicTopic),
        ];
        let target = [
            e("min.insync.replicas", "1", S::DynamicTopic),
            e("message.timestamp.type", "CreateTime", S::Default),
        ];
        let s = ConfigSyncSettings::default();
        assert_eq!(
            plan_incremental(&source, &target, &s),
            vec![set("retention.ms", "1000", None)]
        );
        assert_eq!(
            creation_configs(&source, &s),
            pairs(&[("retention.ms", "1000")])
        );
        // Excluded source defaults are not deleted on the target either.
        let source = [e("min.insync.replicas", "1", S::Default)];
        assert!(plan_incremental(&source, &target, &s).is_empty());
    }

    #[test]
    fn config_properties_exclude_replaces_the_default_list() {
        let s = ConfigSyncSettings {
            exclude: ConfigPropertyFilter::new(&[r"retention\..*"]).unwrap(),
            ..ConfigSyncSettings::default()
        };
        let source = [
            e("retention.ms", "1", S::DynamicTopic),
            e("retention.bytes", "2", S::DynamicTopic),
            e("min.insync.replicas", "2", S::DynamicTopic),
        ];
        assert_eq!(
            creation_configs(&source, &s),
            pairs(&[("min.insync.replicas", "2")])
        );
        // Full match: `retention` alone is not excluded by `retention\..*`.
        assert!(!s.exclude.excludes("retention"));
        // An empty list excludes nothing.
        let none = ConfigPropertyFilter::new::<&str>(&[]).unwrap();
        assert!(!none.excludes("min.insync.replicas"));
        assert!(ConfigPropertyFilter::new(&["(["]).is_err());
    }

    #[test]
    fn sensitive_read_only_and_static_broker_entries_are_skipped() {
        let mut sensitive = e("ssl.password", "x", S::DynamicTopic);
        sensitive.is_sensitive = true;
        sensitive.value = None;
        let mut read_only = e("remote.storage.enable", "false", S::DynamicTopic);
        read_only.read_only = true;
        let source = [
            sensitive,
            read_only,
            e("log.dirs", "/k", S::StaticBroker),
            e("compression.type", "zstd", S::StaticBroker),
        ];
        for s in [ConfigSyncSettings::default(), from_source()] {
            assert!(plan_incremental(&source, &[], &s).is_empty());
            assert!(creation_configs(&source, &s).is_empty());
            assert_eq!(plan_legacy(&source, &[], &s), None);
        }
    }

    #[test]
    fn use_defaults_from_source_copies_defaults_too() {
        // What tansu 0.6.0 reports for a topic created with these configs.
        let source = [
            e("retention.ms", "1000", S::Default),
            e("cleanup.policy", "compact", S::Default),
        ];
        let target = [e("cleanup.policy", "delete", S::DynamicTopic)];
        assert_eq!(
            plan_incremental(&source, &target, &from_source()),
            vec![
                set("cleanup.policy", "compact", Some("delete")),
                set("retention.ms", "1000", None),
            ]
        );
        assert_eq!(
            creation_configs(&source, &from_source()),
            pairs(&[("cleanup.policy", "compact"), ("retention.ms", "1000")])
        );
        // With MM2's default (target) those same entries are deletes and no creation configs.
        assert_eq!(
            plan_incremental(&source, &target, &ConfigSyncSettings::default()),
            vec![delete("cleanup.policy", "delete")]
        );
        assert!(creation_configs(&source, &ConfigSyncSettings::default()).is_empty());
    }

    #[test]
    fn a_value_the_target_already_holds_is_not_sent_again() {
        let source = [e("retention.ms", "1000", S::DynamicTopic)];
        let target = [e("retention.ms", "1000", S::DynamicTopic)];
        assert!(plan_incremental(&source, &target, &ConfigSyncSettings::default()).is_empty());
    }

    #[test]
    fn legacy_sends_the_whole_config_and_resets_excluded_target_overrides() {
        let s = ConfigSyncSettings::default();
        let source = [
            e("retention.ms", "1000", S::DynamicTopic),
            e("cleanup.policy", "delete", S::Default),
        ];
        assert_eq!(
            plan_legacy(&source, &[], &s),
            Some(pairs(&[("retention.ms", "1000")]))
        );
        let same = [
            e("retention.ms", "1000", S::DynamicTopic),
            e("cleanup.policy", "delete", S::Default),
        ];
        assert_eq!(plan_legacy(&source, &same, &s), None);
        // An excluded key overridden on the target makes the configs differ:
        // the replacement drops it (documented MM2 ≤ 3.4 behaviour).
        let with_excluded = [
            e("retention.ms", "1000", S::DynamicTopic),
            e("min.insync.replicas", "2", S::DynamicTopic),
        ];
        assert_eq!(
            plan_legacy(&source, &with_excluded, &s),
            Some(pairs(&[("retention.ms", "1000")]))
        );
        // use.defaults.from=source: defaults are part of the whole config.
        assert_eq!(
            plan_legacy(&source, &[], &from_source()),
            Some(pairs(&[
                ("cleanup.policy", "delete"),
                ("retention.ms", "1000")
            ]))
        );
    }

    #[test]
    fn partitions_are_created_grown_and_never_shrunk() {
        assert_eq!(
            plan_partitions(3, None),
            PartitionPlan::Create { partitions: 3 }
        );
        assert_eq!(
            plan_partitions(6, Some(3)),
            PartitionPlan::Grow { from: 3, to: 6 }
        );
        assert_eq!(plan_partitions(3, Some(3)), PartitionPlan::Keep);
        assert_eq!(plan_partitions(3, Some(6)), PartitionPlan::Keep);
    }

    fn broker_err(code: ResponseError, message: Option<&str>) -> ClientError {
        ClientError::Broker {
            broker: "1@h:9092".into(),
            api: kmirror_protocol::kafka_protocol::messages::ApiKey::CreateTopics,
            resource: Some("A.t".into()),
            code,
            message: message.map(str::to_owned),
        }
    }

    #[test]
    fn invalid_config_names_the_keys_to_drop() {
        let keys = ["retention.ms", "bogus.key", "segment.ms"];
        // Kafka `LogConfig.validateNames`.
        let e = broker_err(
            ResponseError::InvalidConfig,
            Some("Unknown topic config name: bogus.key"),
        );
        assert_eq!(
            after_rejection(&e, &keys),
            Retry::Without(vec!["bogus.key".into()])
        );
        // Kafka `ConfigDef.parseType` through `ConfigException`.
        let e = broker_err(
            ResponseError::InvalidConfig,
            Some("Invalid value abc for configuration retention.ms: Not a number of type LONG"),
        );
        assert_eq!(
            after_rejection(&e, &keys),
            Retry::Without(vec!["retention.ms".into()])
        );
        // No key we sent is named: find them by validating each alone.
        let e = broker_err(ResponseError::InvalidConfig, Some("Invalid config"));
        assert_eq!(after_rejection(&e, &keys), Retry::Probe);
        let e = broker_err(ResponseError::InvalidConfig, None);
        assert_eq!(after_rejection(&e, &keys), Retry::Probe);
        // Nothing left to drop, or not a config problem.
        assert_eq!(after_rejection(&e, &[]), Retry::GiveUp);
        let e = broker_err(
            ResponseError::TopicAuthorizationFailed,
            Some("retention.ms"),
        );
        assert_eq!(after_rejection(&e, &keys), Retry::GiveUp);
    }

    #[test]
    fn keys_are_matched_as_whole_words_only() {
        let keys = ["segment.ms", "ms", "retention.ms"];
        assert!(keys_named_in("Unknown topic config name: segment.msx", &keys).is_empty());
        assert!(keys_named_in("Unknown topic config name: log.segment.ms", &keys).is_empty());
        assert_eq!(
            keys_named_in("Unknown topic config name: segment.ms.", &keys),
            vec!["segment.ms".to_owned()]
        );
        assert_eq!(
            keys_named_in("retention.ms and segment.ms are bad", &keys),
            vec!["segment.ms".to_owned(), "retention.ms".to_owned()]
        );
    }

    #[test]
    fn changes_are_told_apart_from_reverted_target_overrides() {
        // The source moved: a normal sync.
        assert_eq!(
            classify_change(Some("1"), Some(Some("1")), Some("2")),
            ChangeKind::SourceChanged
        );
        // The source stayed at 1 but the target says 5: someone set it there.
        assert_eq!(
            classify_change(Some("5"), Some(Some("1")), Some("1")),
            ChangeKind::RevertsTargetValue
        );
        // First pass: a target value that differs is reverted (logged as such).
        assert_eq!(
            classify_change(Some("5"), None, Some("1")),
            ChangeKind::RevertsTargetValue
        );
        // A DELETE of a target override the source never had.
        assert_eq!(
            classify_change(Some("compact"), Some(None), None),
            ChangeKind::RevertsTargetValue
        );
        assert_eq!(
            classify_change(None, None, Some("1")),
            ChangeKind::NewOnTarget
        );
    }

    #[test]
    fn a_later_delete_of_a_target_override_is_a_revert_not_a_source_change() {
        // The source's cleanup.policy is its default: the planner DELETEs a
        // target override, so what was seen is "no value", and a second pass
        // that deletes a new override on the target is a revert.
        let from_target = ConfigSyncSettings::default();
        let default_on_source = e("cleanup.policy", "delete", S::Default);
        let seen = planned_value(&default_on_source, &from_target);
        assert_eq!(seen, None);
        assert_eq!(
            classify_change(Some("compact"), Some(seen.as_deref()), None),
            ChangeKind::RevertsTargetValue
        );
        // With use.defaults.from=source the default value itself is set.
        let from_source = ConfigSyncSettings {
            use_defaults_from: UseDefaultsFrom::Source,
            ..ConfigSyncSettings::default()
        };
        assert_eq!(
            planned_value(&default_on_source, &from_source).as_deref(),
            Some("delete")
        );
        let set_on_source = e("retention.ms", "1000", S::DynamicTopic);
        assert_eq!(
            planned_value(&set_on_source, &from_target).as_deref(),
            Some("1000")
        );
    }

    #[test]
    fn settings_come_from_the_flow_config() {
        let text = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\n\
                    A->B.enabled = true\nA->B.use.defaults.from = source\n\
                    use.incremental.alter.configs = never\nconfig.properties.exclude = foo\\..*\n";
        let cfg = crate::config::mm2::parse_str(text, "t").expect("valid");
        let s = ConfigSyncSettings::from_flow(cfg.flow("A", "B").expect("flow")).unwrap();
        assert_eq!(s.use_defaults_from, UseDefaultsFrom::Source);
        assert_eq!(s.incremental, IncrementalMode::Never);
        assert!(s.exclude.excludes("foo.bar") && !s.exclude.excludes("min.insync.replicas"));
        let d = ConfigSyncSettings::default();
        assert_eq!(d.incremental, IncrementalMode::Requested);
        assert!(d.exclude.excludes("min.insync.replicas"));
        assert_eq!(
            IncrementalMode::from_setting(Some(" required ")),
            IncrementalMode::Required
        );
    }

    #[test]
    fn dry_run_lines_say_what_would_change_where() {
        assert_eq!(
            describe_change("B", "A.orders", &set("retention.ms", "1000", None)),
            "would set retention.ms=1000 on B: A.orders"
        );
        assert_eq!(
            describe_change("B", "A.orders", &set("retention.ms", "1000", Some("5"))),
            "would set retention.ms=1000 on B: A.orders (now 5)"
        );
        assert_eq!(
            describe_change("B", "A.orders", &delete("cleanup.policy", "compact")),
            "would delete cleanup.policy on B: A.orders (now compact; the target's default applies)"
        );
    }

    #[test]
    fn flow_topics_apply_the_replicate_test() {
        let t = FlowTopics {
            source_alias: "A".into(),
            target_alias: "B".into(),
            policy: ReplicationPolicy::default(),
            filter: TopicFilter::default(),
            heartbeats_replication_enabled: true,
        };
        assert!(t.replicates("orders"));
        assert!(!t.replicates("B.orders"), "cycle");
        assert!(!t.replicates("__consumer_offsets"));
        assert_eq!(t.remote_topic("orders"), "A.orders");
        assert_eq!(t.flow(), "A->B");
    }
}
