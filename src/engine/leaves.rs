//! Starts a flow's leaf modules (`sync/`) beside its data path and stops them
//! with it. Each leaf gets the clients and settings it needs, nothing more.

use kmirror_protocol::client::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::FlowPlan;
use crate::policy::GroupFilter;
use crate::sync::heartbeats::{self, HeartbeatConfig};
use crate::sync::offsets::{
    CHECKPOINTS_SYNC, CheckpointConfig, CheckpointEmitter, CheckpointKey, CheckpointNaming,
    GROUP_OFFSETS_SYNC,
};

/// What a leaf may use.
#[derive(Debug, Clone)]
pub struct LeafContext {
    /// The flow's plan (settings, policy, `config` with every MM2 key).
    pub plan: FlowPlan,
    /// Source cluster client.
    pub source: Client,
    /// Target cluster client.
    pub target: Client,
}

/// Spawns every enabled leaf of the flow into `set`; each stops on `cancel`.
///
/// Every leaf reports each round to the metrics (`kmirror_sync_last_success_timestamp_seconds`,
/// `kmirror_sync_errors_total`, label `sync`): `topic-configs`, `acls`, `heartbeats`,
/// `checkpoints` and, with `sync.group.offsets.enabled`, `group-offsets`. Their series exist
/// from the spawn (0: never succeeded) until the leaf stops ([`crate::metrics::SyncHandle`]).
pub fn spawn_leaves(
    ctx: &LeafContext,
    set: &mut JoinSet<()>,
    cancel: &CancellationToken,
    work: LeafWork,
) {
    if work.once_per_flow {
        spawn_config_and_acl_sync(ctx, set, cancel);
    }
    spawn_heartbeats_and_checkpoints(ctx, set, cancel, work);
}

/// Which leaves a process runs. Without scale-out, all of them; with it, the
/// group leader runs the once-per-flow work and the member the leader gave
/// the checkpoint work item ([`CHECKPOINT_WORK`]) runs checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafWork {
    /// Config and ACL sync, heartbeats.
    pub once_per_flow: bool,
    /// Checkpoints and group offset sync.
    pub checkpoints: bool,
}

impl LeafWork {
    /// Everything (a flow without scale-out).
    pub const ALL: Self = Self {
        once_per_flow: true,
        checkpoints: true,
    };
}

/// The checkpoint work of a flow as an item the group leader assigns like a
/// source partition (`<` and `>` never occur in a Kafka topic name).
pub const CHECKPOINT_WORK: (&str, i32) = ("<checkpoints>", 0);

/// Heartbeats and checkpoints (`sync::heartbeats`, `sync::offsets`):
/// - heartbeats (`emit.heartbeats.enabled`) into the target's `heartbeats` topic;
/// - checkpoints (`emit.checkpoints.enabled`, which MM2 refuses without offset syncs), with
///   group offset sync when `sync.group.offsets.enabled`.
///
/// Both open their own connections, as MM2's per-role clients do: a request on the data
/// path's connection to a broker waits behind its long-polling fetches (up to
/// `fetch.max.wait.ms` each), which measured as ~300 ms per checkpoint round on tansu.
fn spawn_heartbeats_and_checkpoints(
    ctx: &LeafContext,
    set: &mut JoinSet<()>,
    cancel: &CancellationToken,
    work: LeafWork,
) {
    let plan = &ctx.plan;
    let Some(cfg) = plan.config.as_deref() else {
        tracing::warn!(flow = %plan.name(), "no MM2 settings for this flow; heartbeats and checkpoints are off");
        return;
    };
    let connect = |source_side: bool| {
        let (bootstrap, config, alias) = if source_side {
            (
                &plan.source_bootstrap,
                &plan.source_client,
                &plan.source_alias,
            )
        } else {
            (
                &plan.target_bootstrap,
                &plan.target_client,
                &plan.target_alias,
            )
        };
        let (bootstrap, config, alias) = (bootstrap.clone(), config.clone(), alias.clone());
        let cancel = cancel.clone();
        async move { super::connect_with_retry(&bootstrap, config, &alias, &cancel).await }
    };
    let sync_handle = |sync: &str| {
        plan.metrics
            .sync_started(&plan.source_alias, &plan.target_alias, sync)
    };
    if work.once_per_flow && cfg.emit_heartbeats_enabled {
        let config = HeartbeatConfig {
            source_alias: plan.source_alias.clone(),
            target_alias: plan.target_alias.clone(),
            topic: plan.policy.heartbeats_topic().to_owned(),
            interval: cfg.emit_heartbeats_interval,
            replication_factor: cfg.heartbeats_topic_replication_factor,
        };
        let target = connect(false);
        let cancel = cancel.clone();
        let handle = sync_handle("heartbeats");
        set.spawn(async move {
            if let Some(target) = target.await {
                heartbeats::run_observed(config, target, cancel, |r| handle.ran(r.is_ok())).await;
            }
        });
    }
    if work.checkpoints && cfg.emit_checkpoints_enabled {
        if !plan.progress.emit_offset_syncs {
            // MM2 (3.9+) refuses to start the checkpoint connector in this case.
            tracing::warn!(flow = %plan.name(), "emit.checkpoints.enabled needs emit.offset-syncs.enabled; no checkpoints");
            return;
        }
        // The config layer has already validated these patterns.
        let group_filter = GroupFilter::new(&cfg.groups, &cfg.groups_exclude).unwrap_or_default();
        let config = CheckpointConfig {
            naming: CheckpointNaming {
                source_alias: plan.source_alias.clone(),
                target_alias: plan.target_alias.clone(),
                policy: plan.policy.clone(),
                topic_filter: plan.topic_filter.clone(),
            },
            group_filter,
            offset_syncs_topic: plan.progress.offset_syncs_topic.clone(),
            offset_syncs_on_source: plan.offset_syncs_on_source,
            checkpoints_topic: plan.policy.checkpoints_topic(&plan.source_alias),
            checkpoints_topic_replication_factor: cfg.checkpoints_topic_replication_factor,
            emit_checkpoints_interval: cfg.emit_checkpoints_interval,
            refresh_groups_interval: cfg
                .refresh_groups_enabled
                .then_some(cfg.refresh_groups_interval),
            sync_group_offsets_interval: cfg
                .sync_group_offsets_enabled
                .then_some(cfg.sync_group_offsets_interval),
        };
        let metrics = std::sync::Arc::clone(&plan.metrics);
        let (source_alias, target_alias) = (plan.source_alias.clone(), plan.target_alias.clone());
        let on_acked =
            std::sync::Arc::new(move |key: &CheckpointKey, timestamp_ms, _acked_at_ms| {
                let labels = crate::metrics::CheckpointLabels {
                    source: source_alias.clone(),
                    target: target_alias.clone(),
                    group: key.group.clone(),
                    topic: key.topic.clone(),
                    partition: key.partition,
                };
                metrics.checkpoint_acked(&labels, timestamp_ms);
            });
        let checkpoints = sync_handle(CHECKPOINTS_SYNC);
        let group_offsets = cfg
            .sync_group_offsets_enabled
            .then(|| sync_handle(GROUP_OFFSETS_SYNC));
        let on_round =
            std::sync::Arc::new(
                move |sync: &'static str, ok: bool| match (sync, &group_offsets) {
                    (GROUP_OFFSETS_SYNC, Some(h)) => h.ran(ok),
                    (GROUP_OFFSETS_SYNC, None) => {}
                    _ => checkpoints.ran(ok),
                },
            );
        let offset_syncs_on_source = plan.offset_syncs_on_source;
        let (source, target) = (connect(true), connect(false));
        let cancel = cancel.clone();
        set.spawn(async move {
            let (Some(source), Some(target)) = (source.await, target.await) else {
                return;
            };
            let syncs_cluster = if offset_syncs_on_source {
                source.clone()
            } else {
                target.clone()
            };
            CheckpointEmitter::new(config, source, target, syncs_cluster)
                .on_acked(on_acked)
                .on_round(on_round)
                .run(cancel)
                .await;
        });
    }
}

/// Topic-config sync and ACL sync (`sync::topics`, `sync::acls`): each at
/// start, then every `sync.topic.configs.interval.seconds` /
/// `sync.topic.acls.interval.seconds`, while enabled. Each pass's report goes
/// to the metrics (last success, errors) and, when it did something, the log.
fn spawn_config_and_acl_sync(ctx: &LeafContext, set: &mut JoinSet<()>, cancel: &CancellationToken) {
    use crate::sync::{acls, report::SyncReport, topics};
    let plan = &ctx.plan;
    let Some(cfg) = plan.config.as_deref() else {
        return;
    };
    let flow_topics = topics::FlowTopics {
        source_alias: plan.source_alias.clone(),
        target_alias: plan.target_alias.clone(),
        policy: plan.policy.clone(),
        filter: plan.topic_filter.clone(),
        heartbeats_replication_enabled: cfg.heartbeats_replication_enabled,
    };
    // The handle declares the sync's series now and removes them with the task.
    let on_report = |sync: &str| {
        let handle = plan
            .metrics
            .sync_started(&plan.source_alias, &plan.target_alias, sync);
        move |r: &SyncReport| {
            handle.ran(r.succeeded());
            if r.applied.is_empty() && r.rejected.is_empty() {
                tracing::debug!(flow = %r.flow, sync = r.sync, "sync pass: nothing to change");
            } else {
                tracing::info!(flow = %r.flow, sync = r.sync, applied = r.applied.len(), rejected = r.rejected.len(), "sync pass");
            }
        }
    };
    if cfg.sync_topic_configs_enabled {
        match topics::ConfigSyncSettings::from_flow(cfg) {
            Ok(settings) => {
                let sync = topics::TopicConfigSync::new(
                    flow_topics.clone(),
                    settings,
                    ctx.source.clone(),
                    ctx.target.clone(),
                );
                set.spawn(sync.run(
                    cfg.sync_topic_configs_interval,
                    cancel.clone(),
                    on_report("topic-configs"),
                ));
            }
            Err(e) => {
                tracing::error!(flow = %plan.name(), error = %e, "topic-config sync not started")
            }
        }
    }
    if cfg.sync_topic_acls_enabled {
        let sync = acls::AclSync::new(flow_topics, ctx.source.clone(), ctx.target.clone());
        set.spawn(sync.run(
            cfg.sync_topic_acls_interval,
            cancel.clone(),
            on_report("acls"),
        ));
    }
}
