//! Starts a flow's leaf modules (`sync/`) beside its data path and stops them
//! with it. Each leaf gets the clients and settings it needs, nothing more.

use kmirror_protocol::client::Client;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::FlowPlan;
use crate::policy::GroupFilter;
use crate::sync::heartbeats::{self, HeartbeatConfig};
use crate::sync::offsets::{CheckpointConfig, CheckpointEmitter, CheckpointNaming};

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
pub fn spawn_leaves(ctx: &LeafContext, set: &mut JoinSet<()>, cancel: &CancellationToken) {
    spawn_config_and_acl_sync(ctx, set, cancel);
    spawn_heartbeats_and_checkpoints(ctx, set, cancel);
}

/// Heartbeats and checkpoints (`sync::heartbeats`, `sync::offsets`):
/// - heartbeats (`emit.heartbeats.enabled`) into the target's `heartbeats` topic;
/// - checkpoints (`emit.checkpoints.enabled`, which MM2 refuses without offset syncs), with
///   group offset sync when `sync.group.offsets.enabled`.
fn spawn_heartbeats_and_checkpoints(
    ctx: &LeafContext,
    set: &mut JoinSet<()>,
    cancel: &CancellationToken,
) {
    let plan = &ctx.plan;
    let Some(cfg) = plan.config.as_deref() else {
        tracing::warn!(flow = %plan.name(), "no MM2 settings for this flow; heartbeats and checkpoints are off");
        return;
    };
    if cfg.emit_heartbeats_enabled {
        let config = HeartbeatConfig {
            source_alias: plan.source_alias.clone(),
            target_alias: plan.target_alias.clone(),
            topic: plan.policy.heartbeats_topic().to_owned(),
            interval: cfg.emit_heartbeats_interval,
            replication_factor: cfg.heartbeats_topic_replication_factor,
        };
        set.spawn(heartbeats::run(config, ctx.target.clone(), cancel.clone()));
    }
    if cfg.emit_checkpoints_enabled {
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
        let syncs_cluster = if plan.offset_syncs_on_source {
            ctx.source.clone()
        } else {
            ctx.target.clone()
        };
        let emitter = CheckpointEmitter::new(
            config,
            ctx.source.clone(),
            ctx.target.clone(),
            syncs_cluster,
        );
        set.spawn(emitter.run(cancel.clone()));
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
    let on_report = |metrics: std::sync::Arc<crate::metrics::Metrics>| {
        let (source, target) = (plan.source_alias.clone(), plan.target_alias.clone());
        move |r: &SyncReport| {
            metrics.sync_ran(&source, &target, r.sync, r.succeeded());
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
                    on_report(std::sync::Arc::clone(&plan.metrics)),
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
            on_report(std::sync::Arc::clone(&plan.metrics)),
        ));
    }
}
