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
    /// A client setting whose value cannot be used. `config::mm2` reports these with file, line
    /// and key; this only catches maps that did not come from a checked file.
    #[error("flow {flow}: {client} {key}: {problem}")]
    InvalidValue {
        /// `source->target`.
        flow: String,
        /// Which settings: `source consumer` or `target producer`.
        client: &'static str,
        /// The client key (e.g. `buffer.memory`).
        key: String,
        /// What is wrong with the value.
        problem: String,
    },
}

type Props = std::collections::BTreeMap<String, String>;

/// One client map of a flow, read with the types of `config::clients` (never a silent
/// default for a value that does not parse).
struct Client<'a> {
    flow: &'a str,
    client: &'static str,
    props: &'a Props,
}

impl Client<'_> {
    fn invalid(&self, key: &str, problem: String) -> PlanError {
        PlanError::InvalidValue {
            flow: self.flow.to_owned(),
            client: self.client,
            key: key.to_owned(),
            problem,
        }
    }

    fn num<T: TryFrom<i64>>(&self, key: &str) -> Result<Option<T>, PlanError> {
        let Some(v) = self.props.get(key) else {
            return Ok(None);
        };
        let n =
            crate::config::clients::number(key, v).map_err(|e| self.invalid(key, e.to_string()))?;
        T::try_from(n)
            .map(Some)
            .map_err(|_| self.invalid(key, format!("{n} is out of range")))
    }

    fn millis(&self, key: &str) -> Result<Option<Duration>, PlanError> {
        Ok(self.num::<u64>(key)?.map(Duration::from_millis))
    }

    /// A socket buffer size: Java's name, else librdkafka's; `-1` keeps the OS default.
    fn socket_buffer(&self, java: &str, librdkafka: &str) -> Result<Option<u32>, PlanError> {
        let key = if self.props.contains_key(java) {
            java
        } else {
            librdkafka
        };
        Ok(self.num::<i64>(key)?.and_then(|n| u32::try_from(n).ok()))
    }
}

fn client_config(flow: &str, alias: &str, side: &Client<'_>) -> Result<ClientConfig, PlanError> {
    use kmirror_protocol::client::TcpConnector;
    let props = side.props;
    let mut c = ClientConfig::default();
    if let Some(id) = props.get("client.id") {
        c.conn.client_id = Some(id.clone());
    }
    if let Some(t) = side.millis("request.timeout.ms")? {
        c.conn.request_timeout = t;
    }
    if let Some(t) = side.millis("retry.backoff.ms")? {
        c.backoff.initial = t;
    }
    if let Some(t) = side.millis("retry.backoff.max.ms")? {
        c.backoff.max = t;
    }
    let tcp = TcpConnector {
        send_buffer_bytes: side.socket_buffer("send.buffer.bytes", "socket.send.buffer.bytes")?,
        receive_buffer_bytes: side
            .socket_buffer("receive.buffer.bytes", "socket.receive.buffer.bytes")?,
        connect_timeout: side.millis("socket.connection.setup.timeout.max.ms")?,
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
        let c = Client {
            flow: &name,
            client: "source consumer",
            props: &f.source_consumer,
        };
        let pr = Client {
            flow: &name,
            client: "target producer",
            props: &f.target_producer,
        };
        plan.source_client = client_config(&name, &f.source, &c)?;
        plan.target_client = client_config(&name, &f.target, &pr)?;
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
        // kmirror's default is read_committed (README, "Differences from MM2").
        if let Some(v) = c.props.get("isolation.level") {
            plan.fetch.isolation = match v.trim() {
                "read_uncommitted" => IsolationLevel::ReadUncommitted,
                "read_committed" => IsolationLevel::ReadCommitted,
                other => {
                    return Err(c.invalid(
                        "isolation.level",
                        format!(
                            "invalid value \"{other}\": expected read_committed or read_uncommitted"
                        ),
                    ));
                }
            };
        }
        plan.classify.read_committed = plan.fetch.isolation == IsolationLevel::ReadCommitted;
        if let Some(t) = c.millis("fetch.max.wait.ms")? {
            plan.fetch.max_wait = t;
        }
        if let Some(v) = c.num("fetch.min.bytes")? {
            plan.fetch.min_bytes = v;
        }
        if let Some(v) = c.num("fetch.max.bytes")? {
            plan.fetch.max_bytes = v;
        }
        if let Some(v) = c.num::<i32>("max.partition.fetch.bytes")? {
            plan.fetch.partition_max_bytes = v;
            plan.fetch.partition_buffer_bytes = 4 * usize::try_from(v.max(1)).unwrap_or(1);
        }
        if let Some(v) = pr.num::<usize>("buffer.memory")? {
            plan.fetch.flow_buffer_bytes = v;
        }
        // The config layer warns above 5: the producer is idempotent.
        if let Some(v) = pr.num::<usize>("max.in.flight.requests.per.connection")? {
            plan.max_in_flight = v.clamp(1, 5);
        }
        if let Some(v) = pr.num::<usize>("max.request.size")? {
            plan.classify.max_batch_bytes = v;
        }
        if let Some(v) = pr.num::<i32>("request.timeout.ms")? {
            plan.produce_timeout_ms = v;
        }
        if let Some(v) = pr.props.get("compression.type") {
            let v = v.trim();
            plan.classify.target_compression = match Compression::from_name(v) {
                Some(codec) => Some(codec),
                None if v == "producer" => None,
                None => {
                    return Err(pr.invalid(
                        "compression.type",
                        format!(
                            "invalid value \"{v}\": expected none, gzip, snappy, lz4, zstd or producer"
                        ),
                    ));
                }
            };
        }
        // A Connect worker setting, which MM2 reads per target cluster: how often progress is
        // saved (typed in `config::lint`; at least 1 ms there, raised to 10 ms here).
        if let Some(v) = cfg
            .cluster(&f.target)
            .and_then(|c| c.props.get("offset.flush.interval.ms"))
        {
            let ms = crate::config::mm2::parse_number(v, "a whole number")
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| PlanError::InvalidValue {
                    flow: name.clone(),
                    client: "target cluster",
                    key: "offset.flush.interval.ms".to_owned(),
                    problem: format!("invalid value \"{v}\": expected at least 1 (milliseconds)"),
                })?;
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

    const BASE: &str = "clusters = A, B\nA.bootstrap.servers = h:1\nB.bootstrap.servers = h:2\nA->B.enabled = true\n";

    fn plan(extra: &str) -> Result<FlowPlan, PlanError> {
        let cfg = crate::config::mm2::parse_str(&format!("{BASE}{extra}"), "t.properties")
            .expect("valid");
        let f = cfg.flow("A", "B").expect("flow");
        FlowPlan::from_config(&cfg, f)
    }

    #[test]
    fn client_settings_kmirror_reads_reach_the_plan() {
        use kmirror_protocol::client::api::fetch::IsolationLevel;
        let p = plan(
            "A.consumer.isolation.level = read_uncommitted\n\
             A.consumer.fetch.max.wait.ms = 100\n\
             A.consumer.fetch.min.bytes = 1024\n\
             A.consumer.fetch.max.bytes = 2097152\n\
             A.consumer.max.partition.fetch.bytes = 65536\n\
             A.consumer.request.timeout.ms = 12000\n\
             B.producer.buffer.memory = 1048576\n\
             B.producer.max.in.flight.requests.per.connection = 10\n\
             B.producer.max.request.size = 524288\n\
             B.producer.request.timeout.ms = 7000\n\
             A->B.producer.override.compression.type = zstd\n",
        )
        .expect("plan");
        assert_eq!(p.fetch.isolation, IsolationLevel::ReadUncommitted);
        assert!(!p.classify.read_committed);
        assert_eq!(p.fetch.max_wait, Duration::from_millis(100));
        assert_eq!(p.fetch.min_bytes, 1024);
        assert_eq!(p.fetch.max_bytes, 2_097_152);
        assert_eq!(p.fetch.partition_max_bytes, 65_536);
        assert_eq!(p.fetch.partition_buffer_bytes, 4 * 65_536);
        assert_eq!(
            p.source_client.conn.request_timeout,
            Duration::from_secs(12)
        );
        assert_eq!(p.fetch.flow_buffer_bytes, 1_048_576);
        assert_eq!(p.max_in_flight, 5);
        assert_eq!(p.classify.max_batch_bytes, 524_288);
        assert_eq!(p.produce_timeout_ms, 7000);
        assert_eq!(p.target_client.conn.request_timeout, Duration::from_secs(7));
        assert_eq!(
            p.classify.target_compression,
            Some(kmirror_protocol::batch::Compression::Zstd)
        );
    }

    #[test]
    fn kmirror_reads_isolation_level_read_committed_by_default() {
        let p = plan("").expect("plan");
        assert!(p.classify.read_committed);
        let p = plan("A.consumer.isolation.level = read_committed\n").expect("plan");
        assert!(p.classify.read_committed);
    }

    #[test]
    fn socket_buffers_read_javas_name_first_then_librdkafkas() {
        let p = plan(
            "A.consumer.send.buffer.bytes = 262144\nA.consumer.socket.send.buffer.bytes = 131072\n\
             A.consumer.socket.receive.buffer.bytes = 524288\nB.producer.send.buffer.bytes = -1\n",
        )
        .expect("plan");
        let text = format!("{:?}", p.source_client.connector);
        assert!(text.contains("send_buffer_bytes: Some(262144)"), "{text}");
        assert!(
            text.contains("receive_buffer_bytes: Some(524288)"),
            "{text}"
        );
        let text = format!("{:?}", p.target_client.connector);
        assert!(text.contains("send_buffer_bytes: None"), "{text}");
    }

    /// A map that did not come from a checked file (e.g. edited in code): a bad value is an
    /// error naming the setting, never a silent default.
    #[test]
    fn an_unparsable_client_value_is_an_error_not_a_default() {
        let cfg = crate::config::mm2::parse_str(BASE, "t.properties").expect("valid");
        let mut f = cfg.flow("A", "B").expect("flow").clone();
        f.target_producer
            .insert("buffer.memory".into(), "32MB".into());
        let e = FlowPlan::from_config(&cfg, &f).expect_err("32MB");
        assert_eq!(
            e.to_string(),
            "flow A->B: target producer buffer.memory: invalid number \"32MB\": expected a whole number, without a unit"
        );
        let mut f = cfg.flow("A", "B").expect("flow").clone();
        f.source_consumer
            .insert("isolation.level".into(), "READ_UNCOMMITTED".into());
        let e = FlowPlan::from_config(&cfg, &f).expect_err("case");
        assert!(e.to_string().contains("isolation.level"), "{e}");
    }
}
