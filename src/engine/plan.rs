//! A flow's effective settings, in the types the data path takes. Built from
//! the MM2 config (`config::mm2`) or directly by tests.

use std::time::Duration;

use kmirror_protocol::client::ClientConfig;

use crate::forward::classify::ClassifyConfig;
use crate::forward::fetch::FetchConfig;
use crate::forward::progress::ProgressConfig;
use crate::policy::{ReplicationPolicy, TopicFilter};

/// Everything one `source->target` flow needs to run.
#[derive(Debug, Clone)]
pub struct FlowPlan {
    /// Source cluster alias.
    pub source_alias: String,
    /// Target cluster alias.
    pub target_alias: String,
    /// Source `bootstrap.servers`.
    pub source_bootstrap: Vec<String>,
    /// Target `bootstrap.servers`.
    pub target_bootstrap: Vec<String>,
    /// Source (consumer) client settings.
    pub source_client: ClientConfig,
    /// Target (producer/admin) client settings.
    pub target_client: ClientConfig,
    /// Naming of remote topics.
    pub policy: ReplicationPolicy,
    /// Which source topics replicate.
    pub topic_filter: TopicFilter,
    /// `replication.factor` of created remote topics.
    pub replication_factor: i16,
    /// Replication factor of kmirror's internal topics.
    pub internal_replication_factor: i16,
    /// `refresh.topics.interval.seconds`.
    pub refresh_topics_interval: Duration,
    /// Fetch settings.
    pub fetch: FetchConfig,
    /// Batch classification settings.
    pub classify: ClassifyConfig,
    /// `max.in.flight.requests.per.connection` of the target producer (≤ 5).
    pub max_in_flight: usize,
    /// Produce timeout (ms).
    pub produce_timeout_ms: i32,
    /// Progress and offset-sync settings.
    pub progress: ProgressConfig,
    /// `offset-syncs.topic.location=source` (MM2 default).
    pub offset_syncs_on_source: bool,
    /// How long shutdown waits for in-flight produces.
    pub shutdown_drain: Duration,
}

impl FlowPlan {
    /// `source->target`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source_alias, self.target_alias)
    }

    /// A plan with MM2's defaults for two clusters (tests, demos).
    pub fn with_defaults(
        source_alias: &str,
        source_bootstrap: &str,
        target_alias: &str,
        target_bootstrap: &str,
    ) -> Self {
        let policy = ReplicationPolicy::default();
        Self {
            source_alias: source_alias.to_owned(),
            target_alias: target_alias.to_owned(),
            source_bootstrap: vec![source_bootstrap.to_owned()],
            target_bootstrap: vec![target_bootstrap.to_owned()],
            source_client: ClientConfig::default(),
            target_client: ClientConfig::default(),
            topic_filter: TopicFilter::default(),
            replication_factor: -1,
            internal_replication_factor: -1,
            refresh_topics_interval: Duration::from_secs(600),
            fetch: FetchConfig::default(),
            classify: ClassifyConfig::default(),
            max_in_flight: 5,
            produce_timeout_ms: 30_000,
            progress: ProgressConfig {
                source_alias: source_alias.to_owned(),
                progress_topic: progress_topic(source_alias),
                flush_interval: Duration::from_secs(5),
                emit_offset_syncs: true,
                offset_syncs_topic: policy.offset_syncs_topic(target_alias),
                offset_lag_max: 100,
            },
            policy,
            offset_syncs_on_source: true,
            shutdown_drain: Duration::from_secs(8),
        }
    }
}

/// kmirror's progress topic on the target for flows from `source_alias`
/// (MM2's own is `mm2-offsets.<source>.internal`; ours sits beside it so both
/// can run during a takeover).
pub fn progress_topic(source_alias: &str) -> String {
    format!("kmirror-offsets.{source_alias}.internal")
}
