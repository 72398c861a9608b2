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
    /// Merge small queued batches up to this size while a partition's window
    /// is full (0 disables; `KMIRROR_COALESCE_BYTES` overrides, for benches).
    pub coalesce_bytes: usize,
    /// Scale-out (`scale.out.enabled=true`): the flow's partitions are shared
    /// by every process in the flow's group on the target; `None` runs them all.
    pub group: Option<super::membership::GroupSettings>,
    /// Every MM2 setting of the flow (groups, intervals, sync switches...), for
    /// the leaf modules under `sync/`. `None` only if the aliases given to
    /// [`FlowPlan::with_defaults`] are not valid MM2 aliases.
    pub config: Option<std::sync::Arc<crate::config::mm2::FlowConfig>>,
    /// Where metric events go (shared by every flow of a process).
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    /// How often the progress summary is logged.
    pub report_interval: Duration,
    /// How often positions are checked against the source log (loss detection).
    pub integrity_interval: Duration,
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
            },
            policy,
            offset_syncs_on_source: true,
            shutdown_drain: Duration::from_secs(7),
            coalesce_bytes: std::env::var("KMIRROR_COALESCE_BYTES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(crate::forward::produce::DEFAULT_COALESCE_BYTES),
            group: None,
            config: default_flow_config(source_alias, target_alias),
            metrics: std::sync::Arc::default(),
            report_interval: Duration::from_secs(30),
            integrity_interval: Duration::from_secs(30),
        }
    }
}

/// MM2's defaults for `source->target`, by parsing a minimal MM2 file.
fn default_flow_config(
    source: &str,
    target: &str,
) -> Option<std::sync::Arc<crate::config::mm2::FlowConfig>> {
    let text = format!(
        "clusters = {source}, {target}\n{source}.bootstrap.servers = localhost:9092\n\
         {target}.bootstrap.servers = localhost:9092\n{source}->{target}.enabled = true\n"
    );
    let cfg = crate::config::mm2::parse_str(&text, "<defaults>").ok()?;
    cfg.flow(source, target).cloned().map(std::sync::Arc::new)
}

/// kmirror's progress topic on the target for flows from `source_alias`
/// (MM2's own is `mm2-offsets.<source>.internal`; ours sits beside it so both
/// can run during a takeover).
pub fn progress_topic(source_alias: &str) -> String {
    format!("kmirror-offsets.{source_alias}.internal")
}

/// A flow setting kmirror cannot honour yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// A value that parsed in the file is not usable here.
    #[error("flow {flow}: {key}={value}: {why}")]
    Unsupported {
        /// `source->target`.
        flow: String,
        /// Client key (e.g. `security.protocol`).
        key: String,
        /// The value.
        value: String,
        /// Why, and what to do.
        why: String,
    },
    /// A cluster's TLS or SASL settings cannot be used.
    #[error("flow {flow}: cluster {alias}: {reason}")]
    Security {
        /// `source->target`.
        flow: String,
        /// The cluster alias.
        alias: String,
        /// Which key and what failed (from `SecurityError`; never a secret).
        reason: String,
    },
    /// A cluster alias has no bootstrap servers.
    #[error("flow {flow}: cluster {alias} has no bootstrap.servers")]
    NoBootstrap {
        /// `source->target`.
        flow: String,
        /// The alias.
        alias: String,
    },
}

fn num<T: std::str::FromStr>(
    props: &std::collections::BTreeMap<String, String>,
    key: &str,
) -> Option<T> {
    props.get(key).and_then(|v| v.trim().parse().ok())
}

fn client_config(
    flow: &str,
    alias: &str,
    props: &std::collections::BTreeMap<String, String>,
) -> Result<ClientConfig, PlanError> {
    use kmirror_protocol::client::TcpConnector;
    let mut c = ClientConfig::default();
    if let Some(id) = props.get("client.id") {
        c.conn.client_id = Some(id.clone());
    }
    if let Some(ms) = num::<u64>(props, "request.timeout.ms") {
        c.conn.request_timeout = Duration::from_millis(ms);
    }
    if let Some(ms) = num::<u64>(props, "retry.backoff.ms") {
        c.backoff.initial = Duration::from_millis(ms);
    }
    if let Some(ms) = num::<u64>(props, "retry.backoff.max.ms") {
        c.backoff.max = Duration::from_millis(ms);
    }
    // Kafka: -1 means the OS default.
    let buf = |k| {
        num::<i64>(props, k)
            .filter(|v| *v > 0)
            .map(|v| v.min(i64::from(u32::MAX)) as u32)
    };
    let tcp = TcpConnector {
        send_buffer_bytes: buf("socket.send.buffer.bytes"),
        receive_buffer_bytes: buf("socket.receive.buffer.bytes"),
        connect_timeout: num::<u64>(props, "socket.connection.setup.timeout.max.ms")
            .map(Duration::from_millis),
    };
    let security =
        kmirror_protocol::client::security::from_props(|k| props.get(k).map(String::as_str), tcp)
            .map_err(|e| PlanError::Security {
            flow: flow.to_owned(),
            alias: alias.to_owned(),
            reason: crate::engine::error_chain(&e),
        })?;
    for w in &security.warnings {
        tracing::warn!(flow, cluster = alias, "{w}");
    }
    c.connector = security.connector;
    c.conn.sasl = security.sasl;
    Ok(c)
}

impl FlowPlan {
    /// The plan for one flow of an MM2 file.
    pub fn from_config(
        cfg: &crate::config::mm2::Mm2Config,
        f: &crate::config::mm2::FlowConfig,
    ) -> Result<Self, PlanError> {
        use crate::config::mm2::{OffsetSyncsTopicLocation, PolicyKind};
        use kmirror_protocol::batch::Compression;
        use kmirror_protocol::client::api::fetch::IsolationLevel;
        let name = f.name();
        let bootstrap = |alias: &str| {
            cfg.cluster(alias)
                .map(|c| c.bootstrap_servers.clone())
                .filter(|b| !b.is_empty())
                .ok_or_else(|| PlanError::NoBootstrap {
                    flow: name.clone(),
                    alias: alias.to_owned(),
                })
        };
        let mut plan = Self::with_defaults(&f.source, "", &f.target, "");
        plan.config = Some(std::sync::Arc::new(f.clone()));
        plan.source_bootstrap = bootstrap(&f.source)?;
        plan.target_bootstrap = bootstrap(&f.target)?;
        plan.source_client = client_config(&name, &f.source, &f.source_consumer)?;
        plan.target_client = client_config(&name, &f.target, &f.target_producer)?;
        let p = &f.replication_policy;
        plan.policy = match p.class {
            PolicyKind::Identity => ReplicationPolicy::Identity {
                separator: p.separator.clone(),
                internal_separator_enabled: p.internal_topic_separator_enabled,
                source_cluster_alias: Some(f.source.clone()),
            },
            _ => ReplicationPolicy::Default {
                separator: p.separator.clone(),
                internal_separator_enabled: p.internal_topic_separator_enabled,
            },
        };
        // The config layer has already validated these patterns.
        plan.topic_filter = TopicFilter::new(&f.topics, &f.topics_exclude).unwrap_or_default();
        plan.replication_factor = f.replication_factor;
        plan.internal_replication_factor = f.offset_syncs_topic_replication_factor;
        plan.refresh_topics_interval = if f.refresh_topics_enabled {
            f.refresh_topics_interval
        } else {
            // Discovery still runs once at start.
            Duration::from_secs(365 * 24 * 3600)
        };
        let c = &f.source_consumer;
        if let Some(v) = c.get("isolation.level") {
            plan.fetch.isolation = match v.trim() {
                "read_uncommitted" => IsolationLevel::ReadUncommitted,
                _ => IsolationLevel::ReadCommitted,
            };
        }
        plan.classify.read_committed = plan.fetch.isolation == IsolationLevel::ReadCommitted;
        if let Some(v) = num::<u64>(c, "fetch.max.wait.ms") {
            plan.fetch.max_wait = Duration::from_millis(v);
        }
        if let Some(v) = num(c, "fetch.min.bytes") {
            plan.fetch.min_bytes = v;
        }
        if let Some(v) = num(c, "fetch.max.bytes") {
            plan.fetch.max_bytes = v;
        }
        if let Some(v) = num(c, "max.partition.fetch.bytes") {
            plan.fetch.partition_max_bytes = v;
            plan.fetch.partition_buffer_bytes = (4 * v.max(1)) as usize;
        }
        let pr = &f.target_producer;
        if let Some(v) = num::<usize>(pr, "buffer.memory") {
            plan.fetch.flow_buffer_bytes = v;
        }
        if let Some(v) = num::<usize>(pr, "max.in.flight.requests.per.connection") {
            plan.max_in_flight = v.clamp(1, 5);
        }
        if let Some(v) = num::<usize>(pr, "max.request.size") {
            plan.classify.max_batch_bytes = v;
        }
        if let Some(v) = num::<i32>(pr, "request.timeout.ms") {
            plan.produce_timeout_ms = v;
        }
        if let Some(v) = pr.get("compression.type") {
            let v = v.trim();
            plan.classify.target_compression = match Compression::from_name(v) {
                Some(codec) => Some(codec),
                None if v == "producer" => None,
                None => {
                    return Err(PlanError::Unsupported {
                        flow: name,
                        key: "producer.compression.type".into(),
                        value: v.to_owned(),
                        why: "expected none, gzip, snappy, lz4 or zstd".into(),
                    });
                }
            };
        }
        // A Connect worker setting, which MM2 reads per target cluster.
        if let Some(ms) = cfg
            .cluster(&f.target)
            .and_then(|c| num::<u64>(&c.props, "offset.flush.interval.ms"))
        {
            plan.progress.flush_interval = Duration::from_millis(ms.max(10));
        }
        plan.progress.emit_offset_syncs = f.emit_offset_syncs_enabled;
        plan.offset_syncs_on_source =
            f.offset_syncs_topic_location == OffsetSyncsTopicLocation::Source;
        plan.progress.offset_syncs_topic = if plan.offset_syncs_on_source {
            plan.policy.offset_syncs_topic(&f.target)
        } else {
            plan.policy.offset_syncs_topic(&f.source)
        };
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_carry_mm2_flow_settings() {
        let p = FlowPlan::with_defaults("A", "127.0.0.1:1", "B", "127.0.0.1:2");
        let c = p.config.expect("defaults parse");
        assert_eq!(c.emit_checkpoints_interval, Duration::from_secs(60));
        assert_eq!((c.source.as_str(), c.target.as_str()), ("A", "B"));
    }
}

#[cfg(test)]
mod from_config_tests {
    use super::*;

    #[test]
    fn target_cluster_offset_flush_interval_sets_progress_cadence() {
        let cfg = crate::config::mm2::parse_str(
            "clusters = A, B\nA.bootstrap.servers = h:1\nB.bootstrap.servers = h:2\nA->B.enabled = true\nB.offset.flush.interval.ms = 200\n",
            "t.properties",
        )
        .unwrap();
        let f = cfg.flow("A", "B").unwrap();
        let p = FlowPlan::from_config(&cfg, f).unwrap();
        assert_eq!(p.progress.flush_interval, Duration::from_millis(200));
    }
}
